"""The hot path: state_changed events → in-memory buffer → batched ILP writes to QuestDB.

On HA's loop the filter costs one dict lookup per event and the listener three list
appends, one per column of the buffer (attributes only when they changed).
Everything else (serialisation, spool files) runs in the executor, and network I/O
is awaited in background tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import time
from typing import TYPE_CHECKING, Any

from homeassistant.const import (
    ATTR_FRIENDLY_NAME,
    EVENT_STATE_CHANGED,
    STATE_UNAVAILABLE,
    __version__ as ha_version,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util
from pymongo.errors import PyMongoError

from .const import (
    CONF_SPOOL_MAX_MB,
    DEFAULT_SPOOL_MAX_MB,
    DOMAIN,
    DOWN_ISSUE_AFTER,
    ENTITY_SYNC_INTERVAL,
    FLUSH_INTERVAL,
    HEARTBEAT_INTERVAL,
    ISSUE_MONGODB_DOWN,
    ISSUE_QUESTDB_DOWN,
    ISSUE_ROWS_REJECTED,
    ISSUE_SPOOL_NEARLY_FULL,
    LOGGER,
    MAX_BATCH_ROWS,
    MONGODB_CLOSE_TIMEOUT,
    REQUEST_TIMEOUT,
    SENSOR_UPDATE_INTERVAL,
    SIGNAL_UPDATED,
    SPOOL_ISSUE_RATIO,
    STATUS_AUTH_FAILED,
    STATUS_DISCONNECTED,
    STATUS_OK,
    STATUS_STARTING,
    WAL_CHECK_INTERVAL,
    WAL_RECHECK_AFTER_RESUME,
)
from .errors import CannotConnect, InvalidAuth, RowsRejected
from .ilp import Batch, Readings, serialise_readings, split_lines
from .mongo import MongoDocument, entity_update, is_auth_failure
from .questdb_http import QuestDBHttp
from .recorded import async_recorded_readings
from .schema import (
    ENTITIES,
    FORWARDER_STATE,
    READINGS_15M_VIEW,
    READINGS_TABLE,
    SOURCE_LIVE,
    STATISTICS_TABLE,
    SYNC_LOG,
    TRACKED_BY_COMPANION,
    TRACKED_BY_INTEGRATION,
    ensure_mongo_schema,
    ensure_questdb_schema,
)
from .spool import Spool
from .tracking import TrackingRules
from .units import stored_unit

# An entry set up this soon after the recorder started is HA starting (not a
# reload): what HA accepted before the listener was subscribed is caught up.
STARTUP_CATCH_UP = timedelta(minutes=10)

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from pymongo import AsyncMongoClient
    from pymongo.asynchronous.database import AsyncDatabase

_MAX_BAD_LINES_PER_BATCH = 100

# Ours, and how each is resumed once QuestDB suspended it.
_RESUME_WAL: dict[str, str] = {
    READINGS_TABLE: f"ALTER TABLE {READINGS_TABLE} RESUME WAL",
    STATISTICS_TABLE: f"ALTER TABLE {STATISTICS_TABLE} RESUME WAL",
    READINGS_15M_VIEW: f"ALTER MATERIALIZED VIEW {READINGS_15M_VIEW} RESUME WAL",
}


@dataclass(slots=True)
class DatabaseHealth:
    """How one database was when the forwarder last used it."""

    name: str
    """As the log names it."""
    while_down: str
    """What happens meanwhile, said with "<name> is unavailable"."""
    while_auth_failed: str
    """What happens meanwhile, said with "<name> rejected the credentials"."""
    status: str = STATUS_STARTING
    down_since: float | None = None
    reported_down: bool = False
    """Whether a line said it went; the next STATUS_OK then says it is back."""


def _questdb_health() -> DatabaseHealth:
    return DatabaseHealth(
        "QuestDB",
        while_down="readings go to the spool",
        while_auth_failed="readings go to the spool",
    )


def _mongodb_health() -> DatabaseHealth:
    return DatabaseHealth(
        "MongoDB",
        while_down="heartbeat and entity updates are retried",
        while_auth_failed="readings still go to QuestDB, entity updates and the "
        "heartbeat wait for new credentials",
    )


@dataclass(slots=True)
class ForwarderStats:
    """Counters and health of one forwarder (read by sensors, diagnostics, heartbeat)."""

    rows_forwarded: int = 0
    rows_spooled: int = 0
    rows_rejected: int = 0
    rows_dropped: int = 0
    states_skipped: int = 0
    events_received: int = 0
    last_write_at: datetime | None = None
    last_event_at: datetime | None = None
    questdb: DatabaseHealth = field(default_factory=_questdb_health)
    mongodb: DatabaseHealth = field(default_factory=_mongodb_health)

    @property
    def questdb_status(self) -> str:
        """QuestDB's status (STATUS_*)."""
        return self.questdb.status

    @property
    def mongodb_status(self) -> str:
        """MongoDB's status (STATUS_*)."""
        return self.mongodb.status

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as plain values."""
        return {
            "rows_forwarded": self.rows_forwarded,
            "rows_spooled": self.rows_spooled,
            "rows_rejected": self.rows_rejected,
            "rows_dropped": self.rows_dropped,
            "states_skipped": self.states_skipped,
            "events_received": self.events_received,
        }


def _clear_readings(taken: Readings, parts: list[Readings]) -> None:
    """Drop the readings of a flush and its parts (runs in the executor)."""
    taken.clear()
    for part in parts:
        part.clear()


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
        self.instance_id = instance_id
        self.rules = TrackingRules(entry.options)
        self.stats = ForwarderStats()
        self.flush_interval = FLUSH_INTERVAL
        # Whether each entity id seen is tracked (an exact dict: the filter's
        # subscript is then the interpreter's specialised one).
        self._decisions: dict[str, bool] = {}
        self._buffer = Readings()
        self._listener_attributes: dict[str, Mapping[str, Any]] = {}
        self._writer_attributes: dict[str, Mapping[str, Any]] = {}
        self._pending_entities: dict[str, tuple[str, float, Mapping[str, Any]]] = {}
        # One MongoDB sync at a time: a sync asked for now waits for the one in
        # flight, so what it reads back includes what that one wrote.
        self._mongo_sync_lock = asyncio.Lock()
        self._first_seen: set[str] = set()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._questdb_schema_ready = False
        self._schema_refusal: str | None = None
        # Tables QuestDB suspended that the last WAL check resumed, and those that
        # stay suspended; when the next check is due (monotonic).
        self._wal_resumed: set[str] = set()
        self._wal_failing: set[str] = set()
        self._next_wal_check = 0.0
        # rows_dropped when the spool last filled up; None while it has room.
        self._dropped_since_full: int | None = None
        self._mongo_schema_ready = False
        self._issues: set[str] = set()
        self._stopped = False
        self._stopping = False
        self._mongo_busy = False
        self._last_statuses: tuple[str, str] = ("", "")
        self._last_counters: tuple[Any, ...] = ()
        self._last_signal_at = -SENSOR_UPDATE_INTERVAL
        # One set, built once: the listener subscribed is the one whose buffer
        # _take_buffer takes.
        self._event_filter, self._listener, self._take_buffer = self._build_callbacks()

    # -- the hot path ---------------------------------------------------------

    def _build_callbacks(
        self,
    ) -> tuple[
        Callable[[EventStateChangedData], bool],
        Callable[[Event[EventStateChangedData]], None],
        Callable[[], Readings],
    ]:
        """Return the event filter, the listener and what takes the listener's buffer.

        The listener appends through bound methods of the buffer's lists (cell
        variables: the cheapest lookups there are); taking the buffer moves its
        lists out and binds the new ones, so a flush copies nothing on the loop.
        """
        decisions = self._decisions
        decide = self._decide
        buffer = self._buffer
        wake = self._wake.set
        full = MAX_BATCH_ROWS
        last_attributes = self._listener_attributes
        last_attributes_get = last_attributes.get
        entity_ids: list[str]
        append_entity_id: Callable[[str], None]
        append_state: Callable[[str], None]
        append_timestamp: Callable[[float], None]
        new_attributes: dict[int, Mapping[str, Any]]

        def bind() -> None:
            """Point the listener at the buffer's lists as they are now."""
            nonlocal entity_ids, append_entity_id, append_state, append_timestamp
            nonlocal new_attributes
            entity_ids = buffer.entity_ids
            append_entity_id = entity_ids.append
            append_state = buffer.states.append
            append_timestamp = buffer.timestamps.append
            new_attributes = buffer.attributes

        bind()

        @callback
        def event_filter(data: EventStateChangedData) -> bool:
            """Reject untracked entities with one dict lookup (decided on a miss)."""
            # try costs nothing until it catches; the miss is once per entity id.
            try:
                return decisions[data["entity_id"]]
            except KeyError:
                return decide(data)

        @callback
        def listener(event: Event[EventStateChangedData]) -> None:
            """Append to the buffer's columns (attributes only when changed); wake the writer when full."""
            state = event.data["new_state"]
            if state is None:
                return
            entity_id = state.entity_id
            attributes = state.attributes
            if last_attributes_get(entity_id) is not attributes:
                last_attributes[entity_id] = attributes
                new_attributes[len(entity_ids)] = attributes
            append_entity_id(entity_id)
            append_state(state.state)
            append_timestamp(state.last_updated_timestamp)
            if len(entity_ids) >= full:
                wake()

        @callback
        def take() -> Readings:
            """Return what the listener captured; it appends to new lists from now on."""
            taken = buffer.take()
            bind()
            return taken

        return event_filter, listener, take

    @callback
    def _decide(self, data: EventStateChangedData) -> bool:
        """Decide once per entity id whether it is tracked, from the event's state.

        Called from the event filter, with the state the event carries: an event
        fired while another state_changed is being dispatched is delivered after
        it (HA >= 2026.11), when the state machine may already hold a newer state
        or none. A removal (no new state) is not cached: the entity is decided
        again when it comes back.
        """
        state = data["new_state"]
        if state is None:
            return False
        tracked = self.rules.decide(state.entity_id, state)
        self._decisions[state.entity_id] = tracked
        return tracked

    @callback
    def invalidate_decisions(self) -> None:
        """Forget cached decisions after a rule changed."""
        self._decisions.clear()

    def is_tracked(self, entity_id: str) -> bool:
        """Return whether an entity is tracked now."""
        return self.rules.decide(entity_id, self.hass.states.get(entity_id))

    # -- life cycle -----------------------------------------------------------

    async def async_start(self) -> None:
        """Subscribe to the bus, load the spool and start the background tasks.

        Waits on no database: the listener only fills the buffer, and whatever
        QuestDB and MongoDB do is met by the background tasks, each bounded.
        """
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
        self._tasks.append(
            self.entry.async_create_background_task(
                self.hass, self._writer_loop(), f"{DOMAIN} writer"
            )
        )
        self._tasks.append(
            self.entry.async_create_background_task(
                self.hass, self._mongo_loop(), f"{DOMAIN} mongodb"
            )
        )
        self._tasks.append(
            self.entry.async_create_background_task(
                self.hass,
                self._catch_up_startup(dt_util.utcnow()),
                f"{DOMAIN} start-up catch-up",
            )
        )

    async def _catch_up_startup(self, subscribed_at: datetime) -> None:
        """Take from the recorder what HA accepted before the listener was subscribed.

        HA serves its API, and integrations set states, while this entry is still
        being set up; the recorder starts first and has those states. Rows that
        were captured live as well are the same keys (DEDUP UPSERT).
        """
        from homeassistant.helpers.recorder import get_instance  # noqa: PLC0415

        recorder = get_instance(self.hass)
        since = recorder.recorder_runs_manager.recording_start
        if subscribed_at - since > STARTUP_CATCH_UP:
            return  # a reload while HA runs, not HA starting
        # The recorder commits every commit_interval: wait until it has committed
        # everything from before the subscription.
        await asyncio.sleep(recorder.commit_interval + 1)
        await recorder.async_block_till_done()
        entity_ids = [
            entity_id
            for entity_id in self.hass.states.async_entity_ids()
            if self.is_tracked(entity_id)
        ]
        if not entity_ids:
            return
        readings = await async_recorded_readings(
            self.hass, since, subscribed_at, entity_ids
        )
        if readings:
            self._buffer.prepend(readings)
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
        self._stopping = True
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
                if not self._mongo_busy:
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
                    await self._sync_entities()
                    await self._heartbeat("stopped")
            await self._close_mongo_client()

    async def _close_mongo_client(self) -> None:
        """Close the MongoDB client, waiting MONGODB_CLOSE_TIMEOUT at most.

        Closing sends endSessions, which a hung server answers only when PyMongo's
        socket timeout ends it: the close goes on by itself past the wait, never
        cut in the middle (that would leave its monitors running).
        """
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

    # -- writer ---------------------------------------------------------------

    async def _writer_loop(self) -> None:
        """Flush at most every second, sooner when a batch is full."""
        # The tables are created, and QuestDB's status known, before the first
        # reading: a sensor that changes hourly would leave it "starting" till then.
        await self._questdb_ready()
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.async_flush()
            except Exception:  # noqa: BLE001 - the writer must keep running
                LOGGER.exception("Unexpected error in the Energy Tracker writer")
                await asyncio.sleep(self.flush_interval)

    async def async_flush(self) -> dict[str, int]:
        """Write the buffer and the spool now; return what was written.

        Shielded: a cancelled caller (unload, shutdown) never leaves a batch taken
        from the buffer but neither written nor spooled.
        """
        return await asyncio.shield(self._flush())

    async def _flush(self) -> dict[str, int]:
        """Take the buffer and write it, spool replayed first; spool what fails.

        A large buffer (after a burst, or a stall of the loop) is cut into batches
        of MAX_BATCH_ROWS: the executor serialises the next batch while the
        previous one is sent, and once QuestDB failed in this flush the rest go
        straight to the spool.
        """
        async with self._lock:
            taken = self._take_buffer()
            parts = taken.split(MAX_BATCH_ROWS)
            written = await self._write_parts(parts)
            # Most captured states and timestamps have no other reference left:
            # freeing them (about 0.1 µs each) is the executor's work, not the loop's.
            await self.hass.async_add_executor_job(_clear_readings, taken, parts)
        self._after_cycle()
        return {"rows_written": written, "spool_rows_pending": self.spool.rows}

    async def _write_parts(self, parts: list[Readings]) -> int:
        """Serialise part k+1 in the executor while part k is sent (no part: the spool)."""
        if not parts:
            return await self._drain([])

        def serialise(part: Readings) -> asyncio.Future[Batch]:
            return self.hass.async_add_executor_job(
                serialise_readings,
                part,
                SOURCE_LIVE,
                MAX_BATCH_ROWS,
                self._writer_attributes,
            )

        written = 0
        done = 0
        serialising = serialise(parts[0])
        try:
            for index, part in enumerate(parts):
                batch = await serialising
                if index + 1 < len(parts):
                    serialising = serialise(parts[index + 1])
                self._count(batch, len(part))
                if index and self.stats.questdb_status != STATUS_OK:
                    await self._spool(batch.payloads)
                else:
                    written += await self._drain(batch.payloads)
                done = index + 1
        except BaseException:
            # Never lose what was taken: unwritten parts go back to the front of
            # the buffer (a part that was half sent is harmless: DEDUP UPSERT KEYS).
            self._buffer.prepend(*parts[done:])
            raise
        return written

    def _count(self, batch: Batch, states: int) -> None:
        """Update the counters and the latest state per entity from one batch."""
        stats = self.stats
        stats.events_received += states
        stats.states_skipped += batch.skipped
        self._pending_entities.update(batch.latest)
        newest = max((item[1] for item in batch.latest.values()), default=None)
        if newest is not None:
            newest_at = dt_util.utc_from_timestamp(newest)
            if stats.last_event_at is None or newest_at > stats.last_event_at:
                stats.last_event_at = newest_at

    async def _drain(self, payloads: list[tuple[bytes, int]]) -> int:
        """Replay the spool oldest first, then send new payloads; spool what fails."""
        written = 0
        if not await self._questdb_ready():
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
        for _ in range(_MAX_BAD_LINES_PER_BATCH):
            try:
                await self.questdb.write(payload)
            except RowsRejected as err:
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
            except InvalidAuth:
                self._set_status(self.stats.questdb, STATUS_AUTH_FAILED)
                return None
            except CannotConnect:
                self._set_status(self.stats.questdb, STATUS_DISCONNECTED)
                return None
            self._set_status(self.stats.questdb, STATUS_OK)
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
        self._set_issue(
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
        """Say once, when the spool had filled up, that it takes readings again.

        Only once it is back under the repair issue's ratio: a small batch fitting
        in what a large one left would otherwise end the episode at every flush.
        """
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

    async def _ensure_questdb_schema(self) -> bool:
        """Create the tables once before the first write (ILP would create them without dedup)."""
        if self._questdb_schema_ready:
            return True
        try:
            await ensure_questdb_schema(self.questdb.execute)
        except InvalidAuth:
            self._set_status(self.stats.questdb, STATUS_AUTH_FAILED)
            return False
        except RowsRejected as err:
            # QuestDB answers but refuses a statement: a release without
            # materialized views, or a user who may not create tables. Said once
            # per message: it is retried every second.
            if err.message != self._schema_refusal:
                self._schema_refusal = err.message
                LOGGER.error(
                    "QuestDB refused to create the Energy Tracker tables: %s. "
                    "Readings go to the spool until it accepts (QuestDB 8.3.1 or "
                    "newer, and a user allowed to create tables and views)",
                    err.message,
                )
            self._set_status(self.stats.questdb, STATUS_DISCONNECTED)
            return False
        except CannotConnect:
            self._set_status(self.stats.questdb, STATUS_DISCONNECTED)
            return False
        self._questdb_schema_ready = True
        self._schema_refusal = None
        return True

    async def _questdb_ready(self) -> bool:
        """Return whether readings can be written now: tables there, and applied.

        While QuestDB is usable this asks it nothing but every WAL_CHECK_INTERVAL;
        otherwise the WAL check is the probe, at every flush (once resuming a
        table failed, every WAL_CHECK_INTERVAL: the spool takes the readings).
        """
        if not await self._ensure_questdb_schema():
            return False
        if time.monotonic() < self._next_wal_check and (
            self.stats.questdb.status == STATUS_OK or self._wal_failing
        ):
            return READINGS_TABLE not in self._wal_failing
        return await self._check_wal()

    async def _check_wal(self) -> bool:
        """Resume our tables if QuestDB suspended them; return whether readings are applied.

        QuestDB suspends a WAL table when applying a transaction fails (a crash,
        a full disk): the table still accepts writes but no query sees them until
        it is resumed. Resumed here at once. A table that stays suspended (the
        resume refused, or suspended again by the next check) is said at ERROR;
        while it is energy_readings, QuestDB counts as unavailable and readings
        wait in the spool, so nothing reports success for rows nobody can read.
        """
        now = time.monotonic()
        self._next_wal_check = now + WAL_CHECK_INTERVAL
        try:
            failing = await self._resume_suspended()
        except InvalidAuth:
            self._set_status(self.stats.questdb, STATUS_AUTH_FAILED)
            return False
        except CannotConnect:
            self._set_status(self.stats.questdb, STATUS_DISCONNECTED)
            return False
        if self._wal_resumed:
            self._next_wal_check = now + WAL_RECHECK_AFTER_RESUME
        for name, reason in failing.items():
            if name not in self._wal_failing:
                LOGGER.error(
                    "QuestDB keeps %s suspended (%s): what is written to it stays "
                    "invisible%s. Fix the cause QuestDB logs, then run %s (tried "
                    "here every %.0f s)",
                    name,
                    reason,
                    "; readings wait in the spool" if name == READINGS_TABLE else "",
                    _RESUME_WAL[name],
                    WAL_CHECK_INTERVAL,
                )
        for name in self._wal_failing - failing.keys():
            LOGGER.warning("QuestDB applies what is written to %s again", name)
        self._wal_failing = set(failing)
        applied = READINGS_TABLE not in failing
        self._set_status(
            self.stats.questdb, STATUS_OK if applied else STATUS_DISCONNECTED
        )
        return applied

    async def _resume_suspended(self) -> dict[str, str]:
        """Resume what QuestDB suspended of ours; return what stays suspended, with why."""
        try:
            suspended = await self.questdb.suspended_tables()
        except RowsRejected as err:
            # wal_tables() refused (a user without the right): nothing to check.
            LOGGER.debug("QuestDB refused wal_tables(): %s", err.message)
            suspended = {}
        resumed: set[str] = set()
        failing: dict[str, str] = {}
        for name, reason in suspended.items():
            if name not in _RESUME_WAL:
                continue
            if await self._resume_wal(name, reason):
                resumed.add(name)
            # Refused, or suspended again since the last check resumed it
            # (resuming it once more is harmless, but it is failing).
            if name not in resumed or name in self._wal_resumed:
                failing[name] = reason
        self._wal_resumed = resumed
        return failing

    async def _resume_wal(self, name: str, reason: str) -> bool:
        """Resume one suspended table or view; return whether QuestDB accepted."""
        try:
            await self.questdb.execute(_RESUME_WAL[name])
        except RowsRejected as err:
            if name not in self._wal_failing:
                LOGGER.error(
                    "QuestDB suspended %s (%s) and refused to resume it: %s",
                    name,
                    reason,
                    err.message,
                )
            return False
        if name not in self._wal_failing and name not in self._wal_resumed:
            LOGGER.warning(
                "QuestDB had suspended %s (%s): rows written to it were kept but "
                "invisible. Resumed it, so QuestDB applies them now",
                name,
                reason,
            )
        return True

    def _set_status(self, health: DatabaseHealth, status: str) -> None:
        """Track one database's health; say once that it went and once that it is back.

        Both at WARNING, the level HA logs by default: a user who saw the first
        line sees the second, also when it went while the entry was starting.
        """
        if status == health.status:
            return
        health.status = status
        if status == STATUS_OK:
            health.down_since = None
            if health.reported_down:
                health.reported_down = False
                spooled = self.spool.rows if health is self.stats.questdb else 0
                LOGGER.warning(
                    "%s is available again%s",
                    health.name,
                    f"; writing the {spooled} spooled reading(s)" if spooled else "",
                )
            return
        if health.down_since is None:
            health.down_since = time.monotonic()
        if status == STATUS_AUTH_FAILED:
            LOGGER.error(
                "%s rejected the credentials; %s", health.name, health.while_auth_failed
            )
            # HA starts at most one re-authentication flow per entry.
            self.entry.async_start_reauth(self.hass)
        elif not health.reported_down:
            LOGGER.warning("%s is unavailable; %s", health.name, health.while_down)
        health.reported_down = True

    # -- MongoDB --------------------------------------------------------------

    async def _mongo_loop(self) -> None:
        """Write entity documents every few seconds and the heartbeat every 30 s."""
        last_heartbeat = -HEARTBEAT_INTERVAL
        while True:
            heartbeat = time.monotonic() - last_heartbeat >= HEARTBEAT_INTERVAL
            self._mongo_busy = True
            try:
                async with asyncio.timeout(HEARTBEAT_INTERVAL), self._mongo_sync_lock:
                    if not self._mongo_schema_ready:
                        await ensure_mongo_schema(self.mongo_db)
                        self._mongo_schema_ready = True
                    await self._sync_entities()
                    if heartbeat:
                        await self._heartbeat("running")
                        await self._refresh_choices()
                        last_heartbeat = time.monotonic()
            except PyMongoError as err:
                self._set_status(
                    self.stats.mongodb,
                    STATUS_AUTH_FAILED if is_auth_failure(err) else STATUS_DISCONNECTED,
                )
            except TimeoutError:
                self._set_status(self.stats.mongodb, STATUS_DISCONNECTED)
            else:
                self._set_status(self.stats.mongodb, STATUS_OK)
            finally:
                self._mongo_busy = False
            self._after_cycle()
            await asyncio.sleep(ENTITY_SYNC_INTERVAL)

    async def async_sync_mongo(self) -> None:
        """Write entity documents and the heartbeat, and read the companion's choices, now."""
        async with self._mongo_sync_lock:
            await self._sync_entities()
            await self._heartbeat("running")
            await self._refresh_choices()

    async def _sync_entities(self) -> None:
        """Upsert the latest state of each entity seen since the last sync, in bulk."""
        if not self._pending_entities:
            return
        taken = self._pending_entities
        self._pending_entities = {}
        now = dt_util.utcnow()
        operations = []
        for entity_id, (state, timestamp, attributes) in taken.items():
            last_seen = dt_util.utc_from_timestamp(timestamp)
            device_class = attributes.get("device_class")
            unit = attributes.get("unit_of_measurement")
            fields: MongoDocument = {
                "friendly_name": attributes.get(ATTR_FRIENDLY_NAME),
                "unit": stored_unit(device_class, unit)[0],
                "original_unit": unit,
                "device_class": device_class,
                "state_class": attributes.get("state_class"),
                "is_active": state != STATE_UNAVAILABLE,
                "last_seen": last_seen,
                "updated_at": now,
            }
            operations.append(
                entity_update(
                    entity_id,
                    fields,
                    {
                        "first_seen": last_seen,
                        "is_tracked": True,
                        "tracked_by": TRACKED_BY_INTEGRATION,
                    },
                )
            )
        try:
            await self.mongo_db[ENTITIES].bulk_write(operations, ordered=False)
        except PyMongoError:
            for entity_id, item in taken.items():
                self._pending_entities.setdefault(entity_id, item)
            raise

    async def _heartbeat(self, status: str) -> None:
        """Write this instance's forwarder_state document."""
        stats = self.stats
        await self.mongo_db[FORWARDER_STATE].update_one(
            {"_id": self.instance_id},
            {
                "$set": {
                    "heartbeat_at": dt_util.utcnow(),
                    "last_event_at": stats.last_event_at,
                    "last_write_at": stats.last_write_at,
                    "status": status,
                    "questdb_status": stats.questdb_status,
                    "mongodb_status": STATUS_OK,
                    "counters": stats.as_dict(),
                    "spool_rows": self.spool.rows,
                    "spool_bytes": self.spool.bytes,
                    "spool_max_bytes": self.spool.max_bytes,
                    "config_entry_id": self.entry.entry_id,
                    "ha_version": ha_version,
                    "tracked_entities": sum(self._decisions.values()),
                }
            },
            upsert=True,
        )

    async def _refresh_choices(self) -> None:
        """Read the companion's choices; keep the other documents' is_tracked true to our rules.

        Only documents the companion decided (tracked_by) bind the rules. On every
        other document (written by us, or by the companion's discovery) is_tracked
        follows what the rules decide now, so a rule removed later takes its flag
        with it instead of leaving a choice nobody made.
        """
        choices: dict[str, bool] = {}
        others: dict[str, bool] = {}
        # Closed on every exit, a timeout included: a cursor left open holds a
        # connection of the server's (FerretDB's SQLite pool) until it expires.
        async with self.mongo_db[ENTITIES].find(
            {}, {"is_tracked": 1, "tracked_by": 1}, batch_size=10_000
        ) as cursor:
            async for doc in cursor:
                entity_id = str(doc["_id"])
                tracked = bool(doc.get("is_tracked"))
                if doc.get("tracked_by") == TRACKED_BY_COMPANION:
                    choices[entity_id] = tracked
                else:
                    others[entity_id] = tracked
        if choices != self.rules.mongo_choice:
            self.rules.mongo_choice = choices
            self.invalidate_decisions()
        changed: dict[bool, list[str]] = {True: [], False: []}
        for entity_id, stored in others.items():
            decided = self.is_tracked(entity_id)
            if decided != stored:
                changed[decided].append(entity_id)
        for tracked, entity_ids in changed.items():
            if entity_ids:
                await self.mongo_db[ENTITIES].update_many(
                    # A companion choice made meanwhile is not overwritten.
                    {
                        "_id": {"$in": entity_ids},
                        "tracked_by": {"$ne": TRACKED_BY_COMPANION},
                    },
                    {
                        "$set": {
                            "is_tracked": tracked,
                            "tracked_by": TRACKED_BY_INTEGRATION,
                        }
                    },
                )

    # -- health ---------------------------------------------------------------

    @callback
    def _after_cycle(self) -> None:
        """Raise or clear repair issues and tell the sensors when something changed."""
        stats = self.stats
        now = time.monotonic()
        ratio = self.spool.bytes / self.spool.max_bytes if self.spool.max_bytes else 0
        self._set_issue(
            ISSUE_SPOOL_NEARLY_FULL,
            ratio > SPOOL_ISSUE_RATIO,
            ir.IssueSeverity.WARNING,
            {"percent": f"{ratio * 100:.0f}", "path": str(self.spool.directory)},
        )
        for issue, since in (
            (ISSUE_QUESTDB_DOWN, stats.questdb.down_since),
            (ISSUE_MONGODB_DOWN, stats.mongodb.down_since),
        ):
            self._set_issue(
                issue,
                since is not None and now - since > DOWN_ISSUE_AFTER,
                ir.IssueSeverity.ERROR,
                {"minutes": f"{(now - since) / 60:.0f}" if since else "0"},
            )
        # Statuses are shown at once; counters at most every SENSOR_UPDATE_INTERVAL,
        # so the recorder does not store a new row for them every second.
        statuses = (stats.questdb_status, stats.mongodb_status)
        counters = (stats.rows_forwarded, self.spool.rows, stats.last_write_at)
        if statuses != self._last_statuses or (
            counters != self._last_counters
            and now - self._last_signal_at >= SENSOR_UPDATE_INTERVAL
        ):
            self._last_statuses = statuses
            self._last_counters = counters
            self._last_signal_at = now
            async_dispatcher_send(self.hass, SIGNAL_UPDATED.format(self.entry.entry_id))

    def _set_issue(
        self,
        key: str,
        active: bool,
        severity: ir.IssueSeverity,
        placeholders: dict[str, str],
    ) -> None:
        """Create or delete one repair issue of this entry."""
        issue_id = f"{key}_{self.entry.entry_id}"
        if active and (key == ISSUE_ROWS_REJECTED or issue_id not in self._issues):
            self._issues.add(issue_id)
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                is_persistent=False,
                severity=severity,
                translation_key=key,
                translation_placeholders={"title": self.entry.title, **placeholders},
            )
        elif not active and issue_id in self._issues and key != ISSUE_ROWS_REJECTED:
            self._issues.discard(issue_id)
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    @callback
    def async_remove_issues(self) -> None:
        """Delete every repair issue of this entry (on unload)."""
        for issue_id in self._issues:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self._issues.clear()

    async def async_log_sync(
        self,
        kind: str,
        start: datetime,
        end: datetime,
        entity_ids: list[str],
        result: dict[str, Any],
    ) -> None:
        """Record a run in sync_log (best effort: MongoDB may be down)."""
        try:
            async with asyncio.timeout(10):
                await self.mongo_db[SYNC_LOG].insert_one(
                    {
                        "kind": kind,
                        "source": "integration",
                        "instance_id": self.instance_id,
                        "started_at": dt_util.utcnow(),
                        "window_start": start,
                        "window_end": end,
                        "entities": entity_ids[:1000],
                        "rows": result.get("readings", 0) + result.get("statistics", 0),
                        "result": result,
                        "outcome": "ok",
                    }
                )
        except (PyMongoError, TimeoutError):
            self._set_status(self.stats.mongodb, STATUS_DISCONNECTED)

    def tracked_decisions(self) -> dict[str, bool]:
        """Return the cached decisions (a copy)."""
        return dict(self._decisions)

    @property
    def buffered(self) -> int:
        """Return the number of states waiting in memory."""
        return len(self._buffer)
