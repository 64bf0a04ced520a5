"""The documents Energy Tracker writes to MongoDB: entities, the heartbeat, sync_log.

The integration and the companion both write entity and sync_log documents, and
the companion reads the heartbeat the integration writes, so each document is
built here once and both sides agree on its fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypedDict

from pymongo import UpdateOne

from . import schema
from .units import ENERGY, POWER, stored_unit

if TYPE_CHECKING:
    from pymongo.asynchronous.database import AsyncDatabase

type Document = dict[str, Any]

# -- entities ------------------------------------------------------------------

# HA's unit classes of statistics that name one device class ("volume" is gas or
# water: not known from the statistics alone).
UNIT_CLASS_DEVICE_CLASS: Final[Mapping[str, str]] = {"energy": ENERGY, "power": POWER}


def state_fields(
    attributes: Mapping[str, Any],
    state: str | None,
    now: datetime,
    *,
    last_seen: datetime | None = None,
) -> Document:
    """The entity document's fields from a state of the entity (HA's attributes)."""
    device_class = attributes.get("device_class")
    unit = attributes.get("unit_of_measurement")
    fields: Document = {
        "friendly_name": attributes.get("friendly_name"),
        "unit": stored_unit(device_class, unit)[0],
        "original_unit": unit,
        "device_class": device_class,
        "state_class": attributes.get("state_class"),
        "is_active": state != "unavailable",
        "updated_at": now,
    }
    if last_seen is not None:
        fields["last_seen"] = last_seen
    return fields


def statistic_fields(
    metadata: Mapping[str, Any], now: datetime, fetched_units: Mapping[str, str]
) -> Document:
    """The entity document's fields from HA's statistics metadata (no state known).

    `fetched_units` maps a unit class to the unit its statistics are fetched in.
    """
    unit_class = str(metadata.get("unit_class"))
    unit = metadata.get("statistics_unit_of_measurement")
    return {
        "friendly_name": metadata.get("name"),
        "unit": fetched_units.get(unit_class, unit),
        "original_unit": unit,
        "device_class": UNIT_CLASS_DEVICE_CLASS.get(unit_class),
        "state_class": "total" if metadata.get("has_sum") else "measurement",
        "is_active": False,  # HA has statistics of it, but no current state
        "updated_at": now,
    }


def entity_upsert(
    entity_id: str,
    fields: Document,
    *,
    first_seen: datetime,
    tracked: bool,
    tracked_by: str | None = None,
) -> UpdateOne:
    """The upsert of one entity document; `first_seen` and tracking only set on insert.

    `tracked_by` is left out of a document nobody decided about yet (the
    companion's discovery), so the integration's rules decide it later.
    """
    on_insert: Document = {"first_seen": first_seen, "is_tracked": tracked}
    if tracked_by is not None:
        on_insert["tracked_by"] = tracked_by
    return UpdateOne(
        {"_id": entity_id}, {"$set": fields, "$setOnInsert": on_insert}, upsert=True
    )


# -- forwarder_state (the heartbeat) -----------------------------------------------

# Field names the companion reads: it judges a heartbeat stale by HEARTBEAT_AT and
# back-fills a gap from LAST_EVENT_AT.
HEARTBEAT_AT: Final = "heartbeat_at"
LAST_EVENT_AT: Final = "last_event_at"

FORWARDER_RUNNING: Final = "running"
FORWARDER_STOPPED: Final = "stopped"


class ForwarderState(TypedDict):
    """The forwarder_state document of one HA instance (`_id`: the instance id)."""

    heartbeat_at: datetime
    last_event_at: datetime | None
    last_write_at: datetime | None
    status: str  # FORWARDER_RUNNING or FORWARDER_STOPPED
    questdb_status: str
    mongodb_status: str
    counters: dict[str, Any]
    spool_rows: int
    spool_bytes: int
    spool_max_bytes: int
    config_entry_id: str
    ha_version: str
    tracked_entities: int


async def write_heartbeat(
    database: AsyncDatabase[Document], instance_id: str, state: ForwarderState
) -> None:
    """Write an instance's forwarder_state document."""
    await database[schema.FORWARDER_STATE].update_one(
        {"_id": instance_id}, {"$set": state}, upsert=True
    )


# -- sync_log ----------------------------------------------------------------------

SYNC_LOG_LISTED_ENTITIES: Final = 50
"""Entity ids a sync_log document lists; `entity_count` counts them all."""

SOURCE_INTEGRATION: Final = "integration"
SOURCE_COMPANION: Final = "companion"

OUTCOME_OK: Final = "ok"
OUTCOME_FAILED: Final = "failed"


async def log_sync_run(
    database: AsyncDatabase[Document],
    kind: str,
    *,
    source: str,
    started_at: datetime,
    finished_at: datetime,
    window: tuple[datetime, datetime] | None = None,
    entity_ids: Sequence[str] = (),
    rows: int = 0,
    outcome: str = OUTCOME_OK,
    error: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Write one sync_log document and prune the oldest beyond the retention.

    `details` are fields of the writer's own (who ran it, what it reported).
    """
    collection = database[schema.SYNC_LOG]
    await collection.insert_one(
        {
            "kind": kind,
            "source": source,
            "started_at": started_at,
            "finished_at": finished_at,
            "window_start": window[0] if window else None,
            "window_end": window[1] if window else None,
            "entity_count": len(entity_ids),
            "entities": list(entity_ids[:SYNC_LOG_LISTED_ENTITIES]),
            "rows": rows,
            "outcome": outcome,
            "error": error,
            **(details or {}),
        }
    )
    # Looked up at each call, so a changed retention applies at once.
    retention = schema.SYNC_LOG_RETENTION
    if await collection.count_documents({}) > retention:
        oldest_kept = await collection.find_one(
            {}, sort=[("started_at", -1)], skip=retention - 1
        )
        if oldest_kept is not None:
            await collection.delete_many(
                {"started_at": {"$lt": oldest_kept["started_at"]}}
            )
