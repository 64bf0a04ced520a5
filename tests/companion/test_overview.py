"""The Energy overview against the real HA process: its figures are HA's own, per local day.

HA holds a week of hourly statistics, 19 to 25 October 2026 in Europe/Amsterdam (the
25th has 25 hours: summer time ends), with a meter reset, and Energy settings that
name them. The overview's figures must equal `recorder/statistics_during_period`'s
daily changes, and the formulas applied to them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.ha import HomeAssistant
from tests.servers import Servers, wait_for_rows

from .conftest import Companion, add_entity, write

ZONE = ZoneInfo("Europe/Amsterdam")  # the test HA's zone
FIRST_DAY = datetime(2026, 10, 19, tzinfo=ZONE)  # a Monday
DAYS = 7
IMPORT_PRICE = 0.31
EXPORT_PRICE = 0.07
GAS_PRICE = 1.25
TOLERANCE = 0.001


@dataclass(frozen=True, slots=True)
class Home:
    """The statistic ids of one test home."""

    grid_import: str
    grid_export: str
    solar: str
    battery_out: str
    battery_in: str
    fridge: str
    freezer: str  # inside the fridge's total
    gas: str

    @property
    def energy(self) -> list[str]:
        return [
            self.grid_import,
            self.grid_export,
            self.solar,
            self.battery_out,
            self.battery_in,
            self.fridge,
            self.freezer,
        ]


def _hours() -> list[datetime]:
    """Every UTC hour from a day before the week to a day after it."""
    first = (FIRST_DAY - timedelta(days=1)).astimezone(UTC)
    last = (FIRST_DAY + timedelta(days=DAYS + 1)).astimezone(UTC)
    return [
        first + timedelta(hours=i)
        for i in range(int((last - first) / timedelta(hours=1)))
    ]


def _rows(
    seed: int, scale: float, *, reset_at: datetime | None = None
) -> list[dict[str, Any]]:
    """Hourly statistics of a meter: `state` drops to 0 at `reset_at`, `sum` goes on."""
    chance = random.Random(seed)  # noqa: S311 - test data, not secrets
    state = total = 0.0
    last_reset: datetime = _hours()[0]
    rows = []
    for start in _hours():
        used = round(chance.uniform(0, scale), 3)
        if reset_at is not None and start == reset_at:
            state, last_reset = 0.0, start
        state += used
        total += used
        rows.append(
            {"start": start, "state": state, "sum": total, "last_reset": last_reset}
        )
    return rows


async def _import(ha: HomeAssistant, home: Home) -> None:
    reset = datetime(2026, 10, 22, 13, tzinfo=UTC)
    scales = dict(zip(home.energy, (1.2, 0.8, 1.5, 0.4, 0.5, 0.3, 0.1), strict=True))
    for seed, (stat, scale) in enumerate(scales.items()):
        rows = _rows(seed, scale, reset_at=reset if stat == home.grid_import else None)
        await asyncio.to_thread(ha.import_statistics, stat, "kWh", rows)
    gas_rows = _rows(99, 0.2)
    await asyncio.to_thread(
        ha.import_statistics, home.gas, "m³", gas_rows, unit_class="volume"
    )
    ids = [*home.energy, home.gas]
    for _ in range(100):  # the recorder thread applies imports
        found = await _ha_changes(
            ha, ids, FIRST_DAY, FIRST_DAY + timedelta(days=DAYS), "day"
        )
        if len(found) == len(ids) and all(len(days) == DAYS for days in found.values()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"HA did not apply the imported statistics: {found}")


async def _ha_changes(
    ha: HomeAssistant, ids: list[str], start: datetime, end: datetime, period: str
) -> dict[str, list[dict[str, Any]]]:
    """HA's changes per period of [start, end), of the periods starting in it."""
    answer: dict[str, list[dict[str, Any]]] = await asyncio.to_thread(
        ha.command,
        {
            "type": "recorder/statistics_during_period",
            "start_time": start.isoformat(),
            "end_time": end.isoformat(),
            "statistic_ids": ids,
            "period": period,
            "types": ["change"],
        },
    )
    # HA also answers the period holding end_time.
    last = end.timestamp() * 1000
    return {
        stat: [row for row in rows if row["start"] < last]
        for stat, rows in answer.items()
    }


def _prefs(home: Home) -> dict[str, Any]:
    return {
        "energy_sources": [
            {
                "type": "grid",
                "flow_from": [
                    {
                        "stat_energy_from": home.grid_import,
                        "stat_cost": None,
                        "entity_energy_price": None,
                        "number_energy_price": IMPORT_PRICE,
                    }
                ],
                "flow_to": [
                    {
                        "stat_energy_to": home.grid_export,
                        "stat_compensation": None,
                        "entity_energy_price": None,
                        "number_energy_price": EXPORT_PRICE,
                    }
                ],
                "cost_adjustment_day": 0.0,
            },
            {
                "type": "solar",
                "stat_energy_from": home.solar,
                "config_entry_solar_forecast": None,
            },
            {
                "type": "battery",
                "stat_energy_from": home.battery_out,
                "stat_energy_to": home.battery_in,
            },
            {
                "type": "gas",
                "stat_energy_from": home.gas,
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": GAS_PRICE,
            },
        ],
        "device_consumption": [
            {"stat_consumption": home.fridge},
            {"stat_consumption": home.freezer, "included_in_stat": home.fridge},
        ],
        "device_consumption_water": [],
    }


@pytest.fixture
async def home(hass_server: HomeAssistant, entity_suffix: str) -> AsyncIterator[Home]:
    """A week of HA statistics and Energy settings naming them; none afterwards."""
    home = Home(
        *(
            f"sensor.ov_{name}_{entity_suffix}"
            for name in (
                "import",
                "export",
                "solar",
                "battery_out",
                "battery_in",
                "fridge",
                "freezer",
                "gas",
            )
        )
    )
    await _import(hass_server, home)
    await asyncio.to_thread(
        hass_server.command, {"type": "energy/save_prefs", **_prefs(home)}
    )
    yield home
    await asyncio.to_thread(
        hass_server.command,
        {
            "type": "energy/save_prefs",
            "energy_sources": [],
            "device_consumption": [],
            "device_consumption_water": [],
        },
    )


async def _synced(companion: Companion, servers: Servers, home: Home) -> None:
    """The settings followed and their statistics copied, as reconciliation does."""
    backfills = companion.jobs.backfills
    await backfills.energy_settings_sync()
    result = await backfills.statistics_sync(
        None,
        FIRST_DAY - timedelta(days=1),
        FIRST_DAY + timedelta(days=DAYS + 1),
    )
    assert result["entities"] == 8, result  # the statistics the settings name
    ids = ", ".join(f"'{stat}'" for stat in [*home.energy, home.gas])
    await wait_for_rows(
        servers,
        f"select ts from energy_statistics where entity_id in ({ids})",
        result["rows"],
    )


def _expected(ha_day: dict[str, float], home: Home) -> dict[str, Any]:
    """The overview's figures, computed from HA's own changes."""
    grid_import, grid_export = ha_day[home.grid_import], ha_day[home.grid_export]
    solar = ha_day[home.solar]
    battery_out, battery_in = ha_day[home.battery_out], ha_day[home.battery_in]
    home_kwh = grid_import + solar + battery_out - grid_export - battery_in
    return {
        "grid_import_kwh": grid_import,
        "grid_export_kwh": grid_export,
        "solar_kwh": solar,
        "battery_out_kwh": battery_out,
        "battery_in_kwh": battery_in,
        "home_kwh": home_kwh,
        "untracked_kwh": max(0.0, home_kwh - ha_day[home.fridge]),
        "over_reported_kwh": max(0.0, ha_day[home.fridge] - home_kwh),
        "cost": grid_import * IMPORT_PRICE + ha_day[home.gas] * GAS_PRICE,
        "compensation": grid_export * EXPORT_PRICE,
        "self_consumption": max(0.0, min(1.0, (solar - grid_export) / solar)),
        "self_sufficiency": max(0.0, 1.0 - min(1.0, grid_import / home_kwh)),
    }


def _check(figures: dict[str, Any], ha_day: dict[str, float], home: Home) -> None:
    for key, value in _expected(ha_day, home).items():
        assert figures[key] == pytest.approx(value, abs=TOLERANCE), key
    assert figures["gas"]["unit"] == "m³"
    assert figures["gas"]["value"] == pytest.approx(ha_day[home.gas], abs=TOLERANCE)
    assert figures["devices"] == pytest.approx(
        {home.fridge: ha_day[home.fridge], home.freezer: ha_day[home.freezer]},
        abs=TOLERANCE,
    )
    assert "water" not in figures  # not configured: absent, not zero


async def test_each_local_day_is_what_home_assistant_reports(
    companion: Companion, hass_server: HomeAssistant, servers: Servers, home: Home
) -> None:
    await _synced(companion, servers, home)
    end = FIRST_DAY + timedelta(days=DAYS)
    response = await companion.http.get(
        "/api/energy/overview",
        params={
            "start_time": FIRST_DAY.isoformat(),
            "end_time": end.isoformat(),
            "period": "day",
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["time_zone"] == "Europe/Amsterdam"
    assert answer["currency"] == "EUR"
    ids = [*home.energy, home.gas]
    ha_days = await _ha_changes(hass_server, ids, FIRST_DAY, end, "day")
    buckets = answer["buckets"]
    assert len(buckets) == DAYS
    ends = [datetime.fromisoformat(bucket["end"]) for bucket in buckets]
    # The last day is 25 hours long: summer time ends on it.
    assert ends[-1] - datetime.fromisoformat(buckets[-1]["start"]) == timedelta(
        hours=25
    )
    for index, bucket in enumerate(buckets):
        start = datetime.fromisoformat(bucket["start"])
        assert start == (FIRST_DAY + timedelta(days=index)).astimezone(UTC)
        ha_day = {stat: ha_days[stat][index]["change"] for stat in ids}
        assert ha_days[home.grid_import][index]["start"] == start.timestamp() * 1000
        _check(bucket, ha_day, home)
    week = {stat: sum(day["change"] for day in ha_days[stat]) for stat in ids}
    _check(answer["totals"], week, home)

    # The same week as one bucket is the sum of its days.
    weekly = await companion.http.get(
        "/api/energy/overview",
        params={
            "start_time": FIRST_DAY.isoformat(),
            "end_time": end.isoformat(),
            "period": "week",
        },
    )
    assert weekly.status_code == 200, weekly.text
    (only,) = weekly.json()["buckets"]
    _check(only, week, home)


async def test_previous_spans_and_hours(
    companion: Companion, hass_server: HomeAssistant, servers: Servers, home: Home
) -> None:
    await _synced(companion, servers, home)
    middle = FIRST_DAY + timedelta(days=3)  # Thursday: three days before it
    response = await companion.http.get(
        "/api/energy/overview",
        params={
            "start_time": middle.isoformat(),
            "end_time": (middle + timedelta(days=3)).isoformat(),
            "period": "day",
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    ids = [*home.energy, home.gas]
    before = await _ha_changes(hass_server, ids, FIRST_DAY, middle, "day")
    _check(
        answer["previous"],
        {stat: sum(day["change"] for day in before[stat]) for stat in ids},
        home,
    )
    # A year before there is nothing: every configured figure is there, and zero.
    assert answer["previous_year"]["grid_import_kwh"] == 0
    assert answer["previous_year"]["self_consumption"] is None

    # Hours are HA's hours.
    hours = await companion.http.get(
        "/api/energy/overview",
        params={
            "start_time": middle.isoformat(),
            "end_time": (middle + timedelta(hours=5)).isoformat(),
            "period": "hour",
        },
    )
    assert hours.status_code == 200, hours.text
    ha_hours = await _ha_changes(
        hass_server, [home.solar], middle, middle + timedelta(hours=5), "hour"
    )
    assert [b["solar_kwh"] for b in hours.json()["buckets"]] == pytest.approx(
        [row["change"] for row in ha_hours[home.solar]], abs=TOLERANCE
    )


async def test_hours_after_the_last_statistic_come_from_the_readings(
    companion: Companion, hass_server: HomeAssistant, servers: Servers, home: Home
) -> None:
    await _synced(companion, servers, home)
    last_statistic = _hours()[-1]  # HA's statistics end with this hour
    after = last_statistic + timedelta(hours=1)
    points = [
        (after - timedelta(minutes=1), 100.0),  # inside HA's last hour: not counted
        (after + timedelta(minutes=10), 100.5),
        (after + timedelta(minutes=40), 101.25),
        (after + timedelta(minutes=80), 101.5),
    ]
    await add_entity(companion, home.grid_import)
    await write(companion, servers, home.grid_import, points)
    response = await companion.http.get(
        "/api/energy/overview",
        params={
            "start_time": last_statistic.isoformat(),
            "end_time": (after + timedelta(hours=2)).isoformat(),
            "period": "hour",
        },
    )
    assert response.status_code == 200, response.text
    ha_hour = await _ha_changes(
        hass_server, [home.grid_import], last_statistic, after, "hour"
    )
    imported = [bucket["grid_import_kwh"] for bucket in response.json()["buckets"]]
    assert imported == pytest.approx(
        [ha_hour[home.grid_import][0]["change"], 1.25, 0.25], abs=TOLERANCE
    )
