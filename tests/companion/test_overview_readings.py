"""The Energy overview where HA has no statistics: the readings' increases, and standby power."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from companion.core import schema
from companion.energy_settings import ENERGY_SETTINGS_ID
from tests.servers import Servers, wait_for_rows

from .conftest import Companion
from .readings_path import Reading, write_readings

ZONE = ZoneInfo("Europe/Amsterdam")  # the test HA's zone
FIRST_DAY = datetime(2026, 3, 28, tzinfo=ZONE)  # summer time starts on the 29th
DAYS = 2
STEP = timedelta(minutes=5)


def _moments() -> list[datetime]:
    start = FIRST_DAY.astimezone(UTC)
    end = (FIRST_DAY + timedelta(days=DAYS)).astimezone(UTC)
    return [start + STEP * i for i in range(int((end - start) / STEP))]


def _import_meter(moments: list[datetime]) -> list[float]:
    """A meter using 0.02 kWh per 5 minutes, 0.1 from 18:00 to 20:00, reset at noon on day 2."""
    values, value = [], 40.0
    for moment in moments:
        local = moment.astimezone(ZONE)
        value += 0.1 if 18 <= local.hour < 20 else 0.02
        if (
            local.date() == (FIRST_DAY + timedelta(days=1)).date()
            and local.hour == 12
            and local.minute == 0
        ):
            value = 0.0
        values.append(round(value, 6))
    return values


def _expected_days(moments: list[datetime], values: list[float]) -> list[float]:
    """Reset-aware increase per local day: the oracle, reading by reading."""
    days = [0.0] * DAYS
    for index in range(1, len(values)):
        step = values[index] - values[index - 1]
        if step < 0:
            step = values[index]
        day = (moments[index].astimezone(ZONE).date() - FIRST_DAY.date()).days
        days[day] += step
    return days


def _expected_standby(moments: list[datetime], values: list[float]) -> list[float]:
    """The lowest quarter hour's increase per local day, as mean W: the oracle."""
    quarters: dict[datetime, float] = {}
    for index in range(1, len(values)):
        step = values[index] - values[index - 1]
        if step < 0:
            step = values[index]
        moment = moments[index]
        quarter = moment.replace(minute=moment.minute // 15 * 15)
        quarters[quarter] = quarters.get(quarter, 0.0) + step
    first = moments[0]  # its quarter has no quarter before it with a reading
    lowest: dict[int, float] = {}
    for quarter, kwh in quarters.items():
        if quarter == first:
            continue
        day = (quarter.astimezone(ZONE).date() - FIRST_DAY.date()).days
        lowest[day] = min(lowest.get(day, kwh), kwh)
    return [round(lowest[day] * 4000, 1) for day in range(DAYS)]


async def _settings(companion: Companion, prefs: dict[str, Any]) -> None:
    await companion.hub.mongo.db[schema.SETTINGS].insert_one(
        {
            "_id": ENERGY_SETTINGS_ID,
            "prefs": prefs,
            "units": [],
            "currency": "EUR",
            "synced_at": datetime.now(UTC),
            "home_assistant_url": None,
        }
    )


async def _write(
    companion: Companion, servers: Servers, readings: list[Reading]
) -> None:
    await write_readings(companion.hub.store, readings)
    ids = ", ".join(f"'{entity}'" for entity in {r.entity_id for r in readings})
    await wait_for_rows(
        servers,
        f"select ts from energy_readings where entity_id in ({ids})",
        len(readings),
    )


async def _overview(companion: Companion) -> dict[str, Any]:
    response = await companion.http.get(
        "/api/energy/overview",
        params={
            "start_time": FIRST_DAY.isoformat(),
            "end_time": (FIRST_DAY + timedelta(days=DAYS)).isoformat(),
            "period": "day",
        },
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_days_from_readings_and_standby_from_the_meters(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    meter = f"sensor.rf_import_{entity_suffix}"
    moments = _moments()
    values = _import_meter(moments)
    await _settings(
        companion,
        {
            "energy_sources": [
                {
                    "type": "grid",
                    "flow_from": [
                        {"stat_energy_from": meter, "number_energy_price": 0.25}
                    ],
                    "flow_to": [],
                }
            ]
        },
    )
    await _write(
        companion,
        servers,
        [
            Reading(moment, meter, value, "kWh", "energy", "total_increasing", "live")
            for moment, value in zip(moments, values, strict=True)
        ],
    )
    # Standby comes from the 15-minute view, which QuestDB refreshes on its own.
    await wait_for_rows(
        servers,
        f"select ts from {schema.READINGS_15M_VIEW} where entity_id = '{meter}'",
        len(moments) // 3,
    )
    answer = await _overview(companion)
    expected = _expected_days(moments, values)
    days = answer["buckets"]
    assert [day["grid_import_kwh"] for day in days] == pytest.approx(expected, abs=1e-6)
    assert [day["cost"] for day in days] == pytest.approx(
        [kwh * 0.25 for kwh in expected], abs=1e-6
    )
    # The 29th has 23 hours (summer time starts): 23 * 12 steps, less the reset.
    assert datetime.fromisoformat(days[1]["end"]) - datetime.fromisoformat(
        days[1]["start"]
    ) == timedelta(hours=23)
    assert "solar_kwh" not in days[0]
    assert "gas" not in answer["totals"]
    # The lowest quarter: 3 steps of 0.02 kWh in 15 minutes = 240 W, and on the
    # 29th the reset's quarter, which counts from the reset on.
    standby = _expected_standby(moments, values)
    assert standby == [240.0, 160.0]
    assert answer["base_load_source"] == "meters"
    assert [day["w"] for day in answer["base_load_w"]] == standby
    assert [day["base_load_w"] for day in days] == standby


async def test_standby_from_the_home_power_sensor(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    power = f"sensor.rf_home_power_{entity_suffix}"
    moments = _moments()
    # 150 W at night from 02:00 to 03:00 local, 600 W otherwise; 900 W on the 2nd day's noon.
    readings = []
    for moment in moments:
        local = moment.astimezone(ZONE)
        watts = 150.0 if local.hour == 2 else 600.0
        if local.day != FIRST_DAY.day:
            watts += 30.0
        readings.append(
            Reading(moment, power, watts, "W", "power", "measurement", "live")
        )
    await _settings(
        companion,
        {"energy_sources": [{"type": "home", "stat_rate": power}]},
    )
    await _write(companion, servers, readings)
    answer = await _overview(companion)
    assert answer["base_load_source"] == "home_power"
    # On the 29th 02:00 local does not exist (clocks go from 02:00 to 03:00).
    assert [day["w"] for day in answer["base_load_w"]] == [150.0, 630.0]
    assert answer["totals"]["home_kwh"] == 0  # power is no energy: no source named


def _hourly(moments: list[datetime], values: list[float]) -> dict[datetime, float]:
    """Reset-aware increase per UTC hour, reading by reading."""
    hours: dict[datetime, float] = {}
    for index in range(1, len(values)):
        step = values[index] - values[index - 1]
        hour = moments[index].replace(minute=0)
        hours[hour] = hours.get(hour, 0.0) + (step if step >= 0 else values[index])
    return hours


async def test_costs_from_the_tariff_and_a_price_entity(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    grid_in = f"sensor.rf_tariff_import_{entity_suffix}"
    grid_out = f"sensor.rf_tariff_export_{entity_suffix}"
    price = f"sensor.rf_export_price_{entity_suffix}"
    moments = _moments()
    import_values = _import_meter(moments)
    export_values = [round(0.01 * i, 6) for i in range(len(moments))]
    # The export price changes at 10:00 local each day (one reading then, one at start).
    price_points = [(moments[0], 0.05)] + [
        (datetime(2026, 3, day, 10, tzinfo=ZONE).astimezone(UTC), 0.05 + 0.01 * day)
        for day in (28, 29)
    ]
    await _settings(
        companion,
        {
            "energy_sources": [
                {
                    "type": "grid",
                    "flow_from": [{"stat_energy_from": grid_in}],
                    "flow_to": [
                        {"stat_energy_to": grid_out, "entity_energy_price": price}
                    ],
                }
            ]
        },
    )
    tariff = {
        "grid_import": {
            "price": 0.2,
            "windows": [
                {"days": "weekend", "start": "00:00", "end": "06:00", "price": 0.1},
                {"days": "weekdays", "start": "07:00", "end": "23:00", "price": 0.3},
            ],
        }
    }
    saved = await companion.http.post("/api/settings/tariff", json=tariff)
    assert saved.status_code == 200, saved.text
    assert (await companion.http.get("/api/settings/tariff")).json() == {
        "grid_import": {
            **tariff["grid_import"],
            "windows": tariff["grid_import"]["windows"],
        },
        "grid_export": None,
    }
    await _write(
        companion,
        servers,
        [
            *(
                Reading(m, grid_in, v, "kWh", "energy", "total_increasing", "live")
                for m, v in zip(moments, import_values, strict=True)
            ),
            *(
                Reading(m, grid_out, v, "kWh", "energy", "total_increasing", "live")
                for m, v in zip(moments, export_values, strict=True)
            ),
            *(
                Reading(m, price, v, "EUR/kWh", None, "measurement", "live")
                for m, v in price_points
            ),
        ],
    )
    answer = await _overview(companion)
    assert answer["price_sources"] == {grid_in: "tariff", grid_out: "entity"}

    def import_price(hour: datetime) -> float:
        local = (hour + timedelta(minutes=30)).astimezone(ZONE)
        return 0.1 if local.hour < 6 else 0.2  # both days are a weekend

    def export_price(hour: datetime) -> float:
        middle = hour + timedelta(minutes=30)
        return [value for moment, value in price_points if moment <= middle][-1]

    costs = [0.0] * DAYS
    compensation = [0.0] * DAYS
    for hour, kwh in _hourly(moments, import_values).items():
        costs[(hour.astimezone(ZONE).date() - FIRST_DAY.date()).days] += (
            kwh * import_price(hour)
        )
    for hour, kwh in _hourly(moments, export_values).items():
        day = (hour.astimezone(ZONE).date() - FIRST_DAY.date()).days
        compensation[day] += kwh * export_price(hour)
    assert [d["cost"] for d in answer["buckets"]] == pytest.approx(costs, abs=1e-6)
    assert [d["compensation"] for d in answer["buckets"]] == pytest.approx(
        compensation, abs=1e-6
    )


@pytest.mark.parametrize(
    ("tariff", "message"),
    [
        (
            {"grid_import": {}},
            "grid_import: a tariff needs a price or a window",
        ),
        (
            {
                "grid_import": {
                    "windows": [{"start": "7:00", "end": "08:00", "price": 1}]
                }
            },
            (
                "grid_import.windows.0.start: '7:00' is no time of day: "
                "write HH:MM, 00:00 to 24:00"
            ),
        ),
        (
            {"grid_import": {"price": -1}},
            "grid_import.price: Input should be greater than or equal to 0",
        ),
        ({"grid_import": {"price": 1, "peak": 2}}, "unknown field 'grid_import.peak'"),
    ],
)
async def test_a_bad_tariff_says_what_to_fix_and_keeps_the_saved_one(
    companion: Companion, tariff: dict[str, Any], message: str
) -> None:
    response = await companion.http.post("/api/settings/tariff", json=tariff)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {"code": "bad_parameter", "message": message}
    kept = await companion.http.get("/api/settings/tariff")
    assert kept.json() == {"grid_import": None, "grid_export": None}


async def test_gaps_in_the_readings_are_stepped_over(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    meter = f"sensor.rf_gaps_{entity_suffix}"
    start = FIRST_DAY.astimezone(UTC)
    points = [
        (start - timedelta(minutes=5), 10.0),
        (start + timedelta(minutes=5), None),  # unavailable: a gap, no value
        (start + timedelta(minutes=20), 10.5),
        (start + timedelta(hours=5), None),
        (start + timedelta(hours=6), 11.0),
    ]
    await _settings(
        companion,
        {
            "energy_sources": [
                {"type": "grid", "flow_from": [{"stat_energy_from": meter}]}
            ]
        },
    )
    await _write(
        companion,
        servers,
        [
            Reading(m, meter, v, "kWh", "energy", "total_increasing", "live")
            for m, v in points
        ],
    )
    answer = await _overview(companion)
    assert answer["buckets"][0]["grid_import_kwh"] == pytest.approx(1.0)
    # The 15-minute view has a quarter of gaps only; standby skips it.
    assert answer["base_load_source"] == "meters"
