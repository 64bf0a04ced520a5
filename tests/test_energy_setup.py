"""HA's Energy settings parsed into one shape, from both formats."""

from __future__ import annotations

import orjson
import pytest

from companion.core import energy_setup as core_setup
from tests.energy_settings import FLAT, LEGACY

Battery = core_setup.Battery
Device = core_setup.Device
EnergySetup = core_setup.EnergySetup
EnergySetupError = core_setup.EnergySetupError
Flow = core_setup.Flow
Price = core_setup.Price
energy_setup = core_setup.energy_setup


def test_the_format_before_2026_11() -> None:
    setup = energy_setup(LEGACY)
    assert setup.grid_import == (
        Flow("sensor.import", Price("sensor.import_cost", "sensor.import_price")),
    )
    assert setup.grid_export == (
        Flow("sensor.export", Price(None, "sensor.export_price")),
    )
    assert setup.solar == ("sensor.solar",)
    assert setup.battery == (Battery("sensor.battery_out", "sensor.battery_in"),)
    assert setup.gas == (Flow("sensor.gas", Price(number=1.2)),)
    assert setup.water == ()
    assert setup.home_power is None
    assert setup.devices == (
        Device("sensor.fridge"),
        Device("sensor.freezer", included_in="sensor.fridge"),
    )
    assert setup.top_level_devices == (Device("sensor.fridge"),)
    assert setup.water_devices == (Device("sensor.shower"),)


def test_the_flat_format_of_2026_11() -> None:
    setup = energy_setup(FLAT)
    assert setup.grid_import == (
        Flow("sensor.import", Price(None, "sensor.import_price")),
        Flow("sensor.import_night", Price(number=0.21)),
    )
    assert setup.grid_export == (
        Flow(
            "sensor.export", Price("sensor.export_compensation", "sensor.export_price")
        ),
    )
    assert setup.water == (Flow("sensor.water"),)
    assert setup.home_power == "sensor.home_power"
    assert setup.devices == (Device("sensor.fridge"),)
    assert setup.water_devices == (Device("sensor.shower"),)


def test_nothing_configured_json_and_what_is_named() -> None:
    assert energy_setup(None) == energy_setup({}) == EnergySetup()
    setup = energy_setup(LEGACY)
    document = orjson.loads(orjson.dumps(setup))  # as the API writes it
    assert document["grid_import"][0] == {
        "stat": "sensor.import",
        "price": {
            "stat_cost": "sensor.import_cost",
            "entity": "sensor.import_price",
            "number": None,
        },
    }
    assert setup.statistic_ids == (
        "sensor.import",
        "sensor.export",
        "sensor.gas",
        "sensor.import_cost",
        "sensor.solar",
        "sensor.battery_out",
        "sensor.battery_in",
        "sensor.fridge",
        "sensor.freezer",
        "sensor.shower",
    )
    # A device nested under one HA does not name counts as top level.
    orphan = energy_setup(
        {
            "device_consumption": [
                {"stat_consumption": "sensor.a", "included_in_stat": "sensor.gone"}
            ]
        }
    )
    assert orphan.top_level_devices == orphan.devices


@pytest.mark.parametrize(
    ("prefs", "message"),
    [
        (
            {"energy_sources": [{"type": "solar"}]},
            "a solar source names no stat_energy_from",
        ),
        (
            {
                "energy_sources": [
                    {
                        "type": "gas",
                        "stat_energy_from": "sensor.g",
                        "number_energy_price": "1",
                    }
                ]
            },
            "number_energy_price must be a number",
        ),
        (
            {
                "energy_sources": [
                    {
                        "type": "gas",
                        "stat_energy_from": "sensor.g",
                        "number_energy_price": float("nan"),
                    }
                ]
            },
            "number_energy_price must be finite",
        ),
        (
            {"device_consumption": [{"stat_consumption": 3}]},
            "stat_consumption must be a statistic id",
        ),
    ],
)
def test_settings_not_in_a_shape_ha_writes_say_what_is_wrong(
    prefs: dict[str, object], message: str
) -> None:
    with pytest.raises(EnergySetupError, match=message):
        energy_setup(prefs)
