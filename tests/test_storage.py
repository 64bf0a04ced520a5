"""The real servers and the shared schema: rows and documents written and read back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
from pymongo.asynchronous.database import AsyncDatabase
import pytest
from questdb import Protocol, Sender, TimestampNanos

from companion.config import CompanionConfig
from companion.core import ilp, questdb_http, schema
from companion.mongo import Mongo
from companion.questdb import QuestDB
from companion.store.history_writes import _runs_series
from companion.store.series_frame import serialise_series_frame
from custom_components.energy_tracker.capture import Readings

from .servers import Servers, free_port, questdb_rows, wait_for_rows

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _config(servers: Servers, database: str = "energy_tracker") -> CompanionConfig:
    return CompanionConfig(
        questdb_http_url=servers.questdb_url,
        questdb_pg_port=servers.questdb_pg_port,
        mongodb_uri=servers.mongodb_uri,
        mongodb_database=database,
    )


async def test_questdb_schema_is_created_idempotently(servers: Servers) -> None:
    """Both tables exist as WAL tables with the dedup keys, however often it runs."""
    questdb = QuestDB(_config(servers))
    try:
        await questdb.ensure_schema()
        await schema.ensure_questdb_schema(
            questdb.execute
        )  # a second run changes nothing
    finally:
        await questdb.close()

    tables = {
        row[1]: row
        for row in questdb_rows(
            servers,
            "select id, table_name, walEnabled, dedup, partitionBy from tables()",
        )
    }
    for table, partition in (
        ("energy_readings", "DAY"),
        ("energy_statistics", "MONTH"),
    ):
        assert table in tables
        _, _, wal, dedup, partition_by = tables[table]
        assert (wal, dedup, partition_by) == (True, True, partition)
    readings_keys = {
        row[0]
        for row in questdb_rows(
            servers,
            "select \"column\" from table_columns('energy_readings') where upsertKey",
        )
    }
    statistics_keys = {
        row[0]
        for row in questdb_rows(
            servers,
            "select \"column\" from table_columns('energy_statistics') where upsertKey",
        )
    }
    assert readings_keys == {"ts", "entity_id"}
    views = questdb_rows(
        servers, "select view_name, base_table_name from materialized_views()"
    )
    assert ["energy_readings_15m", "energy_readings"] in views
    assert statistics_keys == {"ts", "entity_id", "period"}


async def test_row_written_over_ilp_http_is_read_back_with_sql(
    servers: Servers, entity_suffix: str
) -> None:
    """A reading sent through ILP over HTTP comes back from SQL; a resend does not double it."""
    questdb = QuestDB(_config(servers))
    await questdb.ensure_schema()
    entity_id = f"sensor.storage_{entity_suffix}"
    ts = datetime(2026, 1, 15, 12, 0, 0, 123456, tzinfo=UTC)

    def send() -> None:
        with Sender(Protocol.Http, "127.0.0.1", servers.questdb_http_port) as sender:
            for offset, value in enumerate((1.5, 2.25)):
                sender.row(
                    schema.READINGS_TABLE,
                    symbols={
                        "entity_id": entity_id,
                        "unit": "kWh",
                        "device_class": "energy",
                        "state_class": "total_increasing",
                        "source": schema.SOURCE_LIVE,
                    },
                    columns={"value": value},
                    at=TimestampNanos(
                        int((ts + timedelta(seconds=offset)).timestamp() * 1e9)
                    ),
                )

    await asyncio.to_thread(send)
    await asyncio.to_thread(send)  # the same two rows again: dedup keeps one of each

    sql = (
        "select ts, entity_id, value, unit, device_class, state_class, source "
        f"from energy_readings where entity_id = '{entity_id}' order by ts"
    )
    rows = await wait_for_rows(servers, sql, 2)
    await asyncio.sleep(1)  # give a wrongly doubled write the time to show up
    rows = questdb_rows(servers, sql)
    assert rows == [
        [
            "2026-01-15T12:00:00.123456Z",
            entity_id,
            1.5,
            "kWh",
            "energy",
            "total_increasing",
            "live",
        ],
        [
            "2026-01-15T12:00:01.123456Z",
            entity_id,
            2.25,
            "kWh",
            "energy",
            "total_increasing",
            "live",
        ],
    ]

    # The companion's PG-wire path reads the same rows, parameterised.
    records = await questdb.fetch(
        "select value from energy_readings where entity_id = $1 order by ts", entity_id
    )
    await questdb.close()
    assert [record["value"] for record in records] == [1.5, 2.25]


async def test_mongodb_document_upserted_and_read_back(
    servers: Servers, mongo_db: AsyncDatabase[dict[str, object]]
) -> None:
    """An entity document is upserted twice and read back once, with its fields."""
    entities = mongo_db[schema.ENTITIES]
    seen = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    for name in ("Grid import", "Grid import energy"):
        await entities.update_one(
            {"_id": "sensor.grid_import"},
            {
                "$set": {
                    "friendly_name": name,
                    "unit": "kWh",
                    "is_tracked": True,
                    "last_seen": seen,
                },
                "$setOnInsert": {"first_seen": seen},
            },
            upsert=True,
        )
    documents = await entities.find({}).to_list()
    assert documents == [
        {
            "_id": "sensor.grid_import",
            "friendly_name": "Grid import energy",
            "unit": "kWh",
            "is_tracked": True,
            "last_seen": seen,
            "first_seen": seen,
        }
    ]


async def test_mongodb_indexes_are_created_idempotently(
    servers: Servers, mongodb_database_name: str
) -> None:
    """Every index of the shared schema exists after start-up, and a rerun is harmless."""
    mongo = Mongo(_config(servers, mongodb_database_name))
    try:
        assert await mongo.ping()
        await mongo.ensure_schema()
        await schema.ensure_mongo_schema(mongo.db)
        for collection, indexes in schema.MONGO_INDEXES.items():
            info = await mongo.db[collection].index_information()
            for name, keys in indexes:
                assert info[name]["key"] == list(keys)
    finally:
        await mongo.client.drop_database(mongodb_database_name)
        await mongo.close()


async def test_15_minute_view_follows_the_readings(
    servers: Servers, entity_suffix: str
) -> None:
    """The materialized view counts each 15 minutes' readings and keeps first/last/min/max."""
    questdb = QuestDB(_config(servers))
    await questdb.ensure_schema()
    await questdb.close()
    entity_id = f"sensor.view_{entity_suffix}"
    start = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    values = [float(n) for n in range(40)]  # one a minute: 15 + 15 + 10

    def send() -> None:
        with Sender(Protocol.Http, "127.0.0.1", servers.questdb_http_port) as sender:
            for minute, value in enumerate(values):
                sender.row(
                    schema.READINGS_TABLE,
                    symbols={"entity_id": entity_id, "source": schema.SOURCE_LIVE},
                    columns={"value": value},
                    at=TimestampNanos(
                        int((start + timedelta(minutes=minute)).timestamp() * 1e9)
                    ),
                )

    await asyncio.to_thread(send)
    rows = await wait_for_rows(
        servers,
        "select ts, readings, first_value, last_value, min_value, max_value "
        f"from {schema.READINGS_15M_VIEW} where entity_id = '{entity_id}' order by ts",
        3,
    )
    assert [list(row) for row in rows] == [
        ["2026-02-01T10:00:00.000000Z", 15, 0.0, 14.0, 0.0, 14.0],
        ["2026-02-01T10:15:00.000000Z", 15, 15.0, 29.0, 15.0, 29.0],
        ["2026-02-01T10:30:00.000000Z", 10, 30.0, 39.0, 30.0, 39.0],
    ]


def test_timestamp_micros_rounds_as_datetime_does() -> None:
    """The dedup key's microsecond is the one datetime.fromtimestamp gives (half to even)."""
    stamps = [
        1_700_000_000.0,
        1_700_000_000.1234565,
        1_700_000_000.0000005,
        1_700_000_000.9999995,
        1_700_000_000.9999999,
        1_234_567_890.5,
    ]
    expected = [
        (datetime.fromtimestamp(stamp, UTC) - _EPOCH) // timedelta(microseconds=1)
        for stamp in stamps
    ]
    assert ilp.timestamp_micros(stamps).tolist() == expected


def test_the_integration_and_the_companion_serialise_a_reading_alike() -> None:
    """A live reading and the same state from HA's history are the same ILP row."""
    attributes = {
        "device_class": "energy",
        "unit_of_measurement": "Wh",
        "state_class": "total_increasing",
    }
    stamp = 1_700_000_000.1234565
    live = ilp.serialise_readings(
        Readings(["sensor.meter"], ["1500"], [stamp], {0: attributes}),
        schema.SOURCE_BACKFILL,
        100,
    )
    states = [{"s": "1500", "a": attributes, "lu": stamp}]
    symbols, factor = ilp.reading_symbols("sensor.meter", attributes, "backfill")
    series = _runs_series(
        [(symbols, factor, states)], 1_600_000_000_000_000, 1_800_000_000_000_000
    )
    assert series is not None
    body = serialise_series_frame(series, protocol_version=1)
    assert live.payloads == [(body, 1)]
    assert body == (
        b"energy_readings,entity_id=sensor.meter,unit=kWh,device_class=energy,"
        b"state_class=total_increasing,source=backfill value=1.5 1700000000123456000\n"
    )


async def test_questdb_client_errors(servers: Servers) -> None:
    """Each failure is its own error: bad address, bad SQL, rejected rows, no server."""
    with pytest.raises(questdb_http.QuestDBUrlError):
        questdb_http.validate_questdb_url("ftp://host")
    async with aiohttp.ClientSession() as session:
        client = questdb_http.QuestDBHttp(session, servers.questdb_url, timeout=10)
        assert (await client.execute("select 1"))["dataset"] == [[1]]
        with pytest.raises(questdb_http.QuestDBRefusedError) as refused:
            await client.execute("select nothing from no_such_table")
        assert "no_such_table" in refused.value.message
        await client.write(b"")  # nothing to write is no error
        with pytest.raises(questdb_http.QuestDBRowsRejectedError) as rejected:
            await client.write(
                b"questdb_client_errors,entity_id=sensor.x value=1.0 1700000000000000000\n"
                b"questdb_client_errors,entity_id=sensor.x value=x 1700000000000000000\n"
            )
        assert rejected.value.line == 2
        down = questdb_http.QuestDBHttp(
            session, f"http://127.0.0.1:{free_port()}", timeout=5
        )
        with pytest.raises(questdb_http.QuestDBUnreachableError):
            await down.execute("select 1")
        with pytest.raises(questdb_http.QuestDBUnreachableError):
            await down.write(b"questdb_client_errors value=1.0 1\n")
        assert not await down.ping()
