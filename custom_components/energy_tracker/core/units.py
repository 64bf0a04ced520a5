"""Unit rules of Energy Tracker: one stored unit per device class.

Shared by the integration (conversion at ingest) and the companion (labels and
checks), so it imports nothing from Home Assistant. Unit strings are the ones
Home Assistant uses (`homeassistant.const.UnitOf*`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ENERGY: Final = "energy"
POWER: Final = "power"
GAS: Final = "gas"
WATER: Final = "water"

TRACKED_DEVICE_CLASSES: Final = frozenset({ENERGY, POWER, GAS, WATER})
"""Device classes tracked by default."""

NO_VALUE_STATES: Final = frozenset({"unknown", "unavailable"})
"""HA's states that are no number but a gap: stored as a row without a value (NULL).

Every path that writes readings (live, the backfill action, the companion's
backfill) keeps them so, and a chart breaks its line there instead of drawing
through; other states that are no finite number are not written at all.
"""

_CUBIC_FOOT_M3: Final = 0.028316846592
_GALLON_M3: Final = 0.003785411784

_ENERGY_TO_KWH: Final[dict[str, float]] = {
    "mWh": 1e-6,
    "Wh": 1e-3,
    "kWh": 1.0,
    "MWh": 1e3,
    "GWh": 1e6,
    "TWh": 1e9,
    "J": 1 / 3_600_000,
    "kJ": 1 / 3_600,
    "MJ": 1 / 3.6,
    "GJ": 1e3 / 3.6,
    "cal": 4.184 / 3_600_000,
    "kcal": 4.184 / 3_600,
    "Mcal": 4.184 / 3.6,
    "Gcal": 4.184e3 / 3.6,
}
_POWER_TO_W: Final[dict[str, float]] = {
    "mW": 1e-3,
    "W": 1.0,
    "kW": 1e3,
    "MW": 1e6,
    "GW": 1e9,
    "TW": 1e12,
    "BTU/h": 0.29307107,
}
_VOLUME_TO_M3: Final[dict[str, float]] = {
    "mL": 1e-6,
    "L": 1e-3,
    "m³": 1.0,
    "ft³": _CUBIC_FOOT_M3,
    "CCF": 100 * _CUBIC_FOOT_M3,
    "MCF": 1000 * _CUBIC_FOOT_M3,
    "gal": _GALLON_M3,
}

CANONICAL_UNIT: Final[dict[str, str]] = {
    ENERGY: "kWh",
    POWER: "W",
    GAS: "m³",
    WATER: "m³",
}


@dataclass(frozen=True, slots=True)
class Conversion:
    """How a reported unit maps to the stored one: stored = reported * factor."""

    unit: str
    factor: float


def conversion_for(device_class: str | None, unit: str | None) -> Conversion | None:
    """Return the conversion to the stored unit, or None when the unit is not known.

    Gas meters may report energy (kWh) instead of volume; those are stored in kWh,
    so a gas series never mixes volume and energy. A unit this module does not know
    is kept unconverted by the caller, under its own name, never merged with another.
    """
    if unit is None:
        return None
    if device_class == ENERGY or (device_class == GAS and unit in _ENERGY_TO_KWH):
        factor = _ENERGY_TO_KWH.get(unit)
        return None if factor is None else Conversion("kWh", factor)
    if device_class == POWER:
        factor = _POWER_TO_W.get(unit)
        return None if factor is None else Conversion("W", factor)
    if device_class in (GAS, WATER):
        factor = _VOLUME_TO_M3.get(unit)
        return None if factor is None else Conversion("m³", factor)
    return None


def stored_unit(device_class: str | None, unit: str | None) -> tuple[str | None, float]:
    """Return the unit a series is stored in and the factor to it.

    An unknown unit is stored as reported (factor 1.0), under its own name.
    """
    conversion = conversion_for(device_class, unit)
    if conversion is None:
        return unit, 1.0
    return conversion.unit, conversion.factor


def to_stored(
    device_class: str | None, unit: str | None, value: float
) -> tuple[float, str | None]:
    """Convert a reported value to the stored unit; unknown units pass through unchanged."""
    stored, factor = stored_unit(device_class, unit)
    return (value if factor == 1.0 else value * factor), stored
