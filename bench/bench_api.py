"""Benchmark of the companion API on synthetic data, each beside a Python baseline.

    QUESTDB_HTTP_PORT=9200 QUESTDB_PG_PORT=9012 MONGODB_PORT=27217 \
        python bench/bench_api.py --rows 1000000 [--port 8199]

Writes ROWS readings for 200 entities (entity 0: 1 Hz power for the last 24 h, the
others: kWh meters spread over 30 days) through the companion's backfill path
(HA-history → readings → ILP over HTTP), plus 30 days of hourly statistics, then
times the real HTTP API (a uvicorn process, read with aiohttp) against "fetch raw rows and aggregate
in Python" in the same run. Needs the servers of scripts/services.
"""

# A benchmark script: asserts check answers, SQL holds only its own constants, and
# polling/subprocess calls are fine outside a server.
# ruff: noqa: S101, S608, ASYNC110

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
import math
import os
from pathlib import Path
import statistics
import subprocess
import sys
import time
from typing import Any
import uuid
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from companion.config import CompanionConfig  # noqa: E402
from companion.core import schema  # noqa: E402
from companion.mongo import Mongo  # noqa: E402
from companion.questdb import QuestDB  # noqa: E402
from companion.store import StatisticRow, Store  # noqa: E402
from companion.store.history_writes import (  # noqa: E402
    ILP_CHUNK_LINES,
    ILP_FIRST_CHUNK_LINES,
    ILP_REQUEST_LINES,
    _history_body,
    _history_groups,
    _requests,
)
from companion.timestamps import to_micros  # noqa: E402

ENTITIES = 200
DAYS = 30
TZ = "Europe/Amsterdam"


def naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


SERVER_MS: list[float] = []


async def timed(
    repeat: int, call: Callable[[], Awaitable[Any]]
) -> tuple[float, float, float | None]:
    """p50 and p99 seen by the client, and p50 of the server's own Server-Timing."""
    await call()  # warm-up (and the answer's checks)
    samples = []
    SERVER_MS.clear()
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    server = statistics.median(SERVER_MS) if SERVER_MS else None
    return statistics.median(samples), percentile(samples, 0.99), server


class Answer:
    """A whole HTTP answer (status, body, headers) as read by the bench's client."""

    def __init__(self, status: int, body: bytes, headers: Any) -> None:
        self.status_code, self.content, self.headers = status, body, headers

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class Client:
    """The API's client: aiohttp, which reads 2.8 MB from uvicorn in ~3.6 ms where
    httpx takes ~15 ms; the figures then measure the API, not the client."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Answer:
        query = {k: str(v) for k, v in (params or {}).items()}
        async with self.session.get(self.base + path, params=query) as response:
            body = await response.read()
            return Answer(response.status, body, response.headers)

    async def close(self) -> None:
        await self.session.close()


async def questdb_connection(config: CompanionConfig) -> asyncpg.Connection:
    """A PG-wire connection of the baselines' own, beside the companion's pool."""
    return await asyncpg.connect(
        host=config.questdb_pg_host,
        port=config.questdb_pg_port,
        user=config.questdb_user,
        password=config.questdb_password,
        database="qdb",
    )


def start_companion(port: int, database: str) -> subprocess.Popen[bytes]:
    """The companion under uvicorn on `port`, jobs off, HA's zone declared, no HA."""
    env = {
        **os.environ,
        "ENERGY_TRACKER_MONGODB_DATABASE": database,
        "ENERGY_TRACKER_TIME_ZONE": TZ,
        "ENERGY_TRACKER_JOBS": "0",
        "COMPANION_PORT": str(port),
    }
    env.pop("ENERGY_TRACKER_HA_URL", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "companion.app:create_app",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )


async def wait_until_serving(client: Client) -> None:
    """Poll the companion until it answers."""
    for _ in range(100):
        try:
            if (await client.get("/api/openapi.json")).status_code == 200:
                return
        except aiohttp.ClientError:
            await asyncio.sleep(0.2)


def server_ms(response: Answer) -> None:
    """Record the app's own time from the Server-Timing header."""
    value = response.headers.get("server-timing", "")
    if "dur=" in value:
        SERVER_MS.append(float(value.split("dur=")[1].split(";")[0]))


def synthetic_slices(
    run: str, rows: int, now: datetime
) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """HA-style compressed history, one day at a time (bounded memory at 10 M rows).

    Entity 0: 1 Hz power for the last 24 h; entities 1-199: kWh meters over 30 days.
    """
    dense = min(86_400, rows // 2)
    end = now.timestamp()
    span = DAYS * 86_400
    per_entity = (rows - dense) // (ENTITIES - 1)
    step = span / per_entity
    power = f"sensor.bench_{run}_000"
    attrs_power = {
        "unit_of_measurement": "W",
        "device_class": "power",
        "state_class": "measurement",
    }
    attrs_energy = {
        "unit_of_measurement": "kWh",
        "device_class": "energy",
        "state_class": "total_increasing",
    }
    per_day = math.ceil(86_400 / step)
    for day in range(DAYS):
        history: dict[str, list[dict[str, Any]]] = {}
        low, high = day * per_day, min(per_entity, (day + 1) * per_day)
        for index in range(1, ENTITIES):
            states = [
                {"s": f"{1000.0 * index + 0.007 * k:.3f}", "lu": end - span + k * step}
                for k in range(low, high)
            ]
            if states:
                states[0]["a"] = attrs_energy
                history[f"sensor.bench_{run}_{index:03d}"] = states
        if day == DAYS - 1:
            dense_states = [
                {"s": str(400 + (i * 37) % 2500), "lu": end - dense + i}
                for i in range(dense)
            ]
            dense_states[0]["a"] = attrs_power
            history[power] = dense_states
        yield history


async def visible_rows(questdb: QuestDB, run: str) -> int:
    """Rows of a run's entities that SQL sees."""
    # The 200 ids as literals: a symbol IN list is resolved to symbol keys once (the
    # index answers), where LIKE matches the text of every row. Polling with LIKE
    # took ~0.3 s of QuestDB's CPU per poll at 20 M rows, competing with the WAL
    # apply it waits for.
    ids = ", ".join(f"'sensor.bench_{run}_{i:03d}'" for i in range(ENTITIES))
    result = await questdb.execute(
        f"SELECT count() FROM energy_readings WHERE entity_id IN ({ids})"
    )
    return int(result["dataset"][0][0])


async def backfill_floor(
    questdb: QuestDB,
    run: str,
    rows: int,
    now: datetime,
    window: tuple[datetime, datetime],
) -> float:
    """Rows/s QuestDB takes the backfill's bodies at when nothing converts them meanwhile."""
    low, high = to_micros(window[0]), to_micros(window[1])
    bodies_of_requests: list[list[bytes]] = []
    written = 0
    for history in synthetic_slices(run, rows, now):
        groups = _history_groups(history, ILP_FIRST_CHUNK_LINES, ILP_CHUNK_LINES)
        for request in _requests(history, groups, ILP_REQUEST_LINES):
            bodies = [
                _history_body(history, group, low, high, schema.SOURCE_BACKFILL)
                for group in request
            ]
            bodies_of_requests.append([body for body, _ in bodies])
            written += sum(count for _, count in bodies)
    started = time.perf_counter()
    for request_bodies in bodies_of_requests:
        await questdb.write_ilp(b"".join(request_bodies))
    while await visible_rows(questdb, run) < written:
        await asyncio.sleep(0.05)
    return written / (time.perf_counter() - started)


async def main() -> None:  # noqa: C901 - a linear script
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--backfill-only",
        action="store_true",
        help="measure the backfill, then stop (its rows stay in QuestDB)",
    )
    args = parser.parse_args()

    run = uuid.uuid4().hex[:6]
    database = f"et_bench_{run}"
    config = CompanionConfig.from_env(
        {
            **os.environ,
            "ENERGY_TRACKER_MONGODB_DATABASE": database,
            "ENERGY_TRACKER_TIME_ZONE": TZ,
        }
    )
    questdb, mongo = QuestDB(config), Mongo(config)
    store = Store(questdb, config)
    await questdb.ensure_schema()
    now = datetime.now(UTC).replace(microsecond=0)

    # -- backfill throughput: HA history -> ILP text over HTTP (the companion's path) --
    synth_s = send_s = 0.0
    written = 0
    started = time.perf_counter()
    slices = synthetic_slices(run, args.rows, now)
    window = (now - timedelta(days=DAYS + 1), now + timedelta(seconds=1))
    while True:
        t0 = time.perf_counter()
        history = next(slices, None)
        t1 = time.perf_counter()
        synth_s += t1 - t0
        if history is None:
            break
        written += await store.write_history(history, *window, schema.SOURCE_BACKFILL)
        send_s += time.perf_counter() - t1
        del history
    pg = await questdb_connection(config)
    like = f"sensor.bench_{run}_%"
    ids = ", ".join(f"'sensor.bench_{run}_{i:03d}'" for i in range(ENTITIES))
    while await visible_rows(questdb, run) < written:
        await asyncio.sleep(0.05)
    applied = time.perf_counter()
    print(f"rows: {written:,} readings, {ENTITIES} entities")
    print(
        f"backfill (HA history -> readings, conversion + ILP send): {written / send_s:,.0f} rows/s; "
        f"until visible to SQL (synthesis of the fake history excluded): "
        f"{written / (applied - started - synth_s):,.0f} rows/s"
    )

    floor = await backfill_floor(questdb, f"{run}f", args.rows, now, window)
    print(
        f"  baseline, QuestDB alone: the same rows serialised beforehand, sent in the "
        f"same requests: {floor:,.0f} rows/s until visible to SQL "
        f"(the backfill reaches {written / (applied - started - synth_s) / floor:.0%})"
    )

    if args.backfill_only:
        await pg.close()
        await mongo.close()
        await questdb.close()
        return

    # Hourly statistics for 30 days of every meter.
    first_hour = (now - timedelta(days=DAYS)).replace(minute=0, second=0)
    stats = [
        StatisticRow(
            first_hour + timedelta(hours=h),
            f"sensor.bench_{run}_{i:03d}",
            "hour",
            1000.0 * i + h * 0.1,
            h * 0.1,
            None,
            None,
            None,
            None,
        )
        for i in range(1, ENTITIES)
        for h in range(DAYS * 24)
    ]
    t0 = time.perf_counter()
    await store.write_statistics(stats)
    print(
        f"statistics: {len(stats):,} hourly rows written at {len(stats) / (time.perf_counter() - t0):,.0f} rows/s"
    )
    await mongo.db[schema.ENTITIES].insert_many(
        [
            {
                "_id": f"sensor.bench_{run}_{i:03d}",
                "unit": "W" if i == 0 else "kWh",
                "device_class": "power" if i == 0 else "energy",
                "state_class": "measurement" if i == 0 else "total_increasing",
                "is_tracked": True,
            }
            for i in range(ENTITIES)
        ]
    )
    # Polled over HTTP: a prepared PG-wire statement polled on one connection can keep
    # answering from before the WAL commit was applied.
    stats_sql = f"SELECT count() FROM energy_statistics WHERE entity_id LIKE '{like}'"
    while (await questdb.execute(stats_sql))["dataset"][0][0] < len(stats):
        await asyncio.sleep(0.05)
    # The 15-minute view refreshes incrementally after the writes; measure once it has.
    view_sql = (
        "SELECT refresh_base_table_txn, base_table_txn FROM materialized_views() "
        f"WHERE view_name = '{schema.READINGS_15M_VIEW}'"
    )
    for _ in range(1200):
        refreshed, base = (await questdb.execute(view_sql))["dataset"][0]
        if refreshed >= base:
            break
        await asyncio.sleep(0.1)

    server = start_companion(args.port, database)
    base = f"http://127.0.0.1:{args.port}"
    try:
        client = Client(base)
        try:
            await wait_until_serving(client)
            meter = f"sensor.bench_{run}_007"
            power = f"sensor.bench_{run}_000"
            start_30d, end = (now - timedelta(days=DAYS)).isoformat(), now.isoformat()

            async def api_hourly() -> None:
                r = await client.get(
                    f"/api/statistics/{meter}",
                    params={"start_time": start_30d, "end_time": end, "period": "hour"},
                )
                server_ms(r)
                assert r.status_code == 200, r.text[:200]

            async def base_hourly() -> None:
                rows = await pg.fetch(
                    "SELECT ts, value FROM energy_readings WHERE entity_id = $1 AND ts >= $2 AND ts < $3",
                    meter,
                    naive(now - timedelta(days=DAYS)),
                    naive(now),
                )
                buckets: dict[datetime, list[float]] = defaultdict(list)
                for ts, value in rows:
                    buckets[ts.replace(minute=0, second=0, microsecond=0)].append(value)
                _ = [
                    (k, v[-1], sum(v) / len(v), min(v), max(v))
                    for k, v in sorted(buckets.items())
                ]

            since = (now - timedelta(hours=24)).isoformat()

            async def api_raw() -> None:
                r = await client.get(
                    f"/api/readings/{power}",
                    params={
                        "since": since,
                        "until": (now + timedelta(seconds=1)).isoformat(),
                        "limit": 100000,
                    },
                )
                server_ms(r)
                assert r.status_code == 200, r.text[:200]

            async def api_raw_columns() -> None:
                r = await client.get(
                    f"/api/readings/{power}",
                    params={
                        "since": since,
                        "until": (now + timedelta(seconds=1)).isoformat(),
                        "limit": 100000,
                        "format": "columns",
                    },
                )
                server_ms(r)
                assert r.status_code == 200, r.text[:200]

            async def base_raw() -> None:
                rows = await pg.fetch(
                    "SELECT ts, value, unit, source FROM energy_readings WHERE entity_id = $1 AND ts >= $2",
                    power,
                    naive(now - timedelta(hours=24)),
                )
                ordered = sorted(rows, key=lambda r: r[0], reverse=True)
                _ = httpx.Response(
                    200,
                    json={
                        "readings": [
                            {
                                "ts": r[0].isoformat() + "Z",
                                "value": r[1],
                                "unit": r[2],
                                "source": r[3],
                            }
                            for r in ordered
                        ]
                    },
                )

            async def api_daily() -> None:
                r = await client.get(
                    f"/api/statistics/{meter}/daily",
                    params={"start_time": start_30d, "end_time": end},
                )
                server_ms(r)
                assert r.status_code == 200, r.text[:200]

            async def api_daily_raw() -> None:
                # An entity without statistics: every one of its readings is aggregated.
                r = await client.get(
                    f"/api/statistics/{power}/daily",
                    params={"start_time": start_30d, "end_time": end},
                )
                assert r.status_code == 200, r.text[:200]

            zone = ZoneInfo(TZ)

            async def base_daily() -> None:
                rows = await pg.fetch(
                    "SELECT ts, value FROM energy_readings WHERE entity_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts",
                    meter,
                    naive(now - timedelta(days=DAYS + 1)),
                    naive(now),
                )
                days: dict[Any, list[float]] = defaultdict(lambda: [0.0, 0, 0.0])
                prev = None
                for ts, value in rows:
                    day = ts.replace(tzinfo=UTC).astimezone(zone).date()
                    inc = (
                        0.0
                        if prev is None
                        else (value - prev if value >= prev else value)
                    )
                    slot = days[day]
                    slot[0] += inc
                    slot[1] += 1
                    slot[2] = max(slot[2], inc)
                    prev = value

            async def sql_all_rows_daily() -> Any:
                return await pg.fetch(
                    "SELECT ts, count(), sum(inc) FROM (SELECT ts, CASE WHEN prev IS NULL THEN 0.0 WHEN value >= prev "
                    "THEN value - prev ELSE value END inc FROM (SELECT ts, value, lag(value) OVER (PARTITION BY entity_id "
                    "ORDER BY ts) prev FROM energy_readings WHERE entity_id LIKE $1)) TIMESTAMP(ts) "
                    f"SAMPLE BY 1d ALIGN TO CALENDAR TIME ZONE '{TZ}'",
                    like,
                )

            async def all_rows_daily() -> dict[Any, tuple[int, float]]:
                """Readings per local day, and consumption from the hourly statistics."""
                counts, sums = await asyncio.gather(
                    # Readings per day from the 15-minute materialized view.
                    questdb.fetch(
                        f"SELECT ts, sum(readings) FROM {schema.READINGS_15M_VIEW} "
                        f"WHERE entity_id IN ({ids}) "
                        f"SAMPLE BY 1d ALIGN TO CALENDAR TIME ZONE '{TZ}'"
                    ),
                    questdb.fetch(
                        "SELECT ts, entity_id, last(sum) FROM energy_statistics "
                        f"WHERE period = 'hour' AND entity_id IN ({ids}) "
                        f"SAMPLE BY 1d ALIGN TO CALENDAR TIME ZONE '{TZ}'"
                    ),
                )
                # A day's consumption is the change of each meter's sum (HA's way).
                previous: dict[str, float] = {}
                total: dict[Any, float] = defaultdict(float)
                for ts, entity_id, day_sum in sorted(sums, key=lambda row: row[0]):
                    total[ts] += day_sum - previous.get(entity_id, 0.0)
                    previous[entity_id] = day_sum
                return {ts: (n, total.get(ts, 0.0)) for ts, n in counts}

            async def base_all_rows_daily() -> None:
                rows = await pg.fetch(
                    "SELECT entity_id, ts, value FROM energy_readings WHERE entity_id LIKE $1",
                    like,
                )
                prev: dict[str, float] = {}
                days: dict[Any, float] = defaultdict(float)
                for entity_id, ts, value in rows:
                    p = prev.get(entity_id)
                    days[ts.replace(tzinfo=UTC).astimezone(zone).date()] += (
                        0.0 if p is None else (value - p if value >= p else value)
                    )
                    prev[entity_id] = value

            # The answers are checked once, outside the timed loops.
            hourly = await client.get(
                f"/api/statistics/{meter}",
                params={"start_time": start_30d, "end_time": end, "period": "hour"},
            )
            assert len(hourly.json()["data"]) >= DAYS * 24 - 1, hourly.text[:200]
            raw = await client.get(
                f"/api/readings/{power}",
                params={
                    "since": since,
                    "until": (now + timedelta(seconds=1)).isoformat(),
                    "limit": 100000,
                },
            )
            assert raw.json()["count"] >= min(86_000, args.rows // 2 - 1000), raw.text[
                :200
            ]
            daily_answer = await client.get(
                f"/api/statistics/{meter}/daily",
                params={"start_time": start_30d, "end_time": end},
            )
            assert len(daily_answer.json()["data"]) >= DAYS, daily_answer.text[:200]

            summary = await all_rows_daily()
            assert len(summary) >= DAYS, summary
            expected = (ENTITIES - 1) * (DAYS * 24 - 1) * 0.1
            assert abs(sum(t for _, t in summary.values()) - expected) < 1e-6 * expected
            assert sum(n for n, _ in summary.values()) == written

            n = args.repeat
            results = [
                (
                    "hourly statistics, 30 days (API)",
                    await timed(n, api_hourly),
                    "≤ 20 ms",
                ),
                (
                    "  baseline: raw rows → Python hourly",
                    await timed(max(5, n // 3), base_hourly),
                    "",
                ),
                (
                    "24 h of 1 Hz raw readings, 86,400 rows (API)",
                    await timed(max(5, n // 3), api_raw),
                    "≤ 50 ms",
                ),
                (
                    "24 h of 1 Hz raw readings, columns (API, format=columns)",
                    await timed(max(5, n // 3), api_raw_columns),
                    "≤ 50 ms",
                ),
                (
                    "  baseline: raw rows, sort + JSON in Python",
                    await timed(5, base_raw),
                    "",
                ),
                (
                    "daily summary, 30 days, meter with statistics (API)",
                    await timed(n, api_daily),
                    "≤ 150 ms",
                ),
                (
                    "daily summary, 30 days, 1 Hz entity from raw rows (API)",
                    await timed(n, api_daily_raw),
                    "≤ 150 ms",
                ),
                (
                    "  baseline: raw rows → Python daily (one meter)",
                    await timed(max(5, n // 3), base_daily),
                    "",
                ),
                (
                    f"daily summary over all {written:,} rows (15-min view counts + statistics sums)",
                    await timed(10, all_rows_daily),
                    "≤ 150 ms",
                ),
                (
                    "  before: one SQL window (lag) over every raw row",
                    await timed(5, sql_all_rows_daily),
                    "",
                ),
                (
                    "  baseline: all raw rows → Python daily",
                    await timed(3, base_all_rows_daily),
                    "",
                ),
            ]
            print(
                f"{'measurement':60} {'p50 ms':>8} {'p99 ms':>8} {'server p50':>10}  target"
            )
            for name, (p50, p99, inside_ms), target in results:
                inside = "" if inside_ms is None else f"{inside_ms:10.1f}"
                print(f"{name:60} {p50:8.1f} {p99:8.1f} {inside:>10}  {target}")
        finally:
            await client.close()
    finally:
        server.terminate()
        server.wait(20)
        await pg.close()
        await mongo.client.drop_database(database)
        await mongo.close()
        await questdb.close()


if __name__ == "__main__":
    asyncio.run(main())
