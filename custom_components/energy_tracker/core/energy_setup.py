"""HA's Energy settings (`energy/get_prefs`) as one typed shape, whatever their format.

Before HA 2026.11 a grid source holds `flow_from` / `flow_to` / `power` lists; from
2026.11 each grid entry is flat (`stat_energy_from`, `stat_energy_to`,
`stat_compensation`, `entity_energy_price_export`, ...), a `home` source names the
home's power and water devices have their own list. The overview reads only this
shape, so a third format is one more parser here, not a change there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import math
from typing import Any


class EnergySetupError(ValueError):
    """The Energy settings are not in a shape HA writes."""


@dataclass(frozen=True, slots=True)
class Price:
    """How a flow is priced: HA's cost statistic, else a price entity, else a number."""

    stat_cost: str | None = None
    entity: str | None = None
    number: float | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """One metered flow (grid import or export, gas, water) and its price."""

    stat: str
    price: Price = field(default_factory=Price)


@dataclass(frozen=True, slots=True)
class Battery:
    """A battery: energy out of it (discharge) and into it (charge)."""

    stat_out: str
    stat_in: str


@dataclass(frozen=True, slots=True)
class Device:
    """An individual device; `included_in` names the device whose total holds it."""

    stat: str
    name: str | None = None
    included_in: str | None = None


@dataclass(frozen=True, slots=True)
class EnergySetup:
    """What HA's Energy settings name, in one shape for both formats."""

    grid_import: tuple[Flow, ...] = ()
    grid_export: tuple[Flow, ...] = ()
    solar: tuple[str, ...] = ()
    battery: tuple[Battery, ...] = ()
    gas: tuple[Flow, ...] = ()
    water: tuple[Flow, ...] = ()
    home_power: str | None = None
    devices: tuple[Device, ...] = ()
    water_devices: tuple[Device, ...] = ()

    @property
    def statistic_ids(self) -> tuple[str, ...]:
        """Every statistic the settings name: energy, gas, water, power and costs."""
        flows = (*self.grid_import, *self.grid_export, *self.gas, *self.water)
        named = [
            *(flow.stat for flow in flows),
            *(flow.price.stat_cost for flow in flows if flow.price.stat_cost),
            *self.solar,
            *(
                stat
                for battery in self.battery
                for stat in (battery.stat_out, battery.stat_in)
            ),
            *(device.stat for device in (*self.devices, *self.water_devices)),
        ]
        if self.home_power is not None:
            named.append(self.home_power)
        return tuple(dict.fromkeys(named))

    @property
    def top_level_devices(self) -> tuple[Device, ...]:
        """Devices no other named device includes (what `untracked` is measured from)."""
        named = {device.stat for device in self.devices}
        return tuple(
            device
            for device in self.devices
            if device.included_in is None or device.included_in not in named
        )


def _text(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EnergySetupError(f"{key} must be a statistic id, got {value!r}")
    return value


def _required(item: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(item, key)
    if value is None:
        raise EnergySetupError(f"a {where} source names no {key}")
    return value


def _number(item: Mapping[str, Any], key: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EnergySetupError(f"{key} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise EnergySetupError(f"{key} must be finite, got {value!r}")
    return float(value)


def _price(item: Mapping[str, Any], cost: str, entity: str, number: str) -> Price:
    return Price(_text(item, cost), _text(item, entity), _number(item, number))


def _devices(items: Sequence[Mapping[str, Any]]) -> tuple[Device, ...]:
    return tuple(
        Device(
            _required(item, "stat_consumption", "device"),
            _text(item, "name"),
            _text(item, "included_in_stat"),
        )
        for item in items
    )


def energy_setup(prefs: Mapping[str, Any] | None) -> EnergySetup:  # noqa: C901 - one branch per source type
    """Parse HA's Energy settings (either format); None or {}: nothing configured."""
    if not prefs:
        return EnergySetup()
    grid_import: list[Flow] = []
    grid_export: list[Flow] = []
    solar: list[str] = []
    battery: list[Battery] = []
    gas: list[Flow] = []
    water: list[Flow] = []
    home_power: str | None = None
    for source in prefs.get("energy_sources") or ():
        kind = source.get("type")
        if kind == "grid" and ("flow_from" in source or "flow_to" in source):
            # Before 2026.11: lists of flows under one grid source.
            for item in source.get("flow_from") or ():
                grid_import.append(  # noqa: PERF401 - two lists, one loop each
                    Flow(
                        _required(item, "stat_energy_from", "grid"),
                        _price(
                            item,
                            "stat_cost",
                            "entity_energy_price",
                            "number_energy_price",
                        ),
                    )
                )
            for item in source.get("flow_to") or ():
                grid_export.append(  # noqa: PERF401
                    Flow(
                        _required(item, "stat_energy_to", "grid"),
                        _price(
                            item,
                            "stat_compensation",
                            "entity_energy_price",
                            "number_energy_price",
                        ),
                    )
                )
        elif kind == "grid":
            # From 2026.11: one flat entry per connection, import and export together.
            if stat := _text(source, "stat_energy_from"):
                grid_import.append(
                    Flow(
                        stat,
                        _price(
                            source,
                            "stat_cost",
                            "entity_energy_price",
                            "number_energy_price",
                        ),
                    )
                )
            if stat := _text(source, "stat_energy_to"):
                grid_export.append(
                    Flow(
                        stat,
                        _price(
                            source,
                            "stat_compensation",
                            "entity_energy_price_export",
                            "number_energy_price_export",
                        ),
                    )
                )
        elif kind == "solar":
            solar.append(_required(source, "stat_energy_from", "solar"))
        elif kind == "battery":
            battery.append(
                Battery(
                    _required(source, "stat_energy_from", "battery"),
                    _required(source, "stat_energy_to", "battery"),
                )
            )
        elif kind in ("gas", "water"):
            flow = Flow(
                _required(source, "stat_energy_from", kind),
                _price(
                    source, "stat_cost", "entity_energy_price", "number_energy_price"
                ),
            )
            (gas if kind == "gas" else water).append(flow)
        elif kind == "home":
            home_power = _text(source, "stat_rate")
        # Other types are HA's to add; what they mean is not known here.
    return EnergySetup(
        grid_import=tuple(grid_import),
        grid_export=tuple(grid_export),
        solar=tuple(solar),
        battery=tuple(battery),
        gas=tuple(gas),
        water=tuple(water),
        home_power=home_power,
        devices=_devices(prefs.get("device_consumption") or ()),
        water_devices=_devices(prefs.get("device_consumption_water") or ()),
    )
