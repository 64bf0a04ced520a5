"""The scheduler: start-up recovery once, then the heartbeat watch and reconciliation.

Reconciliation copies HA's hourly statistics of the last hours into
energy_statistics (live capture forwards readings, and the statistics HA compiles
every hour come this way) and HA's Energy settings into MongoDB.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
import logging
import time

from companion.config import CompanionConfig

from .backfill import Backfills
from .leases import Leases
from .recovery import Recovery
from .results import JOB_ERRORS, JobResult, skipped, utcnow

_LOGGER = logging.getLogger(__name__)


class Scheduler:
    """Runs the periodic jobs of one companion process."""

    def __init__(
        self,
        config: CompanionConfig,
        leases: Leases,
        backfills: Backfills,
        recovery: Recovery,
    ) -> None:
        """Schedule by `config`'s intervals; nothing runs until `start`."""
        self.config = config
        self._leases = leases
        self._backfills = backfills
        self._recovery = recovery
        self.next_reconciliation: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    async def reconcile(self) -> JobResult:
        """HA's hourly statistics of the last hours into energy_statistics."""
        async with self._leases.held("reconciliation") as taken:
            if not taken:
                return skipped()
            end = utcnow()
            start = end.replace(minute=0, second=0, microsecond=0) - timedelta(
                hours=self.config.reconcile_hours
            )
            # Changes to HA's Energy settings are followed at each reconciliation,
            # first, so that statistics they newly name are copied in the same run;
            # a failure here keeps the last settings and copies the statistics.
            try:
                await self._backfills.energy_settings_sync()
            except JOB_ERRORS as err:
                _LOGGER.warning("Energy settings not followed: %s", err)
            return await self._backfills.statistics_sync(
                None, start, end, kind="reconciliation"
            )

    def start(self) -> None:
        """Run start-up recovery, then the heartbeat watch and reconciliation forever."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="companion-scheduler")

    async def close(self) -> None:
        """Stop the scheduler (a job it runs is cancelled)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _guarded(
        self, name: str, job: Callable[[], Awaitable[JobResult]]
    ) -> None:
        try:
            await job()
        except JOB_ERRORS as err:
            _LOGGER.warning("%s failed: %s", name, err)
        except Exception:
            _LOGGER.exception("%s crashed", name)

    async def _run(self) -> None:
        heartbeat_every = self.config.heartbeat_interval
        reconcile_every = self.config.reconcile_interval
        await self._guarded("start-up recovery", self._recovery.startup_recovery)
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
                await self._guarded("heartbeat watch", self._recovery.heartbeat_check)
            if now >= next_reconcile:
                next_reconcile = now + reconcile_every
                await self._guarded("reconciliation", self.reconcile)
