"""Daily totals per local day equal HA's own statistics, across a meter reset and DST.

Days are HA's days: the companion keeps HA's time zone once it has learnt it, and
refuses days while it never has, rather than count them in another zone.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.asynchronous.database import AsyncDatabase
import pytest

from companion.config import CompanionConfig, ConfigError
from companion.core import schema
from companion.ha_client import HAClient
from tests.ha import HomeAssistant
from tests.servers import Servers, free_port, wait_for_rows

from .conftest import (
    Companion,
    add_entity,
    companion_config,
    error_code,
    hour,
    run_companion,
    write,
)

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
    await companion.jobs.api_jobs.wait_idle()
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
    await companion.jobs.api_jobs.wait_idle()
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


async def home_assistant_daily_change(
    home_assistant: HomeAssistant,
    entity_id: str,
    start: datetime,
    end: datetime,
    days: int,
) -> dict[str, float]:
    """HA's own change per day in its time zone (statistics_during_period, period day)."""
    client = HAClient(home_assistant.url, home_assistant.token)
    try:
        ha_days: list[dict[str, Any]] = []
        for _ in range(100):
            result = await client.statistics_during_period(
                start, end, [entity_id], period="day", types=["change"]
            )
            ha_days = result.get(entity_id, [])
            if len(ha_days) == days:
                break
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    assert len(ha_days) == days, ha_days
    return {
        datetime.fromtimestamp(d["start"] / 1000, UTC)
        .astimezone(ZONE)
        .date()
        .isoformat(): d["change"]
        for d in ha_days
    }


async def test_daily_totals_keep_home_assistants_zone_after_a_restart_without_it(
    home_assistant: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    mongo_db: AsyncDatabase[dict[str, object]],
    entity_suffix: str,
) -> None:
    """Learnt from the real HA once, the zone outlives a restart while HA is away."""
    with_stats = f"sensor.restart_stats_{entity_suffix}"
    raw_only = f"sensor.restart_raw_{entity_suffix}"
    first = datetime(2025, 10, 24, tzinfo=ZONE).astimezone(UTC)
    day_start = datetime(2025, 10, 25, tzinfo=ZONE).astimezone(UTC)
    end = datetime(2025, 10, 28, tzinfo=ZONE).astimezone(UTC)
    readings, consumed = synthetic_meter(first, end)
    stats = hourly_statistics(readings, consumed)
    await asyncio.to_thread(home_assistant.import_statistics, with_stats, "kWh", stats)
    ha_change = await home_assistant_daily_change(
        home_assistant, with_stats, day_start, end, 3
    )
    assert sorted(ha_change) == ["2025-10-25", "2025-10-26", "2025-10-27"]
    params = {"start_time": day_start.isoformat(), "end_time": end.isoformat()}

    # 1. Connected to HA: the companion learns HA's zone, and keeps it in MongoDB.
    connected = companion_config(servers, mongodb_database_name, home_assistant)
    async with run_companion(connected) as companion:
        for entity_id in (with_stats, raw_only):
            await add_entity(companion, entity_id)
            await write(companion, servers, entity_id, readings)
        status = (await companion.http.get("/api/status")).json()
        assert status["home_assistant"]["connected"] is True
        assert status["time_zone"] == "Europe/Amsterdam"
        assert status["time_zone_known"] is True
        assert status["time_zone_source"] == "home_assistant"
        sync = await companion.http.post(
            "/api/statistics/sync",
            json={
                "entity_ids": [with_stats],
                "start_time": first.isoformat(),
                "end_time": end.isoformat(),
            },
        )
        assert sync.status_code == 202
        await companion.jobs.api_jobs.wait_idle()
        await wait_for_rows(
            servers,
            f"select ts from energy_statistics where entity_id = '{with_stats}' "
            "and period = 'hour'",
            len(stats),
        )
        stored = await mongo_db[schema.SETTINGS].find_one({"_id": "time_zone"})
        assert stored is not None
        assert stored["time_zone"] == "Europe/Amsterdam"
        assert stored["home_assistant_url"] == home_assistant.url

    # 2. Restarted while HA is unreachable: nothing listens at its URL any more.
    away = companion_config(
        servers,
        mongodb_database_name,
        ha_url=f"http://127.0.0.1:{free_port()}",
        ha_token=home_assistant.token,
    )
    async with run_companion(away) as restarted:
        status = (await restarted.http.get("/api/status")).json()
        assert status["home_assistant"]["connected"] is False
        assert status["time_zone"] == "Europe/Amsterdam"
        assert status["time_zone_source"] == "stored"
        assert isinstance(status["events_today"], int)
        for entity_id, source in (
            (with_stats, "statistics"),
            (raw_only, "readings"),
        ):
            response = await restarted.http.get(
                f"/api/statistics/{entity_id}/daily", params=params
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["time_zone"] == "Europe/Amsterdam"
            assert body["time_zone_known"] is True
            assert body["time_zone_source"] == "stored"
            days = {d["date"]: d for d in body["data"]}
            # Three of HA's days, not the four UTC days the window touches.
            assert sorted(days) == sorted(ha_change), (entity_id, sorted(days))
            for date, change in ha_change.items():
                assert abs(days[date]["total"] - change) < 1e-6, (
                    entity_id,
                    date,
                    days[date],
                    change,
                )
                assert days[date]["source"] == source
            assert days["2025-10-26"]["hours"] == 25  # Amsterdam's DST day
            assert days["2025-10-25"]["start_time"] == "2025-10-24T22:00:00Z"
        # HA's day statistics, filled from readings, follow the same days.
        by_day = await restarted.http.get(
            f"/api/statistics/{raw_only}",
            params={**params, "period": "day"},
        )
        assert by_day.status_code == 200
        assert by_day.json()["time_zone"] == "Europe/Amsterdam"
        assert [row["start_time"] for row in by_day.json()["data"]] == [
            "2025-10-24T22:00:00Z",
            "2025-10-25T22:00:00Z",
            "2025-10-26T23:00:00Z",
        ]


async def test_days_are_refused_while_home_assistants_zone_was_never_learnt(
    servers: Servers,
    mongodb_database_name: str,
    mongo_db: AsyncDatabase[dict[str, object]],
    entity_suffix: str,
) -> None:
    """Never connected to HA: an explicit "zone unknown" answer, never UTC days."""
    entity_id = f"sensor.no_zone_{entity_suffix}"
    first = datetime(2025, 10, 24, tzinfo=ZONE).astimezone(UTC)
    end = datetime(2025, 10, 28, tzinfo=ZONE).astimezone(UTC)
    readings, _ = synthetic_meter(first, end)
    params = {"start_time": first.isoformat(), "end_time": end.isoformat()}
    unreachable = f"http://127.0.0.1:{free_port()}"
    # HA not configured at all; then configured, but never answering.
    for ha_url in (None, unreachable):
        config = companion_config(
            servers,
            mongodb_database_name,
            ha_url=ha_url,
            ha_token="never-used" if ha_url else None,
        )
        async with run_companion(config) as companion:
            if ha_url is None:
                await add_entity(companion, entity_id)
                await write(companion, servers, entity_id, readings)
            daily = await companion.http.get(
                f"/api/statistics/{entity_id}/daily", params=params
            )
            assert daily.status_code == 409, daily.text
            assert error_code(daily) == "time_zone_unknown"
            assert "Settings" in daily.json()["error"]["message"]
            for period in ("day", "month"):
                refused = await companion.http.get(
                    f"/api/statistics/{entity_id}",
                    params={**params, "period": period},
                )
                assert refused.status_code == 409
                assert error_code(refused) == "time_zone_unknown"
            # Hours follow no zone: they are still answered.
            hourly = await companion.http.get(
                f"/api/statistics/{entity_id}", params={**params, "period": "hour"}
            )
            assert hourly.status_code == 200
            assert len(hourly.json()["data"]) == len({hour(t) for t, _ in readings})
            assert hourly.json()["time_zone"] is None
            unknown = {
                "time_zone": None,
                "time_zone_known": False,
                "time_zone_source": None,
            }
            status = (await companion.http.get("/api/status")).json()
            assert {k: status[k] for k in unknown} == unknown
            assert status["events_today"] is None  # "today" is one of HA's days
            settings = (await companion.http.get("/api/settings")).json()
            assert {k: settings[k] for k in unknown} == unknown
            # The unknown entity still answers 404 first.
            missing = await companion.http.get(
                "/api/statistics/sensor.nothing_here/daily"
            )
            assert missing.status_code == 404

    # The OpenAPI document describes the signal and the refusal.
    async with run_companion(
        companion_config(servers, mongodb_database_name)
    ) as companion:
        document = (await companion.http.get("/api/openapi.json")).json()
    paths = document["paths"]
    daily_get = paths["/api/statistics/{entity_id}/daily"]["get"]
    assert "time_zone_unknown" in daily_get["responses"]["409"]["description"]
    assert "409" in paths["/api/statistics/{entity_id}"]["get"]["responses"]
    for path in ("/api/status", "/api/settings"):
        schema_ = paths[path]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ]
        assert {"time_zone", "time_zone_known", "time_zone_source"} <= set(
            schema_["required"]
        )
        assert schema_["properties"]["time_zone"]["type"] == ["string", "null"]
        assert None in schema_["properties"]["time_zone_source"]["enum"]


async def test_a_stated_zone_stands_in_until_home_assistant_answers(
    servers: Servers,
    mongodb_database_name: str,
    mongo_db: AsyncDatabase[dict[str, object]],
    home_assistant: HomeAssistant,
    entity_suffix: str,
) -> None:
    """ENERGY_TRACKER_TIME_ZONE states HA's zone before HA was reached; HA's own wins."""
    entity_id = f"sensor.stated_zone_{entity_suffix}"
    first = datetime(2025, 10, 25, tzinfo=ZONE).astimezone(UTC)
    end = datetime(2025, 10, 27, tzinfo=ZONE).astimezone(UTC)
    readings, _ = synthetic_meter(first, end)
    params = {"start_time": first.isoformat(), "end_time": end.isoformat()}
    stated = companion_config(
        servers, mongodb_database_name, time_zone="America/New_York"
    )
    async with run_companion(stated) as companion:
        await add_entity(companion, entity_id)
        await write(companion, servers, entity_id, readings)
        body = (
            await companion.http.get(
                f"/api/statistics/{entity_id}/daily", params=params
            )
        ).json()
        assert (body["time_zone"], body["time_zone_source"]) == (
            "America/New_York",
            "environment",
        )
        # New York's days: the window's first hours are the end of its 2025-10-24.
        assert body["data"][0]["date"] == "2025-10-24"
        assert body["data"][0]["start_time"] == "2025-10-24T04:00:00Z"
    # Once HA has answered, its zone is the one, also after a restart without HA.
    both = companion_config(
        servers, mongodb_database_name, home_assistant, time_zone="America/New_York"
    )
    async with run_companion(both) as companion:
        status = (await companion.http.get("/api/status")).json()
        assert (status["time_zone"], status["time_zone_source"]) == (
            "Europe/Amsterdam",
            "home_assistant",
        )
    async with run_companion(stated) as companion:
        body = (
            await companion.http.get(
                f"/api/statistics/{entity_id}/daily", params=params
            )
        ).json()
        assert (body["time_zone"], body["time_zone_source"]) == (
            "Europe/Amsterdam",
            "stored",
        )
        assert [d["date"] for d in body["data"]] == ["2025-10-25", "2025-10-26"]


def test_a_stated_zone_must_be_an_iana_zone() -> None:
    assert CompanionConfig.from_env({}).time_zone is None
    assert (
        CompanionConfig.from_env(
            {"ENERGY_TRACKER_TIME_ZONE": "Europe/Amsterdam"}
        ).time_zone
        == "Europe/Amsterdam"
    )
    with pytest.raises(ConfigError, match="ENERGY_TRACKER_TIME_ZONE"):
        CompanionConfig.from_env({"ENERGY_TRACKER_TIME_ZONE": "Mars/Olympus_Mons"})
