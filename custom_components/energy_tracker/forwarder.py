"""The forwarder of one entry: capture, writer and MongoDB sync, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.util import dt as dt_util
from pymongo.errors import PyMongoError

from .capture import Capture
from .catch_up import async_missed_at_start
from .const import (
    CONF_SPOOL_MAX_MB,
    DEFAULT_SPOOL_MAX_MB,
    DOMAIN,
    MONGODB_CLOSE_TIMEOUT,
    REQUEST_TIMEOUT,
)
from .core.questdb_http import QuestDBHttp
from .health import ForwarderStats, Health
from .mongo import MongoDocument
from .mongo_sync import MongoSync
from .questdb_tables import QuestDBTables
from .spool import Spool
from .tracking import TrackingRules
from .writer import Writer

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from pymongo import AsyncMongoClient
    from pymongo.asynchronous.database import AsyncDatabase


class Forwarder:
    """Capture tracked state changes and write them to QuestDB without losing any."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        *,
        questdb: QuestDBHttp,
        mongo_client: AsyncMongoClient[MongoDocument],
        mongo_db: AsyncDatabase[MongoDocument],
        spool: Spool,
        instance_id: str,
    ) -> None:
        """Wire the parts; nothing runs until `async_start`."""
        self.hass = hass
        self.entry = entry
        self.questdb = questdb
        self.mongo_client = mongo_client
        self.mongo_db = mongo_db
        self.spool = spool
        self.rules = TrackingRules(entry.options)
        self.stats = ForwarderStats()
        self.health = Health(hass, entry, self.stats, spool)
        # Set when a batch is full (the writer flushes at once); one flush at a time.
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.capture = Capture(hass, self.rules, self.stats, self._wake.set)
        self.mongo = MongoSync(
            entry, mongo_db, instance_id, self.capture, spool, self.health
        )
        self.writer = Writer(
            hass,
            self.capture,
            questdb=questdb,
            tables=QuestDBTables(questdb, self.health),
            spool=spool,
            health=self.health,
            wake=self._wake,
            lock=self._lock,
            on_latest=self.mongo.entities_seen,
        )
        self._event_filter = self.capture.event_filter
        self._listener = self.capture.listener
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False

    @property
    def flush_interval(self) -> float:
        """Return the seconds between two flushes when no batch fills up."""
        return self.writer.flush_interval

    @flush_interval.setter
    def flush_interval(self, seconds: float) -> None:
        """Set the seconds between two flushes (the writer takes it once woken)."""
        self.writer.flush_interval = seconds

    async def async_start(self) -> None:
        """Subscribe to the bus, load the spool and start the background tasks."""
        # Waits on no database: the listener only fills the buffer, and whatever
        # QuestDB and MongoDB do is met by the background tasks, each bounded.
        self._unsubscribe.append(
            self.hass.bus.async_listen(
                EVENT_STATE_CHANGED, self._listener, event_filter=self._event_filter
            )
        )
        try:
            # Local files only; before the writer starts, which replays them.
            await self.hass.async_add_executor_job(self.spool.load)
        except BaseException:
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self._unsubscribe.clear()
            raise
        self.stats.rows_spooled = 0
        for job, name in (
            (self.writer.run(), "writer"),
            (self.mongo.run(), "mongodb"),
            (self._catch_up_startup(dt_util.utcnow()), "start-up catch-up"),
        ):
            self._tasks.append(
                self.entry.async_create_background_task(
                    self.hass, job, f"{DOMAIN} {name}"
                )
            )

    async def _catch_up_startup(self, subscribed_at: datetime) -> None:
        """Buffer what HA accepted before the listener was subscribed (at HA's start)."""
        readings = await async_missed_at_start(self.hass, self.capture, subscribed_at)
        if readings:
            self.capture.buffer.prepend(readings)
            self._wake.set()

    async def async_stop(self) -> None:
        """Unsubscribe, write or spool what is buffered, stop tasks, close MongoDB."""
        if self._stopped:
            return
        self._stopped = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        # The writer finishes the flush it is in (never cut mid-send), then exits.
        self.writer.stopping = True
        self._wake.set()
        writers = [t for t in self._tasks if t.get_name().endswith("writer")]
        for task in writers:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(REQUEST_TIMEOUT * 2):
                    await asyncio.shield(task)
        try:
            # Readings first: whatever MongoDB does next, the buffer is written or
            # spooled before HA's shutdown can run out of time.
            await self.async_flush()
        finally:
            # Never cut a MongoDB request in the middle: wait for the loop to sleep.
            for _ in range(50):
                if not self.mongo.busy:
                    break
                await asyncio.sleep(0.1)
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                # A cancelled task's clean-up (closing a cursor) may wait on a
                # server that is gone: bounded.
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    async with asyncio.timeout(5):
                        await task
            self._tasks.clear()
            with contextlib.suppress(PyMongoError, TimeoutError):
                async with asyncio.timeout(5):
                    await self.mongo.sync_entities()
                    await self.mongo.heartbeat("stopped")
            await self._close_mongo_client()

    async def _close_mongo_client(self) -> None:
        """Close the MongoDB client, waiting MONGODB_CLOSE_TIMEOUT at most."""
        # Closing sends endSessions, which a hung server answers only when PyMongo's
        # socket timeout ends it: the close goes on by itself past the wait, never
        # cut in the middle (that would leave its monitors running).
        closing = self.hass.async_create_background_task(
            self.mongo_client.close(), f"{DOMAIN} mongodb close"
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(MONGODB_CLOSE_TIMEOUT):
                await asyncio.shield(closing)

    def set_spool_limit(self, options: dict[str, Any] | Any) -> None:
        """Apply the spool size option."""
        self.spool.max_bytes = (
            int(options.get(CONF_SPOOL_MAX_MB, DEFAULT_SPOOL_MAX_MB)) * 1024 * 1024
        )

    async def async_flush(self) -> dict[str, int]:
        """Write the buffer and the spool now; return what was written."""
        return await self.writer.async_flush()

    async def async_sync_mongo(self) -> None:
        """Write entity documents and the heartbeat, and read the companion's choices, now."""
        await self.mongo.async_sync()

    @callback
    def invalidate_decisions(self) -> None:
        """Forget cached decisions after a rule changed."""
        self.capture.invalidate_decisions()

    def is_tracked(self, entity_id: str) -> bool:
        """Return whether an entity is tracked now."""
        return self.capture.is_tracked(entity_id)

    def tracked_decisions(self) -> dict[str, bool]:
        """Return the cached decisions (a copy)."""
        return dict(self.capture.decisions)

    @property
    def buffered(self) -> int:
        """Return the number of states waiting in memory."""
        return len(self.capture.buffer)
