"""HA's Energy settings, read from the real HA process and followed at reconciliation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from companion.core import energy_setup
from tests.energy_settings import LEGACY
from tests.ha import HomeAssistant
from tests.servers import Servers

from .conftest import Companion, companion_config, error_code, run_companion

NO_PREFS: dict[str, Any] = {
    "energy_sources": [],
    "device_consumption": [],
    "device_consumption_water": [],
}


async def _save(home_assistant: HomeAssistant, prefs: dict[str, Any]) -> None:
    await asyncio.to_thread(
        home_assistant.command, {"type": "energy/save_prefs", **prefs}
    )


@pytest.fixture
async def saved_prefs(hass_server: HomeAssistant) -> AsyncIterator[None]:
    """HA's Energy settings as LEGACY names them; none again afterwards."""
    # HA takes no null name on save (it leaves a name out).
    devices = [
        {key: value for key, value in device.items() if value is not None}
        for device in LEGACY["device_consumption"]
    ]
    await _save(hass_server, {**LEGACY, "device_consumption": devices})
    yield
    await _save(hass_server, NO_PREFS)


@pytest.mark.usefixtures("saved_prefs")
async def test_settings_are_read_kept_and_followed(
    companion: Companion, home_assistant: HomeAssistant
) -> None:
    response = await companion.http.get("/api/energy/settings")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["configured"] is True
    assert answer["synced_at"].endswith("Z")
    setup = answer["setup"]
    assert [flow["stat"] for flow in setup["grid_import"]] == ["sensor.import"]
    assert setup["grid_import"][0]["price"]["stat_cost"] == "sensor.import_cost"
    assert [flow["stat"] for flow in setup["grid_export"]] == ["sensor.export"]
    assert setup["solar"] == ["sensor.solar"]
    assert setup["battery"] == [
        {"stat_out": "sensor.battery_out", "stat_in": "sensor.battery_in"}
    ]
    assert setup["gas"][0]["price"]["number"] == 1.2
    assert {d["stat"]: d["included_in"] for d in setup["devices"]} == {
        "sensor.fridge": None,
        "sensor.freezer": "sensor.fridge",
    }
    prefs = await asyncio.to_thread(
        home_assistant.command, {"type": "energy/get_prefs"}
    )
    assert setup == orjson.loads(orjson.dumps(energy_setup.energy_setup(prefs)))

    # A change in HA is followed at the next reconciliation, and kept.
    await _save(
        home_assistant,
        {
            **NO_PREFS,
            "energy_sources": [
                {
                    "type": "solar",
                    "stat_energy_from": "sensor.roof",
                    "config_entry_solar_forecast": None,
                }
            ],
        },
    )
    kept = (await companion.http.get("/api/energy/settings")).json()
    assert kept["setup"] == setup  # what was read last, until HA is asked again
    await companion.jobs.scheduler.reconcile()
    followed = (await companion.http.get("/api/energy/settings")).json()
    assert followed["setup"]["solar"] == ["sensor.roof"]
    assert followed["setup"]["grid_import"] == []
    assert followed["synced_at"] >= kept["synced_at"]


async def test_without_home_assistant_it_says_what_to_do(
    servers: Servers, mongodb_database_name: str
) -> None:
    config = companion_config(servers, mongodb_database_name)
    async with run_companion(config) as companion:
        try:
            response = await companion.http.get("/api/energy/settings")
            assert response.status_code == 409
            assert error_code(response) == "home_assistant_not_configured"
            bad = await companion.http.get("/api/energy/settings?refresh=yes")
            assert bad.status_code == 400
            assert error_code(bad) == "bad_parameter"
        finally:
            await companion.hub.mongo.client.drop_database(mongodb_database_name)
