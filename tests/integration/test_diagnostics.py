"""Diagnostics (secrets redacted, checked against a snapshot) and the diagnostic sensors."""

from __future__ import annotations

import json

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.components.diagnostics import (  # type: ignore[import-untyped]
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator  # type: ignore[import-untyped]
from syrupy.assertion import SnapshotAssertion
from syrupy.matchers import path_type

from custom_components.energy_tracker.const import (
    CONF_MONGODB_URI,
    CONF_QUESTDB_PASSWORD,
    CONF_QUESTDB_USERNAME,
)
from custom_components.energy_tracker.diagnostics import (
    async_get_config_entry_diagnostics,
)
from tests.servers import Servers

from .conftest import (
    ENERGY,
    QUESTDB_PASSWORD,
    QUESTDB_USER,
    closed_port,
    make_entry,
    setup_entry,
)

# What differs from run to run (ports, database and entity names, times, ids): the
# snapshot keeps the field and its type, not its value.
VOLATILE = path_type(
    {
        r"entry\.entry_id": (str,),
        r"entry\.created_at": (str,),
        r"entry\.modified_at": (str,),
        r"entry\.data\.questdb_url": (str,),
        r"entry\.data\.mongodb_database": (str,),
        r"forwarder\.last_write_at": (str,),
        r"forwarder\.last_event_at": (str,),
        r"forwarder\.tracked_entities\.\d+": (str,),
    },
    regex=True,
)


async def test_diagnostics_redacts_secrets(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    questdb_auth_proxy: str,
    snapshot: SnapshotAssertion,
) -> None:
    entry = make_entry(servers, mongodb_database_name, questdb_url=questdb_auth_proxy)
    secret_uri = (
        f"mongodb://127.0.0.1:{servers.mongodb_port}/?appname=secret-{entity_suffix}"
    )
    entry = type(entry)(
        domain=entry.domain,
        title=entry.title,
        data={
            **entry.data,
            CONF_QUESTDB_USERNAME: QUESTDB_USER,
            CONF_QUESTDB_PASSWORD: QUESTDB_PASSWORD,
            CONF_MONGODB_URI: secret_uri,
        },
        options=entry.options,
        unique_id=entry.unique_id,
    )
    await setup_entry(hass, entry)
    meter = f"sensor.diag_{entity_suffix}"
    hass.states.async_set(meter, "1", ENERGY)
    await entry.runtime_data.forwarder.async_flush()
    # Both databases answered once, so their status is settled (not "starting").
    await entry.runtime_data.forwarder.async_sync_mongo()

    result = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert result == snapshot(matcher=VOLATILE)
    # The snapshot leaves these out: no secret anywhere, and the volatile values.
    text = json.dumps(result)
    for secret in (QUESTDB_PASSWORD, secret_uri, f"secret-{entity_suffix}"):
        assert secret not in text
    assert result["entry"]["data"]["questdb_url"] == questdb_auth_proxy
    assert result["entry"]["data"]["mongodb_database"] == mongodb_database_name
    assert result["forwarder"]["tracked_entities"] == [meter]

    # One device with five diagnostic sensors, named through translations.
    device = dr.async_get(hass).async_get_device({("energy_tracker", entry.entry_id)})
    assert device is not None
    sensors = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert {s.translation_key for s in sensors} == {
        "rows_forwarded",
        "spool_rows",
        "last_write",
        "questdb_status",
        "mongodb_status",
    }
    assert all(s.entity_category is EntityCategory.DIAGNOSTIC for s in sensors)
    assert all(s.device_id == device.id for s in sensors)
    await hass.async_block_till_done()
    by_key = {s.translation_key: hass.states.get(s.entity_id) for s in sensors}
    assert by_key["rows_forwarded"].state == "1"  # type: ignore[union-attr]
    assert by_key["questdb_status"].state == "ok"  # type: ignore[union-attr]
    assert by_key["spool_rows"].state == "0"  # type: ignore[union-attr]
    assert by_key["last_write"].state not in ("unknown", "unavailable")  # type: ignore[union-attr]
    assert by_key["rows_forwarded"].name.endswith("Rows forwarded")  # type: ignore[union-attr]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_status_sensors_never_report_a_reserved_state(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
) -> None:
    # QuestDB unreachable: its status sensor must say so with a state of its own,
    # not HA's "unavailable", which would make the sensor itself look unavailable.
    entry = await setup_entry(
        hass,
        make_entry(
            servers,
            mongodb_database_name,
            questdb_url=f"http://127.0.0.1:{closed_port()}",
        ),
    )
    forwarder = entry.runtime_data.forwarder
    hass.states.async_set(f"sensor.down_{entity_suffix}", "1", ENERGY)
    await forwarder.async_flush()
    await hass.async_block_till_done()

    sensors = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    states = {s.translation_key: hass.states.get(s.entity_id) for s in sensors}
    questdb = states["questdb_status"]
    assert questdb is not None
    assert questdb.state == "disconnected"
    for key in ("questdb_status", "mongodb_status"):
        state = states[key]
        assert state is not None
        options = state.attributes["options"]
        assert "disconnected" in options
        assert not {STATE_UNAVAILABLE, STATE_UNKNOWN} & set(options)
    result = await async_get_config_entry_diagnostics(hass, entry)
    assert result["forwarder"]["questdb_status"] == "disconnected"
    assert await hass.config_entries.async_unload(entry.entry_id)
