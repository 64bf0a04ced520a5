"""MongoDB: entity documents, the heartbeat, the dashboard's tracking choices and sync_log."""

from __future__ import annotations

import asyncio
from datetime import datetime
import time
from typing import TYPE_CHECKING, Any

from homeassistant.const import __version__ as ha_version
from homeassistant.util import dt as dt_util
from pymongo.errors import PyMongoError

from .const import (
    ENTITY_SYNC_INTERVAL,
    HEARTBEAT_INTERVAL,
    STATUS_AUTH_FAILED,
    STATUS_DISCONNECTED,
    STATUS_OK,
)
from .core.documents import (
    FORWARDER_RUNNING,
    SOURCE_INTEGRATION,
    ForwarderState,
    entity_upsert,
    log_sync_run,
    state_fields,
    write_heartbeat,
)
from .core.schema import (
    ENTITIES,
    TRACKED_BY_COMPANION,
    TRACKED_BY_INTEGRATION,
    ensure_mongo_schema,
)
from .mongo import MongoDocument, is_auth_failure

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from pymongo.asynchronous.database import AsyncDatabase

    from .capture import Capture
    from .core.ilp import Latest
    from .health import Health
    from .spool import Spool


class MongoSync:
    """Keep this instance's MongoDB documents current and read the companion's choices."""

    def __init__(  # noqa: PLR0917 - the parts it reports on
        self,
        entry: ConfigEntry[Any],
        mongo_db: AsyncDatabase[MongoDocument],
        instance_id: str,
        capture: Capture,
        spool: Spool,
        health: Health,
    ) -> None:
        """Sync into `mongo_db` as `instance_id`; nothing runs until `run`."""
        self.entry = entry
        self.mongo_db = mongo_db
        self.instance_id = instance_id
        self.capture = capture
        self.spool = spool
        self.health = health
        self.stats = health.stats
        # Whether a request is in flight (stop waits for it, never cutting one).
        self.busy = False
        self._pending: Latest = {}
        # One sync at a time: a sync asked for now waits for the one in flight,
        # so what it reads back includes what that one wrote.
        self._lock = asyncio.Lock()
        self._schema_ready = False

    def entities_seen(self, latest: Latest) -> None:
        """Note the latest (state, timestamp, attributes) of entities written."""
        self._pending.update(latest)

    async def run(self) -> None:
        """Write entity documents every few seconds and the heartbeat every 30 s."""
        last_heartbeat = -HEARTBEAT_INTERVAL
        while True:
            heartbeat = time.monotonic() - last_heartbeat >= HEARTBEAT_INTERVAL
            self.busy = True
            try:
                async with asyncio.timeout(HEARTBEAT_INTERVAL), self._lock:
                    if not self._schema_ready:
                        await ensure_mongo_schema(self.mongo_db)
                        self._schema_ready = True
                    await self.sync_entities()
                    if heartbeat:
                        await self.heartbeat(FORWARDER_RUNNING)
                        await self._refresh_choices()
                        last_heartbeat = time.monotonic()
            except PyMongoError as err:
                self._set_status(
                    STATUS_AUTH_FAILED if is_auth_failure(err) else STATUS_DISCONNECTED
                )
            except TimeoutError:
                self._set_status(STATUS_DISCONNECTED)
            else:
                self._set_status(STATUS_OK)
            finally:
                self.busy = False
            self.health.async_update()
            await asyncio.sleep(ENTITY_SYNC_INTERVAL)

    def _set_status(self, status: str) -> None:
        """Set MongoDB's status."""
        self.health.set_status(self.stats.mongodb, status)

    async def async_sync(self) -> None:
        """Write entity documents and the heartbeat, and read the companion's choices, now."""
        async with self._lock:
            await self.sync_entities()
            await self.heartbeat(FORWARDER_RUNNING)
            await self._refresh_choices()

    async def sync_entities(self) -> None:
        """Upsert the latest state of each entity seen since the last sync, in bulk."""
        if not self._pending:
            return
        taken = self._pending
        self._pending = {}
        now = dt_util.utcnow()
        operations = []
        for entity_id, (state, timestamp, attributes) in taken.items():
            last_seen = dt_util.utc_from_timestamp(timestamp)
            operations.append(
                entity_upsert(
                    entity_id,
                    state_fields(attributes, state, now, last_seen=last_seen),
                    first_seen=last_seen,
                    tracked=True,
                    tracked_by=TRACKED_BY_INTEGRATION,
                )
            )
        try:
            await self.mongo_db[ENTITIES].bulk_write(operations, ordered=False)
        except PyMongoError:
            for entity_id, item in taken.items():
                self._pending.setdefault(entity_id, item)
            raise

    async def heartbeat(self, status: str) -> None:
        """Write this instance's forwarder_state document."""
        stats = self.stats
        state: ForwarderState = {
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
            "tracked_entities": sum(self.capture.decisions.values()),
        }
        await write_heartbeat(self.mongo_db, self.instance_id, state)

    async def _refresh_choices(self) -> None:
        """Read the companion's choices; keep the other documents' is_tracked true to our rules."""
        # Only documents the companion decided (tracked_by) bind the rules. On every
        # other document (written by us, or by the companion's discovery) is_tracked
        # follows what the rules decide now, so a rule removed later takes its flag
        # with it instead of leaving a choice nobody made.
        capture = self.capture
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
        if choices != capture.rules.mongo_choice:
            capture.rules.mongo_choice = choices
            capture.invalidate_decisions()
        changed: dict[bool, list[str]] = {True: [], False: []}
        for entity_id, stored in others.items():
            decided = capture.is_tracked(entity_id)
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

    async def async_log_sync(
        self,
        kind: str,
        window: tuple[datetime, datetime],
        entity_ids: list[str],
        result: dict[str, Any],
        *,
        started_at: datetime | None = None,
    ) -> None:
        """Record a run in sync_log (best effort: MongoDB may be down)."""
        finished_at = dt_util.utcnow()
        try:
            async with asyncio.timeout(10):
                await log_sync_run(
                    self.mongo_db,
                    kind,
                    source=SOURCE_INTEGRATION,
                    started_at=started_at or finished_at,
                    finished_at=finished_at,
                    window=window,
                    entity_ids=entity_ids,
                    rows=result.get("readings", 0) + result.get("statistics", 0),
                    details={"instance_id": self.instance_id, "result": result},
                )
        except (PyMongoError, TimeoutError):
            self._set_status(STATUS_DISCONNECTED)
