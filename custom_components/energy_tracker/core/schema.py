"""Storage schema of Energy Tracker: QuestDB tables and MongoDB collections.

This module is the one definition shared by the integration and the companion, so
it imports nothing from Home Assistant. Every statement is idempotent: it runs at
start-up of whichever component connects first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

READINGS_TABLE: Final = "energy_readings"
STATISTICS_TABLE: Final = "energy_statistics"

# Rows are keyed by (ts, entity_id): a replayed spool or a second backfill of the
# same window overwrites instead of doubling.
CREATE_READINGS_TABLE: Final = f"""
CREATE TABLE IF NOT EXISTS {READINGS_TABLE} (
    ts TIMESTAMP,
    entity_id SYMBOL CAPACITY 2048 CACHE INDEX,
    value DOUBLE,
    unit SYMBOL,
    device_class SYMBOL,
    state_class SYMBOL,
    source SYMBOL
) TIMESTAMP(ts) PARTITION BY DAY WAL
DEDUP UPSERT KEYS(ts, entity_id)
""".strip()

CREATE_STATISTICS_TABLE: Final = f"""
CREATE TABLE IF NOT EXISTS {STATISTICS_TABLE} (
    ts TIMESTAMP,
    entity_id SYMBOL CAPACITY 2048 CACHE INDEX,
    period SYMBOL,
    state DOUBLE,
    sum DOUBLE,
    mean DOUBLE,
    min DOUBLE,
    max DOUBLE,
    last_reset TIMESTAMP
) TIMESTAMP(ts) PARTITION BY MONTH WAL
DEDUP UPSERT KEYS(ts, entity_id, period)
""".strip()

READINGS_15M_VIEW: Final = "energy_readings_15m"

# Per entity and 15 minutes: how many readings and their first/last/min/max. QuestDB
# keeps it up to date incrementally, so summaries over years of 1 Hz readings read
# thousands of rows instead of millions. 15 minutes, because every time zone's
# midnight falls on a quarter hour, so local days are exact sums of these buckets.
CREATE_READINGS_15M_VIEW: Final = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS {READINGS_15M_VIEW} AS (
    SELECT ts, entity_id, count() readings, first(value) first_value,
        last(value) last_value, min(value) min_value, max(value) max_value
    FROM {READINGS_TABLE}
    SAMPLE BY 15m
) PARTITION BY MONTH
""".strip()  # noqa: S608 - built from the constants above

QUESTDB_DDL: Final[tuple[str, ...]] = (
    CREATE_READINGS_TABLE,
    CREATE_STATISTICS_TABLE,
    CREATE_READINGS_15M_VIEW,
)

# Values of the `source` column of energy_readings.
SOURCE_LIVE: Final = "live"
SOURCE_BACKFILL: Final = "backfill"

# Values of the `period` column of energy_statistics.
STATISTICS_PERIODS: Final = ("5minute", "hour", "day", "month")

# MongoDB collections.
SETTINGS: Final = "settings"
ENTITIES: Final = "entities"
FORWARDER_STATE: Final = "forwarder_state"
SYNC_LOG: Final = "sync_log"
LEASES: Final = "leases"
JOBS: Final = "jobs"

# entities.is_tracked says whether an entity is tracked now; entities.tracked_by who
# decided it. Only the companion's "Track N entities" choice (TRACKED_BY_COMPANION)
# binds the integration; for every other document the integration keeps is_tracked
# equal to what its own rules decide, so a flag it wrote once never outlives the
# rule that set it (an include glob removed, a sensor leaving the Energy dashboard).
TRACKED_BY_COMPANION: Final = "companion"
TRACKED_BY_INTEGRATION: Final = "integration"

# Secondary indexes per collection: (name, keys). `_id` carries the natural key of
# settings (setting name), entities (entity_id), forwarder_state (instance id) and
# leases (job name). FerretDB lacks TTL indexes, so sync_log retention is bounded
# by the writer, not by an index.
MONGO_INDEXES: Final[Mapping[str, Sequence[tuple[str, Sequence[tuple[str, int]]]]]] = {
    ENTITIES: (
        ("is_tracked_1", (("is_tracked", 1),)),
        ("device_class_1", (("device_class", 1),)),
    ),
    FORWARDER_STATE: (("heartbeat_at_-1", (("heartbeat_at", -1),)),),
    SYNC_LOG: (
        ("started_at_-1", (("started_at", -1),)),
        ("kind_1_started_at_-1", (("kind", 1), ("started_at", -1))),
    ),
    JOBS: (("created_at_-1", (("created_at", -1),)),),
}

SYNC_LOG_RETENTION: Final = 1000
"""How many sync_log documents are kept; older ones are pruned by the writer."""


async def ensure_questdb_schema(execute_sql: Callable[[str], Awaitable[Any]]) -> None:
    """Create the QuestDB tables if they do not exist yet."""
    for statement in QUESTDB_DDL:
        await execute_sql(statement)


async def ensure_mongo_schema(database: Any) -> None:
    """Create the MongoDB indexes if they do not exist yet.

    `database` is a PyMongo `AsyncDatabase`; typed loosely so this module stays
    importable without PyMongo's type stubs in either component.
    """
    for collection, indexes in MONGO_INDEXES.items():
        for name, keys in indexes:
            await database[collection].create_index(list(keys), name=name)
