"""What the overview's flows cost: HA's cost statistics, HA's prices, the companion's tariff."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import Literal
from zoneinfo import ZoneInfo

from companion.core import energy_setup, units
from companion.energy_settings import FollowedSettings
from companion.store import Store
from companion.store.energy import HOUR_MICROS, Energy
from companion.tariff import FlowTariff, Tariff
from companion.timestamps import from_micros

from .buckets import in_buckets, readings_factor, statistic_factor

type PriceSource = Literal["statistic", "number", "entity", "tariff"]


def price_source(
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


class Pricing:
    """The costs of the flows HA's Energy settings name, per bucket."""

    def __init__(
        self,
        store: Store,
        settings: FollowedSettings,
        tariff: Tariff,
        zone: ZoneInfo,
    ) -> None:
        """Price with `settings`, else `tariff`, in HA's `zone`."""
        self._store = store
        self._settings = settings
        self._setup = settings.setup
        self._tariff = tariff
        self._zone = zone

    def flows(self) -> list[tuple[energy_setup.Flow, str, FlowTariff | None]]:
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
            flow.stat: price_source(flow, tariff) for flow, _, tariff in self.flows()
        }

    async def add_costs(
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
        flows = self.flows()
        by_hour = [
            flow.stat
            for flow, _, tariff in flows
            if price_source(flow, tariff) in ("entity", "tariff")
        ]
        for flow, _, tariff in flows:
            if price_source(flow, tariff) == "number" and flow.price.number is not None:
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
                if flow.price.entity and price_source(flow, tariff) == "entity"
            }
        )
        steps = await self._store.price_steps(entities, start, end)
        for flow, kind, tariff in flows:
            source = price_source(flow, tariff)
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
            hours[hour] = value * statistic_factor(kind, unit)
        for hour, value in energy.from_readings.get(stat, {}).items():
            hours[hour] = hours.get(hour, 0.0) + value * readings_factor(kind, unit)
        costs: dict[int, float] = {}
        for hour, amount in hours.items():
            now = price(hour + HOUR_MICROS // 2)
            if now is not None:
                costs[hour] = amount * now
        into = [0.0] * (len(edges) - 1)
        in_buckets(edges, costs, 1.0, into)
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
