"""Background jobs: heartbeat watch, hourly reconciliation, start-up recovery, API jobs.

Every run is written to `sync_log` (bounded by schema.SYNC_LOG_RETENTION). Scheduled
jobs hold a lease (`leases`), so several replicas never run the same job at once.
All writes are idempotent (QuestDB DEDUP keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
import os
import socket
from typing import TYPE_CHECKING, Any
import uuid

from .api_jobs import ApiJobs
from .backfill import Backfills
from .leases import Leases
from .recovery import GAPS, Recovery
from .results import JobResult, JobRunner
from .run_log import RunLog
from .schedule import Scheduler

if TYPE_CHECKING:
    from companion.hub import Hub

__all__ = ["GAPS", "JobResult", "Jobs"]


class Jobs:
    """Runs and records every job of the companion."""

    def __init__(self, hub: Hub, owner: str | None = None) -> None:
        """Jobs of one companion process (`owner` names it in leases and logs)."""
        self.hub = hub
        self.owner = (
            owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        database = hub.mongo.db
        self.leases = Leases(database, self.owner)
        self.runs = RunLog(database, self.owner)
        self.api_jobs = ApiJobs(database, self.owner)
        self.backfills = Backfills(hub, self.runs, self.api_jobs.report_progress)
        self.recovery = Recovery(hub, self.leases, self.runs, self.backfills)
        self.scheduler = Scheduler(
            hub.config, self.leases, self.backfills, self.recovery
        )

    @property
    def next_reconciliation(self) -> datetime | None:
        """When the scheduler runs reconciliation next (None: not scheduled)."""
        return self.scheduler.next_reconciliation

    # -- sync_log ------------------------------------------------------------------

    async def log_run(
        self,
        kind: str,
        started_at: datetime,
        *,
        window: tuple[datetime, datetime] | None = None,
        entities: Sequence[str] = (),
        rows: int = 0,
        outcome: str = "ok",
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Write one sync_log document and prune the oldest beyond the retention."""
        await self.runs.log(
            kind,
            started_at,
            window=window,
            entities=entities,
            rows=rows,
            outcome=outcome,
            error=error,
            details=details,
        )

    async def recent_runs(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` sync_log documents, newest first."""
        return await self.runs.recent(limit)

    async def last_run(self, kind: str) -> dict[str, Any] | None:
        """The newest sync_log document of a kind."""
        return await self.runs.last(kind)

    # -- the work ------------------------------------------------------------------

    async def backfill(
        self,
        entity_ids: list[str] | None,
        start: datetime,
        end: datetime,
        *,
        kind: str = "backfill",
        statistics: bool = True,
    ) -> JobResult:
        """Raw readings (and hourly statistics) of [start, end) from HA into QuestDB."""
        return await self.backfills.backfill(
            entity_ids, start, end, kind=kind, statistics=statistics
        )

    async def statistics_sync(
        self,
        entity_ids: list[str] | None,
        start: datetime,
        end: datetime,
        *,
        period: str = "hour",
        kind: str = "statistics_sync",
    ) -> JobResult:
        """HA's statistics of [start, end) into energy_statistics."""
        return await self.backfills.statistics_sync(
            entity_ids, start, end, period=period, kind=kind
        )

    async def heartbeat_check(self) -> JobResult:
        """Detect stale forwarder heartbeats; fill each gap once capture resumes."""
        return await self.recovery.heartbeat_check()

    async def startup_recovery(self) -> JobResult:
        """Back-fill from the last event time in MongoDB (7 days when none) to now."""
        return await self.recovery.startup_recovery()

    async def reconcile(self) -> JobResult:
        """HA's hourly statistics of the last hours into energy_statistics."""
        return await self.scheduler.reconcile()

    # -- API jobs ------------------------------------------------------------------

    async def submit(self, kind: str, params: dict[str, Any], runner: JobRunner) -> str:
        """Record a job, run it in the background and return its id at once."""
        return await self.api_jobs.submit(kind, params, runner)

    async def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job document, or None."""
        return await self.api_jobs.get(job_id)

    async def wait_idle(self) -> None:
        """Wait for every running API job (tests, shutdown)."""
        await self.api_jobs.wait_idle()

    # -- lifecycle -----------------------------------------------------------------

    def start_scheduler(self) -> None:
        """Run start-up recovery, then the heartbeat watch and reconciliation forever."""
        self.scheduler.start()

    async def close(self) -> None:
        """Stop the scheduler and cancel running jobs."""
        await self.scheduler.close()
        await self.api_jobs.cancel()
