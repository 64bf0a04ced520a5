"""Benchmark of the Energy overview on one synthetic home, beside a Python baseline.

    QUESTDB_HTTP_PORT=9200 QUESTDB_PG_PORT=8922 MONGODB_PORT=27217 \
        python -m bench.bench_overview [--days 365] [--interval 10] [--port 8198]

One home of 50 sensors (grid import and export, solar, a battery, gas, water, the
home's power and 42 devices) with one reading per `--interval` seconds for `--days`
days (365 days at 10 s: 157 M readings), plus their hourly statistics and Energy
settings naming them. Times `/api/energy/overview` over the real HTTP API (uvicorn)
for a year by day and a week by hour, against fetching the rows it is made of and
summing them in Python in the same run: the hourly statistics for the year, the
raw readings for the week. Needs the servers of scripts/services and about 6 GB of
disk for the full size; the rows stay in QuestDB under a run id.
"""

# A benchmark script: asserts check answers, SQL holds only its own constants.
# ruff: noqa: S101, S608

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
import os
import time
from typing import Any
import uuid
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # pandas ships no type hints
from questdb import Sender

from bench.bench_api import (
    Client,
    questdb_connection,
    server_ms,
    start_companion,
    timed,
    wait_until_serving,
)
from companion.config import CompanionConfig
from companion.core import schema
from companion.energy_settings import ENERGY_SETTINGS_ID
from companion.mongo import Mongo
from companion.questdb import QuestDB
from companion.store import StatisticRow, Store

TZ = "Europe/Amsterdam"
DEVICES = 42
CHUNK_ROWS = 500_000  # ~66 MB of ILP: within the client's 100 MB buffer


def _home(run: str) -> dict[str, Any]:
    """The sensors: name → (device class, unit, mean kWh, m³ or W per hour)."""
    meters: dict[str, Any] = {
        "import": ("energy", "kWh", 0.5),
        "export": ("energy", "kWh", 0.3),
        "solar": ("energy", "kWh", 0.6),
        "battery_in": ("energy", "kWh", 0.2),
        "battery_out": ("energy", "kWh", 0.18),
        "gas": ("gas", "m³", 0.1),
        "water": ("water", "m³", 0.02),
        "home_power": ("power", "W", 500.0),
    }
    for index in range(DEVICES):
        meters[f"device_{index:02d}"] = ("energy", "kWh", 0.01 + 0.001 * index)
    return {f"sensor.ov_{run}_{name}": spec for name, spec in meters.items()}


def _prefs(run: str) -> dict[str, Any]:
    stat = f"sensor.ov_{run}_"
    return {
        "energy_sources": [
            {
                "type": "grid",
                "flow_from": [
                    {"stat_energy_from": f"{stat}import", "number_energy_price": 0.3}
                ],
                "flow_to": [
                    {"stat_energy_to": f"{stat}export", "number_energy_price": 0.08}
                ],
            },
            {"type": "solar", "stat_energy_from": f"{stat}solar"},
            {
                "type": "battery",
                "stat_energy_from": f"{stat}battery_out",
                "stat_energy_to": f"{stat}battery_in",
            },
            {
                "type": "gas",
                "stat_energy_from": f"{stat}gas",
                "number_energy_price": 1.2,
            },
            {"type": "water", "stat_energy_from": f"{stat}water"},
            {"type": "home", "stat_rate": f"{stat}home_power"},
        ],
        "device_consumption": [
            {
                "stat_consumption": f"{stat}device_{index:02d}",
                **({"included_in_stat": f"{stat}device_00"} if index in (1, 2) else {}),
            }
            for index in range(DEVICES)
        ],
    }


def _write_readings(
    config: CompanionConfig, home: dict[str, Any], start: datetime, days: int, step: int
) -> tuple[int, dict[str, np.ndarray[Any, Any]], np.ndarray[Any, Any]]:
    """Write every sensor's readings; returns rows, each meter's values and the times."""
    count = days * 86_400 // step
    first = np.datetime64(start.replace(tzinfo=None), "s")
    moments = first + np.arange(count, dtype=np.int64) * np.timedelta64(step, "s")
    chance = np.random.default_rng(7)
    values: dict[str, np.ndarray[Any, Any]] = {}
    conf = f"http::addr={config.questdb_http_url.split('://')[1]};auto_flush=off;"
    written = 0
    with Sender.from_conf(conf) as sender:
        for entity_id, (device_class, unit, hourly) in home.items():
            if device_class == "power":
                series = chance.gamma(2.0, hourly / 2.0, count)
            else:
                series = 100.0 + np.cumsum(
                    chance.exponential(hourly * step / 3600, count)
                )
            values[entity_id] = series
            for low in range(0, count, CHUNK_ROWS):
                high = min(count, low + CHUNK_ROWS)
                frame = pd.DataFrame(
                    {
                        "entity_id": np.full(high - low, entity_id, dtype=object),
                        "value": series[low:high],
                        "unit": np.full(high - low, unit, dtype=object),
                        "device_class": np.full(high - low, device_class, dtype=object),
                        "source": np.full(high - low, "backfill", dtype=object),
                        "ts": moments[low:high].astype("datetime64[ns]"),
                    }
                )
                sender.dataframe(
                    frame,
                    table_name=schema.READINGS_TABLE,
                    symbols=["entity_id", "unit", "device_class", "source"],
                    at="ts",
                )
                sender.flush()
                written += high - low
    return written, values, moments


def _statistics(
    home: dict[str, Any],
    values: dict[str, np.ndarray[Any, Any]],
    moments: np.ndarray[Any, Any],
) -> list[StatisticRow]:
    """Hourly statistics as HA compiles them: the meter's state and sum at each hour's end."""
    hour_of = (moments - moments[0]) // np.timedelta64(3600, "s")
    ends = [*np.flatnonzero(np.diff(hour_of)).tolist(), len(moments) - 1]
    first = datetime.fromisoformat(str(moments[0])).replace(tzinfo=UTC)
    rows = []
    for entity_id, (device_class, _, _) in home.items():
        series = values[entity_id]
        for hour, end in enumerate(ends):
            start = first + timedelta(hours=hour)
            if device_class == "power":
                low = 0 if hour == 0 else ends[hour - 1] + 1
                window = series[low : end + 1]
                rows.append(
                    StatisticRow(
                        start,
                        entity_id,
                        "hour",
                        None,
                        None,
                        float(window.mean()),
                        float(window.min()),
                        float(window.max()),
                        None,
                    )
                )
            else:
                state = float(series[end])
                rows.append(
                    StatisticRow(
                        start,
                        entity_id,
                        "hour",
                        state,
                        state - float(series[0]),
                        None,
                        None,
                        None,
                        None,
                    )
                )
    return rows


async def _applied(questdb: QuestDB, table: str) -> None:
    """Wait until QuestDB has applied every WAL transaction of `table`."""
    sql = f"SELECT writerTxn, sequencerTxn FROM wal_tables() WHERE name = '{table}'"
    while True:
        written, sequenced = (await questdb.execute(sql))["dataset"][0]
        if written >= sequenced:
            return
        await asyncio.sleep(0.5)


async def _statistics_from_questdb(
    questdb: QuestDB, home: dict[str, Any]
) -> tuple[int, list[StatisticRow]]:
    """The readings of an earlier run, and hourly statistics made from them by SQL."""
    rows: list[StatisticRow] = []
    count = 0
    for entity_id, (device_class, _, _) in home.items():
        hours = await questdb.fetch(
            "SELECT ts, count(), first(value), last(value), avg(value), min(value), "
            f"max(value) FROM {schema.READINGS_TABLE} WHERE entity_id = $1 SAMPLE BY 1h",
            entity_id,
        )
        origin = hours[0][2]
        for ts, readings, _, last, mean, low, high in hours:
            count += readings
            start = ts.replace(tzinfo=UTC)
            if device_class == "power":
                rows.append(
                    StatisticRow(
                        start, entity_id, "hour", None, None, mean, low, high, None
                    )
                )
            else:
                rows.append(
                    StatisticRow(
                        start,
                        entity_id,
                        "hour",
                        last,
                        last - origin,
                        None,
                        None,
                        None,
                        None,
                    )
                )
    return count, rows


async def main() -> None:
    """Build the home, then time the overview and its baselines."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--port", type=int, default=8198)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--reuse",
        metavar="RUN",
        help="time the readings an earlier run of the same --days wrote today",
    )
    args = parser.parse_args()

    run = args.reuse or uuid.uuid4().hex[:6]
    database = f"et_bench_overview_{run}"
    config = CompanionConfig.from_env(
        {**os.environ, "ENERGY_TRACKER_MONGODB_DATABASE": database}
    )
    questdb, mongo = QuestDB(config), Mongo(config)
    store = Store(questdb, config)
    await questdb.ensure_schema()
    zone = ZoneInfo(TZ)
    end = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=args.days)).astimezone(UTC)
    home = _home(run)

    like = f"sensor.ov_{run}_%"
    t0 = time.perf_counter()
    if args.reuse:
        written, stats = await _statistics_from_questdb(questdb, home)
    else:
        written, values, moments = await asyncio.to_thread(
            _write_readings, config, home, start, args.days, args.interval
        )
        stats = _statistics(home, values, moments)
        del values
    await _applied(questdb, schema.READINGS_TABLE)
    print(
        f"home: {len(home)} sensors, {written:,} readings over {args.days} days, "
        f"visible after {time.perf_counter() - t0:.0f} s (run {run})"
    )
    await store.write_statistics(stats)
    await _applied(questdb, schema.STATISTICS_TABLE)
    print(f"statistics: {len(stats):,} hourly rows")
    await mongo.db[schema.SETTINGS].insert_one(
        {
            "_id": ENERGY_SETTINGS_ID,
            "prefs": _prefs(run),
            "units": [
                {"statistic_id": entity_id, "unit": unit}
                for entity_id, (_, unit, _) in home.items()
            ],
            "currency": "EUR",
            "synced_at": datetime.now(UTC),
            "home_assistant_url": None,
        }
    )
    pg = await questdb_connection(config)
    server = start_companion(args.port, database)
    client = Client(f"http://127.0.0.1:{args.port}")
    meters = [e for e, (dc, _, _) in home.items() if dc != "power"]
    try:
        await wait_until_serving(client)
        year_start = max(start, (end - timedelta(days=365)).astimezone(UTC))
        week_start = (end - timedelta(days=7)).astimezone(UTC)

        async def overview(since: datetime, period: str) -> None:
            response = await client.get(
                "/api/energy/overview",
                params={
                    "start_time": since.isoformat(),
                    "end_time": end.isoformat(),
                    "period": period,
                },
            )
            server_ms(response)
            assert response.status_code == 200, response.text[:300]
            assert response.json()["totals"]["grid_import_kwh"] > 0

        async def statistics_in_python() -> None:
            rows = await pg.fetch(
                "SELECT entity_id, ts, sum FROM energy_statistics WHERE period = 'hour' "
                "AND ts >= $1 AND ts < $2 AND entity_id LIKE $3 ORDER BY ts",
                year_start.replace(tzinfo=None),
                end.astimezone(UTC).replace(tzinfo=None),
                like,
            )
            last: dict[str, float] = {}
            days: dict[tuple[str, Any], float] = defaultdict(float)
            for entity_id, ts, total in rows:
                if total is None:
                    continue
                day = ts.replace(tzinfo=UTC).astimezone(zone).date()
                days[entity_id, day] += total - last.get(entity_id, total)
                last[entity_id] = total

        async def readings_in_python() -> None:
            rows = await pg.fetch(
                "SELECT entity_id, ts, value FROM energy_readings WHERE ts >= $1 "
                "AND ts < $2 AND entity_id LIKE $3",
                week_start.replace(tzinfo=None),
                end.astimezone(UTC).replace(tzinfo=None),
                like,
            )
            last: dict[str, float] = {}
            hours: dict[tuple[str, datetime], float] = defaultdict(float)
            for entity_id, ts, value in rows:
                prior = last.get(entity_id)
                last[entity_id] = value
                if prior is not None and entity_id in meters:
                    step = value - prior if value >= prior else value
                    hours[entity_id, ts.replace(minute=0, second=0)] += step

        figures = [
            (
                f"overview, period=day over {min(args.days, 365)} days",
                await timed(args.repeat, lambda: overview(year_start, "day")),
                "50",
                await timed(max(3, args.repeat // 10), statistics_in_python),
                "the year's hourly statistics fetched and summed per day in Python",
            ),
            (
                "overview, period=hour over 7 days",
                await timed(args.repeat, lambda: overview(week_start, "hour")),
                "30",
                await timed(3, readings_in_python),
                "the week's raw readings fetched and summed per hour in Python",
            ),
        ]
        print(
            f"\n{'figure':<40} {'p50 ms':>8} {'p99 ms':>8} {'server':>8} {'target':>7}   baseline p50 ms"
        )
        for name, (p50, p99, server_p50), target, (b50, _, _), what in figures:
            server_text = f"{server_p50:8.1f}" if server_p50 is not None else "       -"
            print(
                f"{name:<40} {p50:8.1f} {p99:8.1f} {server_text} {'≤' + target:>7}   "
                f"{b50:8.1f} ({what}; {b50 / p50:.1f}x)"
            )
    finally:
        await client.close()
        server.terminate()
        server.wait(timeout=10)
        await pg.close()
        await mongo.client.drop_database(database)
        await mongo.close()
        await questdb.close()


if __name__ == "__main__":
    asyncio.run(main())
