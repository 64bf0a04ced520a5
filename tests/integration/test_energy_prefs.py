"""The entities of HA's Energy preferences, in the format before 2026.11 and after it."""

from __future__ import annotations

from custom_components.energy_tracker.tracking import energy_pref_entities
from tests.energy_settings import FLAT, LEGACY


def test_legacy_format() -> None:
    assert energy_pref_entities(LEGACY) == {
        "sensor.import",
        "sensor.import_cost",
        "sensor.import_price",
        "sensor.export",
        "sensor.export_price",
        "sensor.grid_power",
        "sensor.grid_power_in",
        "sensor.grid_power_out",
        "sensor.solar",
        "sensor.solar_power",
        "sensor.battery_out",
        "sensor.battery_in",
        "sensor.battery_power",
        "sensor.gas",
        "sensor.fridge",
        "sensor.freezer",
        "sensor.freezer_power",
        "sensor.shower",
    }


def test_flat_format_of_2026_11() -> None:
    assert energy_pref_entities(FLAT) == {
        "sensor.import",
        "sensor.export",
        "sensor.import_price",
        "sensor.export_compensation",
        "sensor.export_price",
        "sensor.grid_power",
        "sensor.import_night",
        "sensor.grid_power_in",
        "sensor.home",
        "sensor.home_power",
        "sensor.water",
        "sensor.water_flow",
        "sensor.fridge",
        "sensor.shower",
        "sensor.shower_flow",
    }


def test_external_statistics_and_empty_prefs_name_no_entity() -> None:
    prefs = {
        "energy_sources": [{"type": "solar", "stat_energy_from": "forecast:solar"}]
    }
    assert energy_pref_entities(prefs) == frozenset()
    assert energy_pref_entities(None) == frozenset()
    assert energy_pref_entities({}) == frozenset()
