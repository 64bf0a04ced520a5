"""The whole home per bucket: HA's Energy settings applied to each meter's energy per hour.

Buckets are HA's: hours, local days, weeks from Monday and calendar months in HA's
time zone. Every figure is a sum of hours (HA's statistics, else the readings'
increases; see `store.energy`), so a week is exactly the sum of its days.

- `home_kwh` = grid import + solar + battery out - grid export - battery in, as HA
  computes it.
- `untracked_kwh` = home - the top-level devices (those no other named device
  holds), never negative; what the devices report beyond the home is
  `over_reported_kwh`.
- `cost` = what the grid import, gas and water cost; `compensation` = what the
  export earned. Per flow: HA's cost statistic where the settings name one (its
  hours appear as HA writes them, after each hour); else each hour's energy at the
  price at its middle: the fixed price the settings name, else their price
  entity's last reading then (its readings must be in QuestDB), else the tariff
  set in the companion (grid import and export; `companion.tariff`).
- `self_consumption` = (solar - export) / solar; `self_sufficiency` =
  1 - grid import / home (HA's Energy gauges); null without solar or use.
- `base_load_w`: per local day, the lowest 15-minute mean power: of the home power
  sensor where HA's settings name one, else derived from the meters as home energy
  per quarter hour (quarters where every meter reported in it and the one before).

Sources the settings do not name are absent from the answer, never zero.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from companion.core import energy_setup, units
from companion.energy_settings import FollowedSettings
from companion.store import Store
from companion.store.energy import HOUR_MICROS, Energy, Stride
from companion.tariff import FlowTariff, Tariff
from companion.timestamps import from_micros, iso_utc_z, to_micros

type PriceSource = Literal["statistic", "number", "entity", "tariff"]
type OverviewPeriod = Literal["hour", "day", "week", "month"]
OVERVIEW_PERIODS: Final = ("hour", "day", "week", "month")
DAY_PERIODS: Final = frozenset({"day", "week", "month"})
# How HA's figures are read for each bucket length: weeks are sums of days.
_STRIDES: Final[dict[str, Stride]] = {
    "hour": "hour",
    "day": "day",
    "week": "day",
    "month": "month",
}
_ROUND: Final = 6  # µWh: float noise never shows as a figure


def bucket_bounds(
    start: datetime, end: datetime, period: OverviewPeriod, zone: ZoneInfo
) -> list[datetime]:
    """Bounds b0 < b1 < … < bn of the buckets covering [start, end), aligned in `zone`."""
    if period == "hour":
        first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        bounds = [first]
        while bounds[-1] < end:
            bounds.append(bounds[-1] + timedelta(hours=1))
        return bounds
    local = start.astimezone(zone).date()
    if period == "week":
        local -= timedelta(days=local.weekday())
    elif period == "month":
        local = local.replace(day=1)
    bounds = [datetime(local.year, local.month, local.day, tzinfo=zone)]
    while bounds[-1] < end:
        day = bounds[-1].date()
        if period == "day":
            day += timedelta(days=1)
        elif period == "week":
            day += timedelta(days=7)
        else:
            year, month = divmod(day.month, 12)
            day = day.replace(year=day.year + year, month=month + 1)
        bounds.append(datetime(day.year, day.month, day.day, tzinfo=zone))
    return [bound.astimezone(UTC) for bound in bounds]


@dataclass(frozen=True, slots=True)
class _Meters:
    """Per-bucket figures of each named statistic over one window."""

    buckets: int
    per_bucket: dict[str, list[float]]

    def values(self, stat: str) -> list[float]:
        """The statistic's figure per bucket (zeros where it has none)."""
        return self.per_bucket.get(stat) or [0.0] * self.buckets


def _in_buckets(
    bounds: list[int], hours: Mapping[int, float], factor: float, into: list[float]
) -> None:
    for hour, value in hours.items():
        index = bisect_right(bounds, hour) - 1
        if 0 <= index < len(into):
            into[index] += value * factor


def _statistic_factor(kind: str, unit: str | None) -> float:
    """Statistics unit → kWh for energy; 1 for gas, water and money (kept in theirs)."""
    if kind != units.ENERGY:
        return 1.0
    conversion = units.conversion_for(units.ENERGY, unit)
    return 1.0 if conversion is None else conversion.factor


def _readings_factor(kind: str, unit: str | None) -> float:
    """Stored unit of the readings → the answer's (kWh, else HA's statistics unit)."""
    if kind == units.ENERGY:
        return 1.0
    conversion = units.conversion_for(kind, unit)
    return 1.0 if conversion is None else 1.0 / conversion.factor


class Overview:
    """The overview of one window, from a `Store` and the followed Energy settings."""

    def __init__(
        self,
        store: Store,
        settings: FollowedSettings,
        tariff: Tariff,
        zone: ZoneInfo,
    ) -> None:
        """Build from `settings` (HA's Energy settings) and `tariff` in HA's `zone`."""
        self._store = store
        self._settings = settings
        self._setup = settings.setup
        self._tariff = tariff
        self._zone = zone

    def _flows(self) -> list[tuple[energy_setup.Flow, str, FlowTariff | None]]:
        """Each priced kind of flow: the flow, what it measures, the companion's tariff."""
        setup = self._setup
        return [
            *(
                (flow, units.ENERGY, self._tariff.grid_import)
                for flow in setup.grid_import
            ),
            *(
                (flow, units.ENERGY, self._tariff.grid_export)
                for flow in setup.grid_export
            ),
            *((flow, units.GAS, None) for flow in setup.gas),
            *((flow, units.WATER, None) for flow in setup.water),
        ]

    def price_sources(self) -> dict[str, PriceSource | None]:
        """Per flow, where its cost comes from (None: it has no price)."""
        return {
            flow.stat: _price_source(flow, tariff) for flow, _, tariff in self._flows()
        }

    def _kinds(self) -> dict[str, str]:
        """Each named statistic and what it measures (energy, gas, water, money)."""
        setup = self._setup
        kinds: dict[str, str] = {}
        for flow in (*setup.grid_import, *setup.grid_export):
            kinds[flow.stat] = units.ENERGY
        for stat in setup.solar:
            kinds[stat] = units.ENERGY
        for battery in setup.battery:
            kinds[battery.stat_out] = kinds[battery.stat_in] = units.ENERGY
        for device in setup.devices:
            kinds[device.stat] = units.ENERGY
        for flow in setup.gas:
            kinds[flow.stat] = units.GAS
        for flow in setup.water:
            kinds[flow.stat] = units.WATER
        for flow in (*setup.grid_import, *setup.grid_export, *setup.gas, *setup.water):
            if flow.price.stat_cost:
                kinds[flow.price.stat_cost] = "money"
        return kinds

    async def _meters(self, bounds: Sequence[datetime], stride: Stride) -> _Meters:
        """Each named statistic's figure per bucket between `bounds`.

        HA's figures are read per `stride`: a divisor of the buckets (days for weeks).
        """
        edges = [to_micros(bound) for bound in bounds]
        kinds = self._kinds()
        energy: Energy = await self._store.energy(
            list(kinds),
            bounds[0],
            bounds[-1],
            stride=stride,
            time_zone=self._zone.key,
        )
        per_bucket: dict[str, list[float]] = {}
        for stat, kind in kinds.items():
            into = [0.0] * (len(edges) - 1)
            unit = self._settings.units.get(stat)
            _in_buckets(
                edges,
                energy.from_statistics.get(stat, {}),
                _statistic_factor(kind, unit),
                into,
            )
            if kind != "money":  # a cost is HA's figure, never a reading
                _in_buckets(
                    edges,
                    energy.from_readings.get(stat, {}),
                    _readings_factor(kind, unit),
                    into,
                )
            per_bucket[stat] = into
        await self._priced(edges, energy if stride == "hour" else None, per_bucket)
        return _Meters(len(edges) - 1, per_bucket)

    async def _priced(
        self,
        edges: list[int],
        hourly: Energy | None,
        per_bucket: dict[str, list[float]],
    ) -> None:
        """Add `cost:<flow>` per bucket for each flow priced by a number, entity or tariff.

        A fixed price multiplies the bucket's energy. Otherwise each hour is priced
        at its middle: its energy times the price then (`hourly`: the energy per
        hour when already read).
        """
        flows = self._flows()
        by_hour = [
            flow.stat
            for flow, _, tariff in flows
            if _price_source(flow, tariff) in ("entity", "tariff")
        ]
        for flow, _, tariff in flows:
            if (
                _price_source(flow, tariff) == "number"
                and flow.price.number is not None
            ):
                per_bucket[f"cost:{flow.stat}"] = [
                    value * flow.price.number for value in per_bucket[flow.stat]
                ]
        if not by_hour:
            return
        start, end = from_micros(edges[0]), from_micros(edges[-1])
        if hourly is None:
            hourly = await self._store.energy(by_hour, start, end, stride="hour")
        energy = hourly
        entities = sorted(
            {
                flow.price.entity
                for flow, _, tariff in flows
                if flow.price.entity and _price_source(flow, tariff) == "entity"
            }
        )
        steps = await self._store.price_steps(entities, start, end)
        for flow, kind, tariff in flows:
            source = _price_source(flow, tariff)
            if source in ("entity", "tariff"):
                price = self._price_at(flow, source, tariff, steps)
                per_bucket[f"cost:{flow.stat}"] = self._hourly_costs(
                    flow.stat, kind, energy, price, edges
                )

    def _hourly_costs(
        self,
        stat: str,
        kind: str,
        energy: Energy,
        price: Callable[[int], float | None],
        edges: list[int],
    ) -> list[float]:
        """Per bucket, each hour's energy of `stat` at the price at the hour's middle."""
        unit = self._settings.units.get(stat)
        hours: dict[int, float] = {}
        for hour, value in energy.from_statistics.get(stat, {}).items():
            hours[hour] = value * _statistic_factor(kind, unit)
        for hour, value in energy.from_readings.get(stat, {}).items():
            hours[hour] = hours.get(hour, 0.0) + value * _readings_factor(kind, unit)
        costs: dict[int, float] = {}
        for hour, amount in hours.items():
            now = price(hour + HOUR_MICROS // 2)
            if now is not None:
                costs[hour] = amount * now
        into = [0.0] * (len(edges) - 1)
        _in_buckets(edges, costs, 1.0, into)
        return into

    def _price_at(
        self,
        flow: energy_setup.Flow,
        source: PriceSource,
        tariff: FlowTariff | None,
        steps: Mapping[str, list[tuple[int, float]]],
    ) -> Callable[[int], float | None]:
        """The flow's price at a moment (epoch µs), by its source."""
        if source == "number":
            number = flow.price.number
            return lambda _: number
        if source == "entity":
            changes = steps.get(flow.price.entity or "", [])
            moments = [moment for moment, _ in changes]

            def from_entity(micros: int) -> float | None:
                index = bisect_right(moments, micros) - 1
                return changes[index][1] if index >= 0 else None

            return from_entity
        zone = self._zone
        assert tariff is not None  # noqa: S101 - the source says there is one
        return lambda micros: tariff.price_at(from_micros(micros).astimezone(zone))

    def _figures(self, meters: _Meters, index: slice) -> dict[str, Any]:  # noqa: C901 - one branch per source type
        """The overview's figures over the buckets `index` selects."""
        setup = self._setup

        def total(stats: Iterable[str]) -> float:
            return sum(sum(meters.values(stat)[index]) for stat in stats)

        def cost_of(flows: Sequence[energy_setup.Flow]) -> float | None:
            """HA's cost statistic of each flow, else its energy at its price."""
            costs = [
                total([flow.price.stat_cost or ""])
                if source == "statistic"
                else total([f"cost:{flow.stat}"])
                for flow in flows
                if (source := sources.get(flow.stat)) is not None
            ]
            return sum(costs) if costs else None

        sources = self.price_sources()
        figures: dict[str, Any] = {}
        grid_import = total(flow.stat for flow in setup.grid_import)
        grid_export = total(flow.stat for flow in setup.grid_export)
        solar = total(setup.solar)
        battery_out = total(battery.stat_out for battery in setup.battery)
        battery_in = total(battery.stat_in for battery in setup.battery)
        if setup.grid_import:
            figures["grid_import_kwh"] = grid_import
        if setup.grid_export:
            figures["grid_export_kwh"] = grid_export
        if setup.solar:
            figures["solar_kwh"] = solar
        if setup.battery:
            figures["battery_in_kwh"] = battery_in
            figures["battery_out_kwh"] = battery_out
        home = grid_import + solar + battery_out - grid_export - battery_in
        figures["home_kwh"] = home
        for kind, flows in (("gas", setup.gas), ("water", setup.water)):
            if flows:
                figures[kind] = {
                    "value": total(flow.stat for flow in flows),
                    "unit": self._settings.units.get(flows[0].stat)
                    or units.CANONICAL_UNIT[kind],
                }
        if setup.devices:
            figures["devices"] = {
                device.stat: total([device.stat]) for device in setup.devices
            }
            tracked = total(device.stat for device in setup.top_level_devices)
            figures["untracked_kwh"] = max(0.0, home - tracked)
            figures["over_reported_kwh"] = max(0.0, tracked - home)
        cost = cost_of([*setup.grid_import, *setup.gas, *setup.water])
        if cost is not None:
            figures["cost"] = cost
        compensation = cost_of(setup.grid_export)
        if compensation is not None:
            figures["compensation"] = compensation
        figures["self_consumption"] = (
            max(0.0, min(1.0, (solar - grid_export) / solar)) if solar > 0 else None
        )
        figures["self_sufficiency"] = (
            max(0.0, 1.0 - min(1.0, grid_import / home)) if home > 0 else None
        )
        return _rounded(figures)

    async def _daily_base_load(
        self, start: datetime, end: datetime
    ) -> dict[str, float]:
        """Per local day (ISO date): the lowest 15-minute mean power of the home, in W."""
        setup = self._setup
        if setup.home_power is not None:
            quarters = await self._store.quarter_mean_power(
                setup.home_power, start, end
            )
        else:
            signs = {flow.stat: 1.0 for flow in setup.grid_import}
            signs |= dict.fromkeys(setup.solar, 1.0)
            signs |= {battery.stat_out: 1.0 for battery in setup.battery}
            signs |= {flow.stat: -1.0 for flow in setup.grid_export}
            signs |= {battery.stat_in: -1.0 for battery in setup.battery}
            if not signs:
                return {}
            increases = await self._store.quarter_increases(list(signs), start, end)
            common = set.intersection(*(set(increases.get(stat, {})) for stat in signs))
            # kWh per quarter hour → mean W over it.
            quarters = {
                quarter: 4000.0
                * sum(sign * increases[stat][quarter] for stat, sign in signs.items())
                for quarter in common
            }
        lowest: dict[str, float] = {}
        for quarter, power in quarters.items():
            day = from_micros(quarter).astimezone(self._zone).date().isoformat()
            if day not in lowest or power < lowest[day]:
                lowest[day] = power
        return {day: round(max(0.0, power), 1) for day, power in sorted(lowest.items())}

    def _base_load_source(self, period: OverviewPeriod) -> str | None:
        if period not in DAY_PERIODS:
            return None
        return "home_power" if self._setup.home_power is not None else "meters"

    async def answer(
        self, start: datetime, end: datetime, period: OverviewPeriod
    ) -> dict[str, Any]:
        """The overview's answer: buckets, totals, the period before and a year before."""
        bounds = bucket_bounds(start, end, period, self._zone)
        first, last = bounds[0], bounds[-1]
        meters, before, year_ago, base_load = await asyncio.gather(
            self._meters(bounds, _STRIDES[period]),
            self._meters([first - (last - first), first], "all"),
            self._meters(
                [_year_before(first, self._zone), _year_before(last, self._zone)],
                "all",
            ),
            self._daily_base_load(first, last) if period in DAY_PERIODS else _no_days(),
        )
        buckets = []
        for index in range(len(bounds) - 1):
            bucket: dict[str, Any] = {
                "start": iso_utc_z(bounds[index]),
                "end": iso_utc_z(bounds[index + 1]),
                **self._figures(meters, slice(index, index + 1)),
            }
            if period in DAY_PERIODS:
                bucket["base_load_w"] = _mean(
                    _days_between(
                        base_load, bounds[index], bounds[index + 1], self._zone
                    )
                )
            buckets.append(bucket)
        totals = self._figures(meters, slice(None))
        if period in DAY_PERIODS:
            totals["base_load_w"] = _mean(base_load.values())
        return {
            "start_time": iso_utc_z(first),
            "end_time": iso_utc_z(last),
            "buckets": buckets,
            "totals": totals,
            "previous": self._figures(before, slice(None)),
            "previous_year": self._figures(year_ago, slice(None)),
            "base_load_source": self._base_load_source(period),
            "price_sources": self.price_sources(),
            "base_load_w": [
                {"date": day, "w": power} for day, power in base_load.items()
            ],
        }


def _year_before(moment: datetime, zone: ZoneInfo) -> datetime:
    """The same local time a year earlier (28 February for the 29th)."""
    local = moment.astimezone(zone)
    day = min(local.day, 28) if local.month == 2 else local.day
    return datetime(
        local.year - 1, local.month, day, local.hour, local.minute, tzinfo=zone
    ).astimezone(UTC)


async def _no_days() -> dict[str, float]:
    return {}


def _price_source(
    flow: energy_setup.Flow, tariff: FlowTariff | None
) -> PriceSource | None:
    """HA's cost statistic, else its fixed price, else its price entity, else the tariff."""
    if flow.price.stat_cost:
        return "statistic"
    if flow.price.number is not None:
        return "number"
    if flow.price.entity:
        return "entity"
    return "tariff" if tariff is not None else None


def _days_between(
    days: Mapping[str, float], start: datetime, end: datetime, zone: ZoneInfo
) -> list[float]:
    low = start.astimezone(zone).date().isoformat()
    high = end.astimezone(zone).date().isoformat()
    return [power for day, power in days.items() if low <= day < high]


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 1) if values else None


def _rounded(figures: dict[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, _ROUND) + 0.0  # never -0.0
        if isinstance(value, dict):
            return {key: one(item) for key, item in value.items()}
        return value

    return {key: one(value) for key, value in figures.items()}
