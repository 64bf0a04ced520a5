"""Seeded data for the dashboard tests, written the way the integration writes it.

Readings and hourly statistics go to QuestDB over ILP (HTTP), entity documents,
forwarder heartbeats, sync-log runs and HA's Energy settings to MongoDB with PyMongo. The expected
numbers on the page are computed here from the same series.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pymongo import AsyncMongoClient
from questdb import Protocol, Sender, TimestampNanos

from companion.core import schema
from companion.energy_settings import ENERGY_SETTINGS_ID
from companion.hub import TIME_ZONE_SETTING_ID
from tests.servers import Servers, questdb_rows

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Meter:
    """A cumulative meter: hourly consumption from `start`, one value per hour."""

    entity_id: str
    friendly_name: str
    unit: str
    device_class: str
    start: datetime  # start of the first hour (UTC, on the hour)
    consumption: Sequence[float]  # per hour
    base: float = 1000.0

    def hours(self) -> list[tuple[datetime, float]]:
        """(start of hour, consumption in that hour)."""
        return [(self.start + i * HOUR, c) for i, c in enumerate(self.consumption)]

    def reading_at(self, index: int) -> float:
        """The meter's value at the start of hour `index` (index == len: the end)."""
        return round(self.base + sum(self.consumption[:index]), 6)

    @property
    def last_reading(self) -> tuple[datetime, float]:
        """The newest reading: the end of the last hour."""
        n = len(self.consumption)
        return self.start + n * HOUR, self.reading_at(n)


def current_hour() -> datetime:
    """The start of the current hour, UTC."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def write_meter(servers: Servers, meter: Meter) -> None:
    """Readings at every hour boundary plus hourly statistics (HA's convention)."""
    symbols = {
        "entity_id": meter.entity_id,
        "unit": meter.unit,
        "device_class": meter.device_class,
        "state_class": "total_increasing",
    }
    with Sender(Protocol.Http, "127.0.0.1", servers.questdb_http_port) as sender:
        for i in range(len(meter.consumption) + 1):
            ts = meter.start + i * HOUR
            sender.row(
                schema.READINGS_TABLE,
                symbols={**symbols, "source": schema.SOURCE_BACKFILL},
                columns={"value": meter.reading_at(i)},
                at=TimestampNanos(int(ts.timestamp() * 1e9)),
            )
        for i, (start, _) in enumerate(meter.hours()):
            end_value = meter.reading_at(i + 1)
            sender.row(
                schema.STATISTICS_TABLE,
                symbols={"entity_id": meter.entity_id, "period": "hour"},
                columns={
                    "state": end_value,
                    "sum": round(end_value - meter.base, 6),
                },
                at=TimestampNanos(int(start.timestamp() * 1e9)),
            )


def write_readings(
    servers: Servers,
    entity_id: str,
    unit: str,
    device_class: str,
    rows: Sequence[tuple[datetime, float]],
) -> None:
    """Raw readings of a measurement sensor."""
    with Sender(Protocol.Http, "127.0.0.1", servers.questdb_http_port) as sender:
        for ts, value in rows:
            sender.row(
                schema.READINGS_TABLE,
                symbols={
                    "entity_id": entity_id,
                    "unit": unit,
                    "device_class": device_class,
                    "state_class": "measurement",
                    "source": schema.SOURCE_LIVE,
                },
                columns={"value": value},
                at=TimestampNanos(int(ts.timestamp() * 1e9)),
            )


def write_statistics(
    servers: Servers,
    entity_id: str,
    hours: Sequence[tuple[datetime, float]],
    *,
    base: float = 0.0,
) -> None:
    """HA's hourly statistics of a meter: (start of hour, change in it), oldest first.

    `sum` grows by each hour's change from `base`, `state` equals it (no reset).
    """
    total = base
    with Sender(Protocol.Http, "127.0.0.1", servers.questdb_http_port) as sender:
        for start, change in hours:
            total = round(total + change, 6)
            sender.row(
                schema.STATISTICS_TABLE,
                symbols={"entity_id": entity_id, "period": "hour"},
                columns={"state": total, "sum": total},
                at=TimestampNanos(int(start.timestamp() * 1e9)),
            )


def write_energy_settings(
    servers: Servers,
    database: str,
    prefs: dict[str, Any] | None,
    units: dict[str, str],
    *,
    currency: str | None = "EUR",
    synced_at: datetime | None = None,
    home_assistant_url: str | None = "http://127.0.0.1:8123",
) -> None:
    """HA's Energy settings as the companion keeps them after reading them from HA."""
    insert_documents(
        servers,
        database,
        schema.SETTINGS,
        [
            {
                "_id": ENERGY_SETTINGS_ID,
                "prefs": prefs,
                "units": [
                    {"statistic_id": stat, "unit": unit}
                    for stat, unit in sorted(units.items())
                ],
                "currency": currency,
                "synced_at": synced_at
                or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5),
                "home_assistant_url": home_assistant_url,
            }
        ],
    )


def _rounded(value: float, digits: int) -> Decimal:
    """Intl.NumberFormat's rounding: the double's exact value, half away from zero."""
    return Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def fmt(value: float, digits: int | None = None) -> str:
    """The page's number format in en-US: grouping, up to N fraction digits."""
    if digits is None:
        digits = 1 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    text = f"{_rounded(value, digits):,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def money(value: float) -> str:
    """An amount in euros as en-US writes it: €1,234.50."""
    return f"€{_rounded(value, 2):,f}"


def percent(share: float) -> str:
    """A share as en-US writes it with at most one fraction digit: 12.3%."""
    text = (
        f"{(Decimal(share) * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):f}"
    )
    return text.removesuffix(".0") + "%"


def wait_for_count(servers: Servers, table: str, entity_id: str, expected: int) -> None:
    """Poll until QuestDB has applied the WAL rows of one entity."""
    import time

    deadline = time.monotonic() + 60
    count = -1
    while time.monotonic() < deadline:
        count = questdb_rows(
            servers, f"select count() from {table} where entity_id = '{entity_id}'"
        )[0][0]
        if count >= expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"{table}: {count} rows of {entity_id}, expected {expected}")


def run_in_thread[T](make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a loop of its own in a short-lived thread.

    The tests' own thread may have an event loop running (Playwright's sync API),
    and PyMongo's blocking client leaves a thread behind that HA's test plugin
    reports, so MongoDB is used through AsyncMongoClient here.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()


def entity_document(
    entity_id: str,
    friendly_name: str,
    unit: str,
    device_class: str,
    state_class: str,
    *,
    tracked: bool = True,
    last_seen: datetime | None = None,
) -> dict[str, Any]:
    """An `entities` document as the integration writes it."""
    seen = last_seen or datetime.now(UTC)
    return {
        "_id": entity_id,
        "friendly_name": friendly_name,
        "unit": unit,
        "original_unit": unit,
        "device_class": device_class,
        "state_class": state_class,
        "is_active": True,
        "is_tracked": tracked,
        "first_seen": seen - timedelta(days=60),
        "last_seen": seen,
        "updated_at": seen,
    }


def insert_documents(
    servers: Servers,
    database: str,
    collection: str,
    documents: Sequence[dict[str, Any]],
) -> None:
    """Insert (replace) documents by `_id`."""

    async def insert() -> None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            servers.mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True
        )
        try:
            for document in documents:
                await client[database][collection].replace_one(
                    {"_id": document["_id"]}, document, upsert=True
                )
        finally:
            await client.close()

    run_in_thread(insert)


def remember_time_zone(servers: Servers, database: str, zone: str) -> None:
    """What a companion keeps once it has learnt HA's time zone (from `get_config`)."""
    insert_documents(
        servers,
        database,
        schema.SETTINGS,
        [
            {
                "_id": TIME_ZONE_SETTING_ID,
                "time_zone": zone,
                "learnt_at": datetime.now(UTC) - timedelta(days=1),
                "home_assistant_url": "http://127.0.0.1:8123",
            }
        ],
    )


def drop_database(servers: Servers, database: str) -> None:
    """Drop a test's MongoDB database."""

    async def drop() -> None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            servers.mongodb_uri, serverSelectionTimeoutMS=5000
        )
        try:
            await client.drop_database(database)
        finally:
            await client.close()

    run_in_thread(drop)
