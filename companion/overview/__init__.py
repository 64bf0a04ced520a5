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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from companion.core import energy_setup, units
from companion.energy_settings import FollowedSettings
from companion.store import Store
from companion.store.energy import Energy, Stride
from companion.tariff import Tariff
from companion.timestamps import from_micros, iso_utc_z, to_micros

from .buckets import (
    DAY_PERIODS,
    OverviewPeriod,
    bucket_bounds,
    days_between,
    in_buckets,
    mean,
    readings_factor,
    rounded,
    statistic_factor,
    year_before,
)
from .pricing import Pricing

# How HA's figures are read for each bucket length: weeks are sums of days.
_STRIDES: Final[dict[str, Stride]] = {
    "hour": "hour",
    "day": "day",
    "week": "day",
    "month": "month",
}


@dataclass(frozen=True, slots=True)
class _Meters:
    """Per-bucket figures of each named statistic over one window."""

    buckets: int
    per_bucket: dict[str, list[float]]

    def values(self, stat: str) -> list[float]:
        """The statistic's figure per bucket (zeros where it has none)."""
        return self.per_bucket.get(stat) or [0.0] * self.buckets


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
        self._zone = zone
        self._pricing = Pricing(store, settings, tariff, zone)
        # Fixed for the answer: read once, not per bucket.
        self._kinds = self._statistic_kinds()
        self._price_sources = self._pricing.price_sources()

    def _statistic_kinds(self) -> dict[str, str]:
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
        kinds = self._kinds
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
            in_buckets(
                edges,
                energy.from_statistics.get(stat, {}),
                statistic_factor(kind, unit),
                into,
            )
            if kind != "money":  # a cost is HA's figure, never a reading
                in_buckets(
                    edges,
                    energy.from_readings.get(stat, {}),
                    readings_factor(kind, unit),
                    into,
                )
            per_bucket[stat] = into
        await self._pricing.add_costs(
            edges, energy if stride == "hour" else None, per_bucket
        )
        return _Meters(len(edges) - 1, per_bucket)

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

        sources = self._price_sources
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
        return rounded(figures)

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
                [year_before(first, self._zone), year_before(last, self._zone)],
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
                bucket["base_load_w"] = mean(
                    days_between(
                        base_load, bounds[index], bounds[index + 1], self._zone
                    )
                )
            buckets.append(bucket)
        totals = self._figures(meters, slice(None))
        if period in DAY_PERIODS:
            totals["base_load_w"] = mean(base_load.values())
        return {
            "start_time": iso_utc_z(first),
            "end_time": iso_utc_z(last),
            "buckets": buckets,
            "totals": totals,
            "previous": self._figures(before, slice(None)),
            "previous_year": self._figures(year_ago, slice(None)),
            "base_load_source": self._base_load_source(period),
            "price_sources": self._price_sources,
            "base_load_w": [
                {"date": day, "w": power} for day, power in base_load.items()
            ],
        }


async def _no_days() -> dict[str, float]:
    return {}


__all__ = ["Overview", "OverviewPeriod", "bucket_bounds"]
