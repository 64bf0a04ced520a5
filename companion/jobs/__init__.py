"""Background jobs: heartbeat watch, hourly reconciliation, start-up recovery, API jobs.

Every run is written to `sync_log` (bounded by schema.SYNC_LOG_RETENTION). Scheduled
jobs hold a lease (`leases`), so several replicas never run the same job at once.
All writes are idempotent (QuestDB DEDUP keys).
"""

from __future__ import annotations

from datetime import datetime
import os
import socket
from typing import TYPE_CHECKING
import uuid

from .api_jobs import ApiJobs
from .backfill import Backfills
from .leases import Leases
from .recovery import GAPS, Recovery
from .results import JobResult
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

    def start_scheduler(self) -> None:
        """Run start-up recovery, then the heartbeat watch and reconciliation forever."""
        self.scheduler.start()

    async def close(self) -> None:
        """Stop the scheduler and cancel running jobs."""
        await self.scheduler.close()
        await self.api_jobs.cancel()
