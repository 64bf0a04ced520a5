"""The writer: captured readings in batches to QuestDB, the spool replayed first, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .capture import Readings
from .const import (
    FLUSH_INTERVAL,
    ISSUE_ROWS_REJECTED,
    LOGGER,
    MAX_BATCH_ROWS,
    SPOOL_ISSUE_RATIO,
    STATUS_AUTH_FAILED,
    STATUS_DISCONNECTED,
    STATUS_OK,
)
from .core.ilp import Batch, Latest, serialise_readings, split_lines
from .core.questdb_http import (
    QuestDBAuthError,
    QuestDBRowsRejectedError,
    QuestDBUnreachableError,
)
from .core.schema import SOURCE_LIVE

if TYPE_CHECKING:
    from .capture import Capture
    from .core.questdb_http import QuestDBHttp
    from .health import Health
    from .questdb_tables import QuestDBTables
    from .spool import Spool

_MAX_BAD_LINES_PER_BATCH = 100


def _clear_readings(taken: Readings, parts: list[Readings]) -> None:
    """Drop the readings of a flush and its parts (runs in the executor)."""
    taken.clear()
    for part in parts:
        part.clear()


class Writer:
    """Write what the capture took to QuestDB without losing any: what fails is spooled."""

    def __init__(
        self,
        hass: HomeAssistant,
        capture: Capture,
        *,
        questdb: QuestDBHttp,
        tables: QuestDBTables,
        spool: Spool,
        health: Health,
        wake: asyncio.Event,
        lock: asyncio.Lock,
        on_latest: Callable[[Latest], None],
    ) -> None:
        """Flush when `wake` is set, under `lock`; `on_latest` gets each batch's latest states."""
        self.hass = hass
        self.capture = capture
        self.questdb = questdb
        self.tables = tables
        self.spool = spool
        self.health = health
        self.stats = health.stats
        self.on_latest = on_latest
        self.flush_interval = FLUSH_INTERVAL
        self.wake = wake
        self.lock = lock
        self.stopping = False
        self._attributes: dict[str, Mapping[str, Any]] = {}
        # rows_dropped when the spool last filled up; None while it has room.
        self._dropped_since_full: int | None = None

    async def run(self) -> None:
        """Flush every flush_interval, sooner when a batch is full, until stopping."""
        # The tables are created, and QuestDB's status known, before the first
        # reading: a sensor that changes hourly would leave it "starting" till then.
        await self.tables.ready()
        while not self.stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self.wake.wait()
            self.wake.clear()
            try:
                await self.async_flush()
            except Exception:  # noqa: BLE001 - the writer must keep running
                LOGGER.exception("Unexpected error in the Energy Tracker writer")
                await asyncio.sleep(self.flush_interval)

    async def async_flush(self) -> dict[str, int]:
        """Write the buffer and the spool now (shielded: a cancelled caller loses nothing)."""
        return await asyncio.shield(self._flush())

    async def _flush(self) -> dict[str, int]:
        """Take the buffer and write it in batches, spool replayed first; spool what fails."""
        async with self.lock:
            taken = self.capture.take()
            parts = taken.split(MAX_BATCH_ROWS)
            written = await self._write_parts(parts)
            # Most captured states and timestamps have no other reference left:
            # freeing them is the executor's work, not the loop's.
            await self.hass.async_add_executor_job(_clear_readings, taken, parts)
        self.health.async_update()
        return {"rows_written": written, "spool_rows_pending": self.spool.rows}

    async def _write_parts(self, parts: list[Readings]) -> int:
        """Serialise part k+1 in the executor while part k is sent (no part: the spool)."""
        if not parts:
            return await self._drain([])

        def serialise(part: Readings) -> asyncio.Future[Batch]:
            return self.hass.async_add_executor_job(
                serialise_readings, part, SOURCE_LIVE, MAX_BATCH_ROWS, self._attributes
            )

        written = 0
        done = 0
        serialising = serialise(parts[0])
        try:
            for index in range(len(parts)):
                batch = await serialising
                if index + 1 < len(parts):
                    serialising = serialise(parts[index + 1])
                self._count(batch)
                # Once QuestDB failed in this flush, the rest go straight to the spool.
                if index and self.stats.questdb_status != STATUS_OK:
                    await self._spool(batch.payloads)
                else:
                    written += await self._drain(batch.payloads)
                done = index + 1
        except BaseException:
            # Never lose what was taken: unwritten parts go back to the front of
            # the buffer (a part that was half sent is harmless: DEDUP UPSERT KEYS).
            self.capture.buffer.prepend(*parts[done:])
            raise
        return written

    def _count(self, batch: Batch) -> None:
        """Update the counters and the latest state per entity from one batch."""
        stats = self.stats
        stats.states_skipped += batch.skipped
        self.on_latest(batch.latest)
        newest = max((item[1] for item in batch.latest.values()), default=None)
        if newest is not None:
            newest_at = dt_util.utc_from_timestamp(newest)
            if stats.last_event_at is None or newest_at > stats.last_event_at:
                stats.last_event_at = newest_at

    async def _drain(self, payloads: list[tuple[bytes, int]]) -> int:
        """Replay the spool oldest first, then send new payloads; spool what fails."""
        written = 0
        if not await self.tables.ready():
            await self._spool(payloads)
            return 0
        while len(self.spool):
            oldest = await self.hass.async_add_executor_job(self.spool.oldest)
            if oldest is None:
                break
            segment, payload = oldest
            sent = await self._send(payload, segment.rows)
            if sent is None:
                await self._spool(payloads)
                return written
            written += sent
            await self.hass.async_add_executor_job(self.spool.remove, segment)
        self._spool_has_room()  # replayed to the end
        for index, (payload, rows) in enumerate(payloads):
            sent = await self._send(payload, rows)
            if sent is None:
                await self._spool(payloads[index:])
                return written
            written += sent
        return written

    async def _send(self, payload: bytes, rows: int) -> int | None:
        """Send one payload; return rows written, or None when QuestDB is not usable."""
        questdb = self.stats.questdb
        for _ in range(_MAX_BAD_LINES_PER_BATCH):
            try:
                await self.questdb.write(payload)
            except QuestDBRowsRejectedError as err:
                lines = split_lines(payload)
                if err.line is not None and 1 <= err.line <= len(lines):
                    bad = lines[err.line - 1]
                    rest = lines[: err.line - 1] + lines[err.line :]
                else:
                    bad, rest = payload, []
                await self._dead_letter(bad, err.message)
                payload = b"".join(rest)
                rows = len(rest)
                if not rest:
                    return 0
                continue
            except QuestDBAuthError:
                self.health.set_status(questdb, STATUS_AUTH_FAILED)
                return None
            except QuestDBUnreachableError:
                self.health.set_status(questdb, STATUS_DISCONNECTED)
                return None
            self.health.set_status(questdb, STATUS_OK)
            self.stats.rows_forwarded += rows
            self.stats.last_write_at = dt_util.utcnow()
            return rows
        await self._dead_letter(payload, "too many rejected lines in one batch")
        return 0

    async def _dead_letter(self, lines: bytes, reason: str) -> None:
        """Set rejected rows aside and report them."""
        count = lines.count(b"\n") or 1
        await self.hass.async_add_executor_job(self.spool.dead_letter, lines, reason)
        self.stats.rows_rejected += count
        LOGGER.error(
            "QuestDB rejected %d row(s); they are kept in %s: %s",
            count,
            self.spool.dead_letter_path,
            reason[:300],
        )
        self.health.set_issue(
            ISSUE_ROWS_REJECTED,
            True,
            ir.IssueSeverity.ERROR,
            {
                "count": str(self.stats.rows_rejected),
                "path": str(self.spool.dead_letter_path),
            },
        )

    async def _spool(self, payloads: list[tuple[bytes, int]]) -> None:
        """Keep payloads on disk; count what does not fit."""
        for payload, rows in payloads:
            stored = await self.hass.async_add_executor_job(
                self.spool.append, payload, rows
            )
            if stored:
                self.stats.rows_spooled += rows
                self._spool_has_room()
                continue
            # Said once per time it fills up, not per batch.
            if self._dropped_since_full is None:
                self._dropped_since_full = self.stats.rows_dropped
                LOGGER.error(
                    "The Energy Tracker spool is full (%d MB): readings are dropped "
                    "until QuestDB is back; raise the limit in the options",
                    self.spool.max_bytes // (1024 * 1024),
                )
            self.stats.rows_dropped += rows

    def _spool_has_room(self) -> None:
        """Say once, when the spool had filled up, that it takes readings again."""
        # Only once it is back under the repair issue's ratio: a small batch fitting
        # in what a large one left would otherwise end the episode at every flush.
        if self._dropped_since_full is None or (
            self.spool.bytes > self.spool.max_bytes * SPOOL_ISSUE_RATIO
        ):
            return
        LOGGER.warning(
            "The Energy Tracker spool has room again; %d reading(s) were dropped "
            "while it was full (HA's recorder still has them: the backfill action "
            "can write them)",
            self.stats.rows_dropped - self._dropped_since_full,
        )
        self._dropped_since_full = None
