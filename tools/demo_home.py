"""The demo home: one made-up household's meters, hour by hour, and their live readings.

A house with a grid connection (import and export), solar panels, a home battery, gas
heating, a water meter and three metered devices: the kitchen circuit, the fridge on
it (`included_in_stat`: the kitchen's figure holds the fridge's) and the washing
machine's smart plug, whose counter starts again at 0 on the first of every month.

Everything here is pure: each figure is a function of time and of the home's time zone
(daylight, meal times and showers follow the local clock), the same in every run, so
the readings of a demo started again carry on from those of the last one. The meters
read what they have counted since `EPOCH`, each from a reading of its own; HA's
statistics (`hourly_statistics`) have their `sum` start at 0 with the first hour
imported, as HA's own do.

Per hour the energy balances as HA computes the home's use: grid import + solar +
battery out - grid export - battery in = the house's load, of which the kitchen (with
the fridge) and the washing machine are a part.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
import math
import random
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

EPOCH: Final = datetime(2025, 1, 1, tzinfo=UTC)
HOUR: Final = timedelta(hours=1)

IMPORT_PRICE: Final = 0.30  # €/kWh
EXPORT_PRICE: Final = 0.08  # €/kWh
GAS_PRICE: Final = 1.35  # €/m³
WATER_PRICE: Final = 1.10  # €/m³

type MeterKind = Literal["energy", "gas", "water"]

BATTERY_KWH: Final = 5.0
BATTERY_RESERVE_KWH: Final = 0.5
BATTERY_MAX_KW: Final = 2.5
BATTERY_EFFICIENCY: Final = 0.92
SOLAR_KWP: Final = 8.0


@dataclass(frozen=True, slots=True)
class Meter:
    """One meter of the home, as an HA sensor."""

    key: str
    name: str
    kind: MeterKind
    base: float
    """The reading at `EPOCH`."""
    resets_monthly: bool = False
    digits: int = 3

    @property
    def entity_id(self) -> str:
        """The sensor's entity id."""
        return f"sensor.{self.key}"

    @property
    def unit(self) -> str:
        """The sensor's and its statistics' unit."""
        return "kWh" if self.kind == "energy" else "m³"

    @property
    def unit_class(self) -> str:
        """HA's unit class of its statistics."""
        return "energy" if self.kind == "energy" else "volume"


GRID_IMPORT: Final = Meter("grid_import", "Grid import", "energy", 18250.0)
GRID_EXPORT: Final = Meter("grid_export", "Grid export", "energy", 6120.0)
SOLAR: Final = Meter("solar_production", "Solar production", "energy", 9870.0)
BATTERY_IN: Final = Meter("battery_charged", "Battery charged", "energy", 2140.0)
BATTERY_OUT: Final = Meter("battery_discharged", "Battery discharged", "energy", 1930.0)
GAS: Final = Meter("gas_meter", "Gas meter", "gas", 4210.0)
WATER: Final = Meter("water_meter", "Water meter", "water", 612.0)
KITCHEN: Final = Meter("kitchen_energy", "Kitchen", "energy", 1450.0)
FRIDGE: Final = Meter("fridge_energy", "Fridge", "energy", 530.0)
WASHING_MACHINE: Final = Meter(
    "washing_machine_energy", "Washing machine", "energy", 0.0, resets_monthly=True
)
METERS: Final = (
    GRID_IMPORT,
    GRID_EXPORT,
    SOLAR,
    BATTERY_IN,
    BATTERY_OUT,
    GAS,
    WATER,
    KITCHEN,
    FRIDGE,
    WASHING_MACHINE,
)
DEVICES: Final = (KITCHEN, FRIDGE, WASHING_MACHINE)
HOUSE_POWER_ENTITY: Final = "sensor.demo_house_power"
SOLAR_POWER_ENTITY: Final = "sensor.demo_solar_power"

# Minutes of each hour the fridge's compressor runs: its meter climbs in steps.
_FRIDGE_RUNS: Final = ((0.0, 16.0), (31.0, 47.0))


@dataclass(frozen=True, slots=True)
class _Hour:
    """What one hour of the home counted, per meter key, and its load in kWh."""

    energy: dict[str, float]
    load: float
    water_burst: tuple[float, float]


def _smooth(hour: float, peak: float, width: float) -> float:
    """A bump around `peak` (local hours, wrapping at midnight) of about `width` hours."""
    distance = min(abs(hour - peak), 24 - abs(hour - peak))
    return math.exp(-((distance / width) ** 2))


def floor_hour(moment: datetime) -> datetime:
    """The start of the UTC hour holding `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _last_month_start(moment: datetime) -> datetime:
    """The latest first-of-month midnight (UTC) strictly before `moment`."""
    moment = moment.astimezone(UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start == moment:
        previous = start - timedelta(days=1)
        start = previous.replace(day=1)
    return start


@dataclass(frozen=True, slots=True)
class _DayPlan:
    """What one day holds: the season, the weather and the chores."""

    winter: float
    """1 in mid-January, -1 in mid-July."""
    day_length: float
    peak_solar: float
    heating: float
    cooking: float
    washing: bool
    washing_start: int
    dishwasher: bool

    @classmethod
    def draw(cls, day: date, chance: random.Random) -> _DayPlan:
        """The plan of `day`, drawn from `chance` (seeded by the day)."""
        winter = math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)
        sunshine = chance.uniform(0.15, 1.0) ** 0.8
        return cls(
            winter=winter,
            day_length=12.0 - 4.4 * winter,
            peak_solar=SOLAR_KWP * (0.14 + 0.31 * (1 - winter)) * sunshine,
            heating=0.45 * max(0.0, winter + 0.35) / 1.35 * chance.uniform(0.8, 1.2),
            cooking=chance.uniform(0.7, 1.4),
            washing=chance.random() < 0.45,
            washing_start=chance.choice((9, 10, 11, 19)),
            dishwasher=chance.random() < 0.6,
        )


@dataclass(frozen=True, slots=True)
class _Uses:
    """One hour of the house before the battery: load, sun and the other meters."""

    clock: float
    load: float
    solar: float
    meters: dict[str, float]
    water_burst: tuple[float, float]


def _water(clock: float, chance: random.Random) -> tuple[float, tuple[float, float]]:
    """An hour's water (m³) and the minutes of its burst: showers, taps, flushes."""
    awake = 6.5 <= clock < 23.5
    water = 0.001 if awake else 0.0
    if 6.5 <= clock < 8.5:  # showers
        start = chance.uniform(0, 45)
        return water + chance.uniform(0.035, 0.065), (
            start,
            start + chance.uniform(7, 14),
        )
    if awake and chance.random() < 0.45:  # a tap, a flush
        start = chance.uniform(0, 55)
        return water + chance.uniform(0.004, 0.012), (
            start,
            start + chance.uniform(1, 4),
        )
    return water, (0.0, 0.0)


def _with_battery(uses: list[_Uses]) -> tuple[_Hour, ...]:
    """The day's grid and battery flows.

    The battery is charged at night from the grid on dull days (up to what the sun
    will not bring), then from the sun's surplus, and emptied in the evening.
    """
    surplus_expected = sum(max(0.0, use.solar - use.load) for use in uses)
    room = BATTERY_KWH - 0.6
    night_target = min(room, max(0.0, room - surplus_expected))
    level = BATTERY_RESERVE_KWH
    hours: list[_Hour] = []
    for use in uses:
        charged = discharged = grid_import = grid_export = 0.0
        if 2.0 <= use.clock < 5.0 and level < night_target:
            charged = grid_import = min(
                1.2, (night_target - level) / BATTERY_EFFICIENCY
            )
            level += charged * BATTERY_EFFICIENCY
        balance = use.solar - use.load
        if balance > 0:
            into = min(
                balance,
                BATTERY_MAX_KW - charged,
                max(0.0, (BATTERY_KWH - level) / BATTERY_EFFICIENCY),
            )
            charged += into
            level += into * BATTERY_EFFICIENCY
            grid_export = balance - into
        else:
            if use.clock >= 16.0 or use.clock < 1.5:
                discharged = max(
                    0.0, min(-balance, BATTERY_MAX_KW, level - BATTERY_RESERVE_KWH)
                )
                level -= discharged
            grid_import += -balance - discharged
        hours.append(
            _Hour(
                energy={
                    GRID_IMPORT.key: grid_import,
                    GRID_EXPORT.key: grid_export,
                    BATTERY_IN.key: charged,
                    BATTERY_OUT.key: discharged,
                    **use.meters,
                },
                load=use.load,
                water_burst=use.water_burst,
            )
        )
    return tuple(hours)


@dataclass
class DemoHome:
    """The household in `time_zone`: its meters' hours, readings and HA settings."""

    time_zone: str
    _zone: ZoneInfo = field(init=False, repr=False)
    _days: dict[date, tuple[_Hour, ...]] = field(default_factory=dict, repr=False)
    _prefix: dict[date, dict[str, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        """Resolve the zone."""
        self._zone = ZoneInfo(self.time_zone)

    # --- the model ---------------------------------------------------------------

    def _simulate_day(self, day: date) -> tuple[_Hour, ...]:
        """The 24 UTC hours of `day`: loads, sun, gas and water, then the battery."""
        chance = random.Random(f"demo-home:{day.isoformat()}")  # noqa: S311 - made-up data
        plan = _DayPlan.draw(day, chance)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        uses = [
            self._uses(plan, midnight + timedelta(hours=index), chance)
            for index in range(24)
        ]
        return _with_battery(uses)

    def _uses(self, plan: _DayPlan, start: datetime, chance: random.Random) -> _Uses:
        """One hour of the house without the battery (which `_with_battery` adds)."""
        middle = (start + timedelta(minutes=30)).astimezone(self._zone)
        clock = middle.hour + middle.minute / 60
        # The sun keeps standard time: its noon is at the same hour all year.
        standard = (clock - (middle.dst() or timedelta()).total_seconds() / 3600) % 24
        hour = int(clock)
        jitter = chance.uniform(0.85, 1.15)
        fridge = (0.032 + 0.012 * _smooth(clock, 16, 4)) * chance.uniform(0.85, 1.2)
        kitchen = (
            0.02
            + 0.22 * _smooth(clock, 7.5, 0.6)
            + 0.12 * _smooth(clock, 12.5, 0.6)
            + plan.cooking * _smooth(clock, 18.3, 0.8)
            + (0.75 if plan.dishwasher and hour == 21 else 0.0)
        ) * jitter + fridge
        washing = {plan.washing_start: 0.75, plan.washing_start + 1: 0.22}.get(
            hour if plan.washing else -1, 0.002
        ) * chance.uniform(0.85, 1.15)
        other = (
            0.17
            + 0.28 * _smooth(clock, 20.5, 2.0) * (1 + 0.3 * plan.winter)
            + 0.12 * _smooth(clock, 7.0, 1.0)
            + (0.03 if plan.heating > 0 else 0.0)
        ) * jitter
        sun = (standard - (12.7 - plan.day_length / 2)) / plan.day_length
        solar = 0.0
        if 0.0 < sun < 1.0:
            solar = plan.peak_solar * math.sin(math.pi * sun) ** 1.3
            solar *= chance.uniform(0.8, 1.1)
        gas = plan.heating * (
            0.25
            + 1.55 * _smooth(clock, 7.5, 1.3)
            + 0.35 * _smooth(clock, 13, 3)
            + 1.25 * _smooth(clock, 19.5, 2.2)
        )
        water, burst = _water(clock, chance)
        gas += 4.5 * water if 6.5 <= clock < 8.5 else 0.0  # hot showers
        if plan.washing and hour == plan.washing_start:
            water += 0.045
        if plan.dishwasher and hour == 21:
            water += 0.011
        return _Uses(
            clock=clock,
            load=kitchen + washing + other,
            solar=solar,
            meters={
                SOLAR.key: solar,
                GAS.key: gas,
                WATER.key: water,
                KITCHEN.key: kitchen,
                FRIDGE.key: fridge,
                WASHING_MACHINE.key: washing,
            },
            water_burst=burst,
        )

    def _day(self, day: date) -> tuple[_Hour, ...]:
        if day not in self._days:
            self._days[day] = self._simulate_day(day)
        return self._days[day]

    def hour(self, start: datetime) -> dict[str, float]:
        """What each meter counted in the UTC hour starting at `start`."""
        start = floor_hour(start)
        return dict(self._day(start.date())[start.hour].energy)

    def _counted_before(self, day: date) -> dict[str, float]:
        """Per meter, all it counted from `EPOCH` to the start of `day` (UTC)."""
        first = EPOCH.date()
        if day < first:
            raise ValueError(f"the demo home has no data before {first}")
        if day in self._prefix:
            return self._prefix[day]
        known = [d for d in self._prefix if d < day]
        cursor = max(known) if known else first
        totals = dict(self._prefix.get(cursor, dict.fromkeys(_keys(), 0.0)))
        while cursor < day:
            for hour in self._day(cursor):
                for key, value in hour.energy.items():
                    totals[key] += value
            cursor += timedelta(days=1)
            self._prefix[cursor] = dict(totals)
        self._prefix.setdefault(first, dict.fromkeys(_keys(), 0.0))
        return self._prefix[day]

    def _fraction(self, meter: Meter, hour: _Hour, minutes: float) -> float:
        """How much of its hour's energy a meter has counted `minutes` into the hour."""
        if meter is FRIDGE or meter is KITCHEN:
            runs = _FRIDGE_RUNS
            on = sum(max(0.0, min(minutes, end) - begin) for begin, end in runs)
            fridge_part = on / sum(end - begin for begin, end in runs)
            if meter is FRIDGE:
                return fridge_part
            total = hour.energy[KITCHEN.key]
            fridge = hour.energy[FRIDGE.key]
            rest = (total - fridge) * minutes / 60
            return (fridge * fridge_part + rest) / total if total else minutes / 60
        if meter is WATER:
            begin, end = hour.water_burst
            if end <= begin:
                return minutes / 60
            # A trickle all hour, the rest in one burst.
            used = hour.energy[WATER.key]
            trickle = min(1.0, 0.001 / used) if used else 1.0
            burst = max(0.0, min(1.0, (minutes - begin) / (end - begin)))
            return trickle * minutes / 60 + (1 - trickle) * burst
        return minutes / 60

    def counted(self, meter: Meter, moment: datetime) -> float:
        """All `meter` counted from `EPOCH` to `moment` (never reset)."""
        moment = moment.astimezone(UTC)
        start = floor_hour(moment)
        day = self._day(start.date())
        total = self._counted_before(start.date())[meter.key]
        total += sum(hour.energy[meter.key] for hour in day[: start.hour])
        minutes = (moment - start).total_seconds() / 60
        if minutes:
            hour = day[start.hour]
            total += hour.energy[meter.key] * self._fraction(meter, hour, minutes)
        return total

    def reading(self, meter: Meter, moment: datetime) -> float:
        """The meter's reading at `moment` (the smart plug's counts from the 1st)."""
        if meter.resets_monthly:
            since = _last_month_start(moment)
            return meter.base + self.counted(meter, moment) - self.counted(meter, since)
        return meter.base + self.counted(meter, moment)

    def readings(self, moment: datetime) -> dict[str, float]:
        """Every meter's reading and the two power sensors' states at `moment`."""
        moment = moment.astimezone(UTC)
        values = {
            meter.key: round(self.reading(meter, moment), meter.digits)
            for meter in METERS
        }
        hour = self._day(floor_hour(moment).date())[moment.hour]
        tick = int(moment.timestamp() // 5)
        wobble = random.Random(f"demo-home-power:{tick}").uniform(0.8, 1.2)  # noqa: S311
        values["house_power"] = round(hour.load * 1000 * wobble, 1)
        values["solar_power"] = round(
            hour.energy[SOLAR.key] * (0.95 + 0.1 * (wobble - 0.8) / 0.4), 3
        )
        return values

    # --- what HA is given ----------------------------------------------------------

    def hourly_statistics(
        self, start: datetime, end: datetime
    ) -> dict[Meter, list[dict[str, Any]]]:
        """HA's hourly statistics of [start, end) per meter; each `sum` from 0 at `start`.

        `state` is the reading at the end of the hour (HA's last state in it); `sum`
        is what was counted since `start`, through the smart plug's monthly resets.
        """
        hours = list(_hours(floor_hour(start), floor_hour(end)))
        rows: dict[Meter, list[dict[str, Any]]] = {}
        for meter in METERS:
            total = 0.0
            series = []
            for hour in hours:
                total += self.hour(hour)[meter.key]
                series.append(
                    {
                        "start": hour.isoformat(),
                        "state": round(self.reading(meter, hour + HOUR), 6),
                        "sum": round(total, 6),
                    }
                )
            rows[meter] = series
        return rows

    def sum_adjustment(
        self, meter: Meter, sum_at: float, since: datetime, first_reading: datetime
    ) -> float:
        """What to add to HA's own sums so they carry on from the imported ones.

        HA starts a sensor's sum at 0 with the first state it sees (at
        `first_reading`); the imported sum was `sum_at` at `since`.
        """
        return sum_at + self.counted(meter, first_reading) - self.counted(meter, since)

    def energy_prefs(self) -> dict[str, Any]:
        """HA's Energy settings naming every meter, with fixed prices."""
        return {
            "energy_sources": [
                {
                    "type": "grid",
                    "flow_from": [
                        {
                            "stat_energy_from": GRID_IMPORT.entity_id,
                            "stat_cost": None,
                            "entity_energy_price": None,
                            "number_energy_price": IMPORT_PRICE,
                        }
                    ],
                    "flow_to": [
                        {
                            "stat_energy_to": GRID_EXPORT.entity_id,
                            "stat_compensation": None,
                            "entity_energy_price": None,
                            "number_energy_price": EXPORT_PRICE,
                        }
                    ],
                    "cost_adjustment_day": 0.0,
                },
                {
                    "type": "solar",
                    "stat_energy_from": SOLAR.entity_id,
                    "config_entry_solar_forecast": None,
                },
                {
                    "type": "battery",
                    "stat_energy_from": BATTERY_OUT.entity_id,
                    "stat_energy_to": BATTERY_IN.entity_id,
                },
                {
                    "type": "gas",
                    "stat_energy_from": GAS.entity_id,
                    "stat_cost": None,
                    "entity_energy_price": None,
                    "number_energy_price": GAS_PRICE,
                },
                {
                    "type": "water",
                    "stat_energy_from": WATER.entity_id,
                    "stat_cost": None,
                    "entity_energy_price": None,
                    "number_energy_price": WATER_PRICE,
                },
            ],
            "device_consumption": [
                {"stat_consumption": KITCHEN.entity_id},
                {
                    "stat_consumption": FRIDGE.entity_id,
                    "included_in_stat": KITCHEN.entity_id,
                },
                {"stat_consumption": WASHING_MACHINE.entity_id},
            ],
            "device_consumption_water": [],
        }


def _keys() -> list[str]:
    return [meter.key for meter in METERS]


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    cursor = start
    while cursor < end:
        yield cursor
        cursor += HOUR


def sensor_states(readings: dict[str, float]) -> dict[str, dict[str, Any]]:
    """HA states (`POST /api/states/<entity_id>` bodies) showing `readings`.

    The demo sets them through HA's REST API: a sensor exists from its first reading
    on, never "unknown" before it (a gap in its readings otherwise).
    """
    states = {
        meter.entity_id: {
            "state": str(readings[meter.key]),
            "attributes": {
                "friendly_name": meter.name,
                "device_class": meter.kind,
                "state_class": "total_increasing",
                "unit_of_measurement": meter.unit,
            },
        }
        for meter in METERS
    }
    for entity_id, key, name, unit in (
        (HOUSE_POWER_ENTITY, "house_power", "Demo house power", "W"),
        (SOLAR_POWER_ENTITY, "solar_power", "Demo solar power", "kW"),
    ):
        states[entity_id] = {
            "state": str(readings[key]),
            "attributes": {
                "friendly_name": name,
                "device_class": "power",
                "state_class": "measurement",
                "unit_of_measurement": unit,
            },
        }
    return states
