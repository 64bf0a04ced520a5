"""The unit rules shared by the integration and the companion (defined once, tested once)."""

from __future__ import annotations

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
import pytest

from companion.core import units as companion_units
from custom_components.energy_tracker.core import units


def test_companion_loads_the_same_definition() -> None:
    """The companion's copy is the integration's file, not a second definition."""
    assert companion_units.__file__ == units.__file__
    assert companion_units.CANONICAL_UNIT == units.CANONICAL_UNIT


def test_gaps_are_home_assistants_unknown_and_unavailable() -> None:
    """The states stored as rows without a value are exactly HA's two non-values."""
    assert frozenset({STATE_UNKNOWN, STATE_UNAVAILABLE}) == units.NO_VALUE_STATES


@pytest.mark.parametrize(
    ("device_class", "unit", "value", "expected"),
    [
        ("energy", "Wh", 1500.0, (1.5, "kWh")),
        ("energy", "kWh", 2.5, (2.5, "kWh")),
        ("energy", "MWh", 0.002, (2.0, "kWh")),
        ("energy", "GJ", 0.0036, (1.0, "kWh")),
        ("power", "kW", 1.2, (1200.0, "W")),
        ("power", "W", 300.0, (300.0, "W")),
        ("gas", "m³", 3.0, (3.0, "m³")),
        ("gas", "ft³", 100.0, (2.8316846592, "m³")),
        ("gas", "kWh", 10.0, (10.0, "kWh")),
        ("water", "L", 250.0, (0.25, "m³")),
        ("water", "gal", 1.0, (0.003785411784, "m³")),
    ],
)
def test_values_are_stored_in_one_unit_per_device_class(
    device_class: str, unit: str, value: float, expected: tuple[float, str]
) -> None:
    """Every reported unit maps to the one stored unit of its device class."""
    stored, stored_unit = units.to_stored(device_class, unit, value)
    assert stored_unit == expected[1]
    assert stored == pytest.approx(expected[0])


@pytest.mark.parametrize(
    ("device_class", "unit"),
    [("energy", "furlongs"), ("temperature", "°C"), (None, "kWh"), ("power", None)],
)
def test_unknown_units_pass_through_unchanged(
    device_class: str | None, unit: str | None
) -> None:
    """A unit the rules do not know keeps its own name and value, never merged."""
    assert units.to_stored(device_class, unit, 7.0) == (7.0, unit)
    assert units.stored_unit(device_class, unit) == (unit, 1.0)
