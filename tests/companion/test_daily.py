"""Daily totals per local day equal HA's own statistics, across a meter reset and DST."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from companion.ha_client import HAClient
from tests.ha import HomeAssistant
from tests.servers import Servers, wait_for_rows

from .conftest import Companion
from .test_api import add_entity, write

ZONE = ZoneInfo("Europe/Amsterdam")  # HA's time zone in the test config
STEP = timedelta(minutes=15)


def synthetic_meter(
    start: datetime, end: datetime
) -> tuple[list[tuple[datetime, float]], list[float]]:
    """A kWh meter read every 15 min, replaced (reset to 0) once; also its true usage."""
    readings: list[tuple[datetime, float]] = []
    consumed: list[float] = []  # true consumption up to each reading
    meter, total = 50.0, 0.0
    reset_at = datetime(2025, 10, 27, 10, 0, tzinfo=ZONE).astimezone(UTC)
    moment = start
    index = 0
    while moment < end:
        use = round(0.05 + (index % 7) * 0.01, 4)
        if moment == reset_at:
            meter = use  # the new meter starts at zero and has counted `use` since
        else:
            meter += use
        total += use
        readings.append((moment, round(meter, 6)))
        consumed.append(total)
        moment += STEP
        index += 1
    return readings, consumed


def hourly_statistics(
    readings: list[tuple[datetime, float]], consumed: list[float]
) -> list[dict[str, Any]]:
    """HA-style hourly rows: state = last reading in the hour, sum = usage until then."""
    rows: dict[datetime, dict[str, Any]] = {}
    for (moment, value), total in zip(readings, consumed, strict=True):
        start = moment.replace(minute=0, second=0, microsecond=0)
        rows[start] = {"start": start, "state": value, "sum": round(total, 6)}
    return list(rows.values())


async def test_daily_totals_match_home_assistant(
    companion: Companion,
    home_assistant: HomeAssistant,
    servers: Servers,
    entity_suffix: str,
) -> None:
    with_stats = f"sensor.daily_stats_{entity_suffix}"
    raw_only = f"sensor.daily_raw_{entity_suffix}"
    for entity_id in (with_stats, raw_only):
        await add_entity(companion, entity_id)
    first = datetime(2025, 10, 24, tzinfo=ZONE).astimezone(UTC)
    end = datetime(2025, 10, 28, tzinfo=ZONE).astimezone(UTC)
    readings, consumed = synthetic_meter(first, end)
    await write(companion, servers, with_stats, readings)
    await write(companion, servers, raw_only, readings)
    stats = hourly_statistics(readings, consumed)
    await asyncio.to_thread(home_assistant.import_statistics, with_stats, "kWh", stats)

    # HA's own view: the change per day in its time zone.
    day_start = datetime(2025, 10, 25, tzinfo=ZONE).astimezone(UTC)
    client = HAClient(home_assistant.url, home_assistant.token)
    try:
        ha_days: list[dict[str, Any]] = []
        for _ in range(100):
            result = await client.statistics_during_period(
                day_start, end, [with_stats], period="day", types=["change"]
            )
            ha_days = result.get(with_stats, [])
            if len(ha_days) == 3:
                break
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    assert len(ha_days) == 3
    ha_change = {
        datetime.fromtimestamp(d["start"] / 1000, UTC)
        .astimezone(ZONE)
        .date()
        .isoformat(): d["change"]
        for d in ha_days
    }

    # Our copy of HA's statistics, through the sync job.
    sync = await companion.http.post(
        "/api/statistics/sync",
        json={
            "entity_ids": [with_stats],
            "start_time": first.isoformat(),
            "end_time": end.isoformat(),
        },
    )
    assert sync.status_code == 202
    await companion.jobs.wait_idle()
    await wait_for_rows(
        servers,
        f"select ts from energy_statistics where entity_id = '{with_stats}' and period = 'hour'",
        len(stats),
    )

    params = {"start_time": day_start.isoformat(), "end_time": end.isoformat()}
    for entity_id, source in ((with_stats, "statistics"), (raw_only, "readings")):
        response = await companion.http.get(
            f"/api/statistics/{entity_id}/daily", params=params
        )
        assert response.status_code == 200
        body = response.json()
        assert body["time_zone"] == "Europe/Amsterdam"
        days = {d["date"]: d for d in body["data"]}
        assert (
            sorted(days)
            == sorted(ha_change)
            == ["2025-10-25", "2025-10-26", "2025-10-27"]
        )
        for date, change in ha_change.items():
            assert abs(days[date]["total"] - change) < 1e-6, (
                entity_id,
                date,
                days[date],
                change,
            )
            assert days[date]["source"] == source
        # The DST day has 25 hours, hence 100 readings at 15-minute intervals.
        assert days["2025-10-26"]["hours"] == 25
        assert days["2025-10-26"]["readings"] == 100
        assert days["2025-10-25"]["readings"] == 96
        # Peaks are hourly consumption: at most 4 x 0.11 kWh, also in the repeated DST hour.
        assert all(0 < d["peak"] <= 0.44 + 1e-9 for d in days.values())
        # The meter replacement is not a spike: the reset day is in line with the others.
        assert 0 < days["2025-10-27"]["total"] < 2 * days["2025-10-25"]["total"]
        assert (
            abs(
                days["2025-10-27"]["avg_power"]
                - days["2025-10-27"]["total"] * 1000 / 24
            )
            < 1e-6
        )


async def test_readings_day_after_statistics_day_counts_the_boundary_once(
    companion: Companion,
    home_assistant: HomeAssistant,
    servers: Servers,
    entity_suffix: str,
) -> None:
    """A day without statistics yet continues from the state the previous day ended at."""
    entity_id = f"sensor.daily_boundary_{entity_suffix}"
    await add_entity(companion, entity_id)
    day_start = datetime(2025, 11, 22, tzinfo=ZONE).astimezone(UTC)
    midnight = datetime(2025, 11, 23, tzinfo=ZONE).astimezone(UTC)
    # Hourly readings on the hour through local midnight; the one at midnight is the
    # end state of the statistics' last hour (like the seeded dashboard data).
    readings = [
        (day_start + timedelta(hours=i), round(100 + 0.8 * i, 6)) for i in range(25)
    ]
    stats = [
        {
            "start": day_start + timedelta(hours=i),
            "state": readings[i + 1][1],
            "sum": round(readings[i + 1][1] - 100, 6),
        }
        for i in range(24)
    ]
    await write(companion, servers, entity_id, readings)
    await asyncio.to_thread(home_assistant.import_statistics, entity_id, "kWh", stats)

    client = HAClient(home_assistant.url, home_assistant.token)
    try:
        ha_days: list[dict[str, Any]] = []
        for _ in range(100):
            result = await client.statistics_during_period(
                day_start,
                midnight + timedelta(days=1),
                [entity_id],
                period="day",
                types=["change"],
            )
            ha_days = result.get(entity_id, [])
            if ha_days:
                break
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    assert len(ha_days) == 1  # HA has nothing for 2025-11-23 yet
    ha_change = ha_days[0]["change"]

    sync = await companion.http.post(
        "/api/statistics/sync",
        json={
            "entity_ids": [entity_id],
            "start_time": day_start.isoformat(),
            "end_time": midnight.isoformat(),
        },
    )
    assert sync.status_code == 202
    await companion.jobs.wait_idle()
    await wait_for_rows(
        servers,
        f"select ts from energy_statistics where entity_id = '{entity_id}'",
        len(stats),
    )

    response = await companion.http.get(
        f"/api/statistics/{entity_id}/daily",
        params={
            "start_time": day_start.isoformat(),
            "end_time": (midnight + timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 200
    days = {d["date"]: d for d in response.json()["data"]}
    assert abs(days["2025-11-22"]["total"] - ha_change) < 1e-6
    assert days["2025-11-22"]["source"] == "statistics"
    # The midnight reading's step is already in 2025-11-22: nothing new on 2025-11-23.
    assert days["2025-11-23"]["readings"] == 1
    assert days["2025-11-23"]["source"] == "readings"
    assert days["2025-11-23"]["total"] == 0
    assert days["2025-11-23"]["peak"] == 0

    # Later readings on the new day count from the midnight state.
    await write(
        companion,
        servers,
        entity_id,
        [*readings, (midnight + timedelta(minutes=30), readings[-1][1] + 0.5)],
    )
    response = await companion.http.get(
        f"/api/statistics/{entity_id}/daily",
        params={
            "start_time": midnight.isoformat(),
            "end_time": (midnight + timedelta(days=1)).isoformat(),
        },
    )
    day = response.json()["data"][0]
    assert day["readings"] == 2
    assert abs(day["total"] - 0.5) < 1e-6
