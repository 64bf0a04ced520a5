"""Background jobs: heartbeat watch, hourly reconciliation, start-up recovery, API jobs.

Every run is written to `sync_log` (bounded by schema.SYNC_LOG_RETENTION). Scheduled
jobs hold a lease document in `leases` (an atomic find_one_and_update with an expiry
time, since FerretDB has neither TTL indexes nor transactions), so several replicas
never run the same job at once. All writes are idempotent (QuestDB DEDUP keys).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
import logging
import os
import socket
import time
from typing import Any
import uuid

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from .ha_client import HAError
from .hub import Hub
from .questdb import QuestDBError
from .core import schema
from .sync import backfill_readings, sync_statistics
from .timestamps import aware_utc, iso_utc_offset

_LOGGER = logging.getLogger(__name__)

GAPS = "gaps"
"""Open capture gaps (companion-owned): `_id` = forwarder instance, `start`."""

GAP_MARGIN = timedelta(minutes=1)
JOB_ERRORS = (HAError, QuestDBError, PyMongoError, OSError, ValueError)

type JobResult = dict[str, Any]
type JobRunner = Callable[[], Awaitable[JobResult]]

# The API job the current task runs (progress goes to its document).
_CURRENT_JOB: ContextVar[str | None] = ContextVar("energy_tracker_job", default=None)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Leases:
    """Named leases in MongoDB: at most one owner at a time, until expiry."""

    def __init__(self, hub: Hub, owner: str) -> None:
        """Leases taken by `owner` (one per companion process)."""
        self._collection = hub.mongo.db[schema.LEASES]
        self.owner = owner

    async def acquire(self, name: str, ttl: float) -> bool:
        """Take or renew the lease; False when another owner holds an unexpired one."""
        now = utcnow()
        try:
            document = await self._collection.find_one_and_update(
                {
                    "_id": name,
                    "$or": [{"expires_at": {"$lte": now}}, {"owner": self.owner}],
                },
                {
                    "$set": {
                        "owner": self.owner,
                        "expires_at": now + timedelta(seconds=ttl),
                        "renewed_at": now,
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # the document exists and another owner holds it
        return document is not None and document.get("owner") == self.owner

    async def release(self, name: str) -> None:
        """Give the lease up (only if still ours)."""
        await self._collection.delete_one({"_id": name, "owner": self.owner})

    @contextlib.asynccontextmanager
    async def held(self, name: str, ttl: float = 600.0) -> AsyncIterator[bool]:
        """Hold the lease while the block runs, renewing it; yields whether it was taken."""
        if not await self.acquire(name, ttl):
            yield False
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(ttl / 3)
                with contextlib.suppress(PyMongoError):
                    await self.acquire(name, ttl)

        renewer = asyncio.create_task(renew(), name=f"lease-{name}")
        try:
            yield True
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            with contextlib.suppress(PyMongoError):
                await self.release(name)


class Jobs:
    """Runs and records every job of the companion."""

    def __init__(self, hub: Hub, owner: str | None = None) -> None:
        """Jobs of one companion process."""
        self.hub = hub
        self.config = hub.config
        self.owner = (
            owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        self.leases = Leases(hub, self.owner)
        self.next_reconciliation: datetime | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scheduler: asyncio.Task[None] | None = None

    @property
    def _db(self) -> Any:
        return self.hub.mongo.db

    # -- bookkeeping -------------------------------------------------------------

    async def tracked_entities(self) -> list[str]:
        """Ids of the tracked entities."""
        async with self._db[schema.ENTITIES].find(
            {"is_tracked": True}, {"_id": 1}
        ) as cursor:
            return sorted([str(doc["_id"]) async for doc in cursor])

    async def log_run(
        self,
        kind: str,
        started_at: datetime,
        *,
        window: tuple[datetime, datetime] | None = None,
        entities: list[str] | None = None,
        rows: int = 0,
        outcome: str = "ok",
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Write one sync_log document and prune the oldest beyond the retention."""
        collection = self._db[schema.SYNC_LOG]
        await collection.insert_one(
            {
                "kind": kind,
                "started_at": started_at,
                "finished_at": utcnow(),
                "window_start": window[0] if window else None,
                "window_end": window[1] if window else None,
                "entity_count": len(entities or []),
                "entities": (entities or [])[:50],
                "rows": rows,
                "outcome": outcome,
                "error": error,
                "owner": self.owner,
                **(details or {}),
            }
        )
        if await collection.count_documents({}) > schema.SYNC_LOG_RETENTION:
            oldest_kept = await collection.find_one(
                {}, sort=[("started_at", -1)], skip=schema.SYNC_LOG_RETENTION - 1
            )
            if oldest_kept is not None:
                await collection.delete_many(
                    {"started_at": {"$lt": oldest_kept["started_at"]}}
                )

    async def recent_runs(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` sync_log documents, newest first."""
        async with self._db[schema.SYNC_LOG].find(
            {}, sort=[("started_at", -1)], limit=limit
        ) as cursor:
            return [document async for document in cursor]

    async def last_run(self, kind: str) -> dict[str, Any] | None:
        """The newest sync_log document of a kind."""
        document: dict[str, Any] | None = await self._db[schema.SYNC_LOG].find_one(
            {"kind": kind}, sort=[("started_at", -1)]
        )
        return document

    async def _logged(
        self,
        kind: str,
        window: tuple[datetime, datetime],
        entities: list[str],
        work: Callable[[], Awaitable[int]],
    ) -> JobResult:
        started = utcnow()
        try:
            rows = await work()
        except JOB_ERRORS as err:
            await self.log_run(
                kind,
                started,
                window=window,
                entities=entities,
                outcome="failed",
                error=str(err),
            )
            raise
        await self.log_run(kind, started, window=window, entities=entities, rows=rows)
        return {
            "kind": kind,
            "rows": rows,
            "entities": len(entities),
            "window_start": window[0].isoformat(),
            "window_end": window[1].isoformat(),
        }

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
        ha = self.hub.ha.require()
        entities = (
            entity_ids if entity_ids is not None else await self.tracked_entities()
        )

        async def work() -> int:
            rows = await backfill_readings(
                ha, self.hub.store, entities, start, end, progress=self.report_progress
            )
            if statistics:
                rows += await sync_statistics(
                    ha,
                    self.hub.store,
                    entities,
                    start,
                    end,
                    progress=self.report_progress,
                )
            return rows

        return await self._logged(kind, (start, end), entities, work)

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
        ha = self.hub.ha.require()
        entities = (
            entity_ids if entity_ids is not None else await self.tracked_entities()
        )

        async def work() -> int:
            return await sync_statistics(
                ha,
                self.hub.store,
                entities,
                start,
                end,
                period=period,
                progress=self.report_progress,
            )

        return await self._logged(kind, (start, end), entities, work)

    async def heartbeat_check(self) -> JobResult:
        """Detect stale forwarder heartbeats; fill each gap once capture resumes."""
        async with self.leases.held("heartbeat_watch") as taken:
            if not taken:
                return {"skipped": "lease held by another replica"}
            now = utcnow()
            stale_after = timedelta(seconds=self.config.heartbeat_stale_after)
            client = self.hub.ha.client
            ha_up = client is not None and await client.ping()
            report: list[dict[str, Any]] = []
            # Read whole and closed first: the loop below awaits other operations
            # (and may be cancelled), which must not keep a cursor open meanwhile.
            async with self._db[schema.FORWARDER_STATE].find({}) as cursor:
                states = await cursor.to_list()
            for state in states:
                instance = str(state["_id"])
                heartbeat = aware_utc(state.get("heartbeat_at"))
                stale = heartbeat is None or now - heartbeat > stale_after
                gap = await self._db[GAPS].find_one({"_id": instance})
                if stale and ha_up:
                    if gap is None:
                        start = (
                            aware_utc(state.get("last_event_at"))
                            or heartbeat
                            or now - timedelta(days=self.config.recovery_days)
                        )
                        await self._db[GAPS].update_one(
                            {"_id": instance},
                            {"$setOnInsert": {"start": start, "detected_at": now}},
                            upsert=True,
                        )
                        _LOGGER.warning(
                            "forwarder %s heartbeat is stale since %s",
                            instance,
                            heartbeat,
                        )
                        gap = {"start": start}
                    gap_start = gap["start"]
                    report.append(
                        {
                            "instance": instance,
                            "status": "stale",
                            "gap_start": iso_utc_offset(aware_utc(gap_start))
                            if isinstance(gap_start, datetime)
                            else None,
                        }
                    )
                elif not stale and gap is not None and ha_up:
                    start = (aware_utc(gap["start"]) or now) - GAP_MARGIN
                    result = await self.backfill(None, start, now, kind="gap_backfill")
                    await self._db[GAPS].delete_one({"_id": instance})
                    report.append(
                        {"instance": instance, "status": "gap_filled", **result}
                    )
                else:
                    report.append(
                        {
                            "instance": instance,
                            "status": "stale" if stale else "ok",
                            "ha": ha_up,
                        }
                    )
            await self.log_run(
                "heartbeat_check", now, outcome="ok", details={"forwarders": report}
            )
            return {"forwarders": report, "ha_connected": ha_up}

    async def reconcile(self) -> JobResult:
        """HA's hourly statistics of the last hours into energy_statistics."""
        async with self.leases.held("reconciliation") as taken:
            if not taken:
                return {"skipped": "lease held by another replica"}
            end = utcnow()
            start = end.replace(minute=0, second=0, microsecond=0) - timedelta(
                hours=self.config.reconcile_hours
            )
            return await self.statistics_sync(None, start, end, kind="reconciliation")

    async def startup_recovery(self) -> JobResult:
        """Back-fill from the last event time in MongoDB (7 days when none) to now."""
        async with self.leases.held("startup_recovery") as taken:
            if not taken:
                return {"skipped": "lease held by another replica"}
            now = utcnow()
            async with self._db[schema.FORWARDER_STATE].find(
                {}, {"last_event_at": 1}
            ) as cursor:
                last_events = [
                    moment
                    async for doc in cursor
                    if (moment := aware_utc(doc.get("last_event_at"))) is not None
                ]
            start = (
                min(last_events) - GAP_MARGIN
                if last_events
                else now - timedelta(days=self.config.recovery_days)
            )
            start = max(start, now - timedelta(days=self.config.recovery_days))
            return await self.backfill(None, start, now, kind="startup_recovery")

    # -- API jobs ------------------------------------------------------------------

    async def submit(self, kind: str, params: dict[str, Any], runner: JobRunner) -> str:
        """Record a job, run it in the background and return its id at once."""
        job_id = uuid.uuid4().hex
        await self._db[schema.JOBS].insert_one(
            {
                "_id": job_id,
                "kind": kind,
                "params": params,
                "status": "queued",
                "created_at": utcnow(),
                "owner": self.owner,
            }
        )
        task = asyncio.create_task(self._run_job(job_id, runner), name=f"job-{kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_id

    async def report_progress(
        self, phase: str, done: int, total: int, rows: int
    ) -> None:
        """Record the running API job's progress in its document (no-op elsewhere)."""
        job_id = _CURRENT_JOB.get()
        if job_id is None:
            return
        with contextlib.suppress(PyMongoError):
            await self._db[schema.JOBS].update_one(
                {"_id": job_id},
                {
                    "$set": {
                        "progress": {
                            "phase": phase,
                            "done": done,
                            "total": total,
                            "rows": rows,
                        }
                    }
                },
            )

    async def _run_job(self, job_id: str, runner: JobRunner) -> None:
        _CURRENT_JOB.set(job_id)  # the task's own context
        jobs = self._db[schema.JOBS]
        await jobs.update_one(
            {"_id": job_id}, {"$set": {"status": "running", "started_at": utcnow()}}
        )
        try:
            result = await runner()
        except JOB_ERRORS as err:
            _LOGGER.warning("job %s failed: %s", job_id, err)
            update: dict[str, Any] = {"status": "failed", "error": str(err)}
        except Exception as err:
            _LOGGER.exception("job %s crashed", job_id)
            update = {
                "status": "failed",
                "error": f"internal error: {type(err).__name__}",
            }
        else:
            update = {"status": "succeeded", "result": result}
        with contextlib.suppress(PyMongoError):
            await jobs.update_one(
                {"_id": job_id}, {"$set": {**update, "finished_at": utcnow()}}
            )

    async def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job document, or None."""
        document: dict[str, Any] | None = await self._db[schema.JOBS].find_one(
            {"_id": job_id}
        )
        return document

    async def wait_idle(self) -> None:
        """Wait for every running API job (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- scheduler -------------------------------------------------------------------

    def start_scheduler(self) -> None:
        """Run start-up recovery, then the heartbeat watch and reconciliation forever."""
        if self._scheduler is None:
            self._scheduler = asyncio.create_task(
                self._schedule(), name="companion-scheduler"
            )

    async def _guarded(
        self, name: str, job: Callable[[], Awaitable[JobResult]]
    ) -> None:
        try:
            await job()
        except JOB_ERRORS as err:
            _LOGGER.warning("%s failed: %s", name, err)
        except Exception:
            _LOGGER.exception("%s crashed", name)

    async def _schedule(self) -> None:
        heartbeat_every = self.config.heartbeat_interval
        reconcile_every = self.config.reconcile_interval
        await self._guarded("start-up recovery", self.startup_recovery)
        next_heartbeat = time.monotonic() + heartbeat_every
        next_reconcile = time.monotonic() + reconcile_every
        while True:
            self.next_reconciliation = utcnow() + timedelta(
                seconds=max(0.0, next_reconcile - time.monotonic())
            )
            await asyncio.sleep(
                max(0.0, min(next_heartbeat, next_reconcile) - time.monotonic())
            )
            now = time.monotonic()
            if now >= next_heartbeat:
                next_heartbeat = now + heartbeat_every
                await self._guarded("heartbeat watch", self.heartbeat_check)
            if now >= next_reconcile:
                next_reconcile = now + reconcile_every
                await self._guarded("reconciliation", self.reconcile)

    async def close(self) -> None:
        """Stop the scheduler and cancel running jobs."""
        tasks = list(self._tasks)
        if self._scheduler is not None:
            tasks.append(self._scheduler)
            self._scheduler = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
