"""HA's Energy settings in both formats, as `energy/get_prefs` returns them."""

from __future__ import annotations

from typing import Any

# HA 2026.2's format: a grid source holds flow lists and power sensors.
LEGACY: dict[str, Any] = {
    "energy_sources": [
        {
            "type": "grid",
            "flow_from": [
                {
                    "stat_energy_from": "sensor.import",
                    "stat_cost": "sensor.import_cost",
                    "entity_energy_price": "sensor.import_price",
                    "number_energy_price": None,
                }
            ],
            "flow_to": [
                {
                    "stat_energy_to": "sensor.export",
                    "stat_compensation": None,
                    "entity_energy_price": "sensor.export_price",
                    "number_energy_price": None,
                }
            ],
            "power": [
                {"stat_rate": "sensor.grid_power"},
                {
                    "power_config": {
                        "stat_rate_from": "sensor.grid_power_in",
                        "stat_rate_to": "sensor.grid_power_out",
                    }
                },
            ],
            "cost_adjustment_day": 0.0,
        },
        {
            "type": "solar",
            "stat_energy_from": "sensor.solar",
            "stat_rate": "sensor.solar_power",
            "config_entry_solar_forecast": ["01JFORECASTENTRY"],
        },
        {
            "type": "battery",
            "stat_energy_from": "sensor.battery_out",
            "stat_energy_to": "sensor.battery_in",
            "power_config": {"stat_rate_inverted": "sensor.battery_power"},
        },
        {
            "type": "gas",
            "stat_energy_from": "sensor.gas",
            "stat_cost": None,
            "entity_energy_price": None,
            "number_energy_price": 1.2,
        },
    ],
    "device_consumption": [
        {"stat_consumption": "sensor.fridge", "name": None},
        {
            "stat_consumption": "sensor.freezer",
            "stat_rate": "sensor.freezer_power",
            "included_in_stat": "sensor.fridge",
        },
    ],
    "device_consumption_water": [{"stat_consumption": "sensor.shower"}],
}

# HA 2026.11's format: each grid entry is flat; a home source; water devices.
FLAT: dict[str, Any] = {
    "energy_sources": [
        {
            "type": "grid",
            "stat_energy_from": "sensor.import",
            "stat_energy_to": "sensor.export",
            "stat_cost": None,
            "entity_energy_price": "sensor.import_price",
            "number_energy_price": None,
            "stat_compensation": "sensor.export_compensation",
            "entity_energy_price_export": "sensor.export_price",
            "number_energy_price_export": None,
            "stat_rate": "sensor.grid_power",
            "cost_adjustment_day": 0.0,
            "name": "Grid",
        },
        {
            "type": "grid",
            "stat_energy_from": "sensor.import_night",
            "stat_energy_to": None,
            "stat_cost": None,
            "entity_energy_price": None,
            "number_energy_price": 0.21,
            "stat_compensation": None,
            "entity_energy_price_export": None,
            "number_energy_price_export": None,
            "power_config": {"stat_rate_from": "sensor.grid_power_in"},
            "cost_adjustment_day": 0.0,
        },
        {
            "type": "home",
            "stat_energy_to": "sensor.home",
            "stat_rate": "sensor.home_power",
        },
        {
            "type": "water",
            "stat_energy_from": "sensor.water",
            "stat_rate": "sensor.water_flow",
            "stat_cost": None,
            "entity_energy_price": None,
            "number_energy_price": None,
        },
    ],
    "device_consumption": [{"stat_consumption": "sensor.fridge"}],
    "device_consumption_water": [
        {"stat_consumption": "sensor.shower", "stat_rate": "sensor.shower_flow"}
    ],
}
