"""Which entities are tracked: MongoDB's choice, options, Energy prefs; reauth at run time."""

from __future__ import annotations

import asyncio

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pymongo.asynchronous.database import AsyncDatabase

from custom_components.energy_tracker.const import (
    CONF_EXCLUDE_ENTITIES,
    CONF_INCLUDE_GLOBS,
    CONF_MONGODB_URI,
    CONF_QUESTDB_PASSWORD,
    CONF_QUESTDB_USERNAME,
    DOMAIN,
    STATUS_AUTH_FAILED,
    STATUS_OK,
)
from tests.servers import Servers, questdb_rows, wait_for_rows

from .conftest import ENERGY, QUESTDB_PASSWORD, QUESTDB_USER, make_entry, setup_entry

POWER = {"device_class": "power", "unit_of_measurement": "W"}
TEMPERATURE = {"device_class": "temperature", "unit_of_measurement": "°C"}


async def test_mongodb_choice_is_honoured_below_options(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    mongo_db: AsyncDatabase[dict[str, object]],
) -> None:
    power = f"sensor.mp_{entity_suffix}"
    temperature = f"sensor.mt_{entity_suffix}"
    excluded = f"sensor.mx_{entity_suffix}"
    # The companion chose: stop tracking the power sensor, track the temperature;
    # the options exclude `excluded`, which wins over MongoDB's True.
    await mongo_db["entities"].insert_many(
        [
            {"_id": power, "is_tracked": False, "tracked_by": "companion"},
            {"_id": temperature, "is_tracked": True, "tracked_by": "companion"},
            {"_id": excluded, "is_tracked": True, "tracked_by": "companion"},
        ]
    )
    entry = await setup_entry(
        hass,
        make_entry(
            servers, mongodb_database_name, options={CONF_EXCLUDE_ENTITIES: [excluded]}
        ),
    )
    forwarder = entry.runtime_data.forwarder
    await forwarder.async_sync_mongo()
    hass.states.async_set(power, "100", POWER)
    hass.states.async_set(temperature, "21", TEMPERATURE)
    hass.states.async_set(excluded, "5", ENERGY)
    await forwarder.async_flush()
    rows = await wait_for_rows(
        servers,
        f"select entity_id from energy_readings where entity_id like 'sensor.m%_{entity_suffix}'",
        1,
    )
    assert rows == [[temperature]]

    # The companion changes its mind: the next refresh re-decides.
    await mongo_db["entities"].update_one(
        {"_id": power}, {"$set": {"is_tracked": True}}
    )
    await forwarder.async_sync_mongo()
    hass.states.async_set(power, "200", POWER)
    await forwarder.async_flush()
    await wait_for_rows(
        servers, f"select * from energy_readings where entity_id = '{power}'", 1
    )
    assert questdb_rows(
        servers, f"select value from energy_readings where entity_id = '{power}'"
    ) == [[200.0]]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_flags_written_by_rules_follow_the_rules(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    mongo_db: AsyncDatabase[dict[str, object]],
) -> None:
    """is_tracked that no user chose never outlives the rule that set it."""
    globbed = f"sensor.fg_{entity_suffix}"
    discovered = f"sensor.fd_{entity_suffix}"
    # The companion's discovery writes "not tracked" without choosing anything.
    await mongo_db["entities"].insert_one({"_id": discovered, "is_tracked": False})
    entry = await setup_entry(
        hass,
        make_entry(
            servers,
            mongodb_database_name,
            options={CONF_INCLUDE_GLOBS: [f"sensor.fg_{entity_suffix}*"]},
        ),
    )
    forwarder = entry.runtime_data.forwarder
    hass.states.async_set(globbed, "21", TEMPERATURE)
    hass.states.async_set(discovered, "5", ENERGY)
    await forwarder.async_flush()
    await forwarder.async_sync_mongo()

    async def flags() -> dict[str, tuple[object, object]]:
        cursor = mongo_db["entities"].find(
            {"_id": {"$in": [globbed, discovered]}}, {"is_tracked": 1, "tracked_by": 1}
        )
        return {
            str(doc["_id"]): (doc["is_tracked"], doc.get("tracked_by"))
            async for doc in cursor
        }

    assert await flags() == {
        globbed: (True, "integration"),
        discovered: (True, "integration"),
    }
    await wait_for_rows(
        servers,
        f"select * from energy_readings where entity_id in ('{globbed}', '{discovered}')",
        2,
    )

    # The glob goes: the temperature sensor is no longer tracked, and its flag says so.
    hass.config_entries.async_update_entry(entry, options={CONF_INCLUDE_GLOBS: []})
    await hass.async_block_till_done()
    await forwarder.async_sync_mongo()
    assert (await flags())[globbed] == (False, "integration")
    hass.states.async_set(globbed, "22", TEMPERATURE)
    hass.states.async_set(discovered, "6", ENERGY)
    await forwarder.async_flush()
    await wait_for_rows(
        servers, f"select * from energy_readings where entity_id = '{discovered}'", 2
    )
    assert questdb_rows(
        servers, f"select value from energy_readings where entity_id = '{globbed}'"
    ) == [[21.0]]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_energy_dashboard_entities_are_tracked(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
) -> None:
    assert await async_setup_component(hass, "energy", {})
    from homeassistant.components.energy.data import async_get_manager

    grid = f"sensor.grid_{entity_suffix}"
    export = f"sensor.export_{entity_suffix}"
    export_price = f"sensor.export_price_{entity_suffix}"
    grid_power = f"sensor.grid_power_{entity_suffix}"
    plug = f"sensor.plug_{entity_suffix}"
    tap = f"sensor.tap_{entity_suffix}"
    entry = await setup_entry(hass, make_entry(servers, mongodb_database_name))
    forwarder = entry.runtime_data.forwarder
    # Without a device class and not yet in the Energy prefs: not tracked.
    hass.states.async_set(plug, "1", {"unit_of_measurement": "kWh"})
    manager = await async_get_manager(hass)
    # This HA's own format: grid flows, a grid power sensor, water devices.
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "grid",
                    "flow_from": [
                        {
                            "stat_energy_from": grid,
                            "stat_cost": None,
                            "entity_energy_price": None,
                            "number_energy_price": None,
                        }
                    ],
                    "flow_to": [
                        {
                            "stat_energy_to": export,
                            "stat_compensation": None,
                            "entity_energy_price": export_price,
                            "number_energy_price": None,
                        }
                    ],
                    "power": [{"stat_rate": grid_power}],
                    "cost_adjustment_day": 0,
                }
            ],
            "device_consumption": [{"stat_consumption": plug, "name": None}],
            "device_consumption_water": [{"stat_consumption": tap, "name": None}],
        }
    )
    await hass.async_block_till_done()
    assert forwarder.rules.energy_prefs == {
        grid,
        export,
        export_price,
        grid_power,
        plug,
        tap,
    }
    hass.states.async_set(plug, "2", {"unit_of_measurement": "kWh"})
    hass.states.async_set(grid, "3", {"unit_of_measurement": "kWh"})
    hass.states.async_set(export_price, "0.08", {"unit_of_measurement": "EUR/kWh"})
    hass.states.async_set(tap, "4", {"unit_of_measurement": "L"})
    await forwarder.async_flush()
    rows = await wait_for_rows(
        servers,
        f"select entity_id, value from energy_readings where entity_id like '%_{entity_suffix}' order by entity_id",
        4,
    )
    assert rows == [[export_price, 0.08], [grid, 3.0], [plug, 2.0], [tap, 4.0]]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_rejected_credentials_start_reauth(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    questdb_auth_proxy: str,
) -> None:
    entry = make_entry(servers, mongodb_database_name, questdb_url=questdb_auth_proxy)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            CONF_QUESTDB_USERNAME: QUESTDB_USER,
            CONF_QUESTDB_PASSWORD: "old",
        },
    )
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"],
        {
            CONF_QUESTDB_USERNAME: QUESTDB_USER,
            CONF_QUESTDB_PASSWORD: QUESTDB_PASSWORD,
            "mongodb_uri": servers.mongodb_uri,
        },
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state.value == ConfigEntryState.LOADED.value
    assert entry.runtime_data.forwarder.stats.questdb_status != STATUS_AUTH_FAILED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_mongodb_credentials_rejected_at_run_time_start_reauth(
    hass: HomeAssistant, servers: Servers, mongodb_database_name: str
) -> None:
    """MongoDB refusing the credentials while the entry runs asks for new ones."""
    entry = make_entry(servers, mongodb_database_name)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            CONF_MONGODB_URI: f"mongodb://nobody:wrong@127.0.0.1:{servers.mongodb_port}/",
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    forwarder = entry.runtime_data.forwarder
    async with asyncio.timeout(20):
        while forwarder.stats.mongodb_status != STATUS_AUTH_FAILED:
            await asyncio.sleep(0.05)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    # Readings still reach QuestDB meanwhile.
    hass.states.async_set(f"sensor.mauth_{mongodb_database_name}", "1", ENERGY)
    await forwarder.async_flush()
    await wait_for_rows(
        servers,
        f"select * from energy_readings where entity_id = 'sensor.mauth_{mongodb_database_name}'",
        1,
    )
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_MONGODB_URI: servers.mongodb_uri}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    forwarder = entry.runtime_data.forwarder
    async with asyncio.timeout(20):
        while forwarder.stats.mongodb_status != STATUS_OK:
            await asyncio.sleep(0.05)
    assert await hass.config_entries.async_unload(entry.entry_id)
