"""Config, reconfigure, reauth and options flows, each connection tested for real."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.energy_tracker.const import (
    CONF_EXCLUDE_ENTITIES,
    CONF_EXCLUDE_GLOBS,
    CONF_INCLUDE_ENTITIES,
    CONF_INCLUDE_GLOBS,
    CONF_MONGODB_DATABASE,
    CONF_MONGODB_URI,
    CONF_PANEL_URL,
    CONF_QUESTDB_PASSWORD,
    CONF_QUESTDB_TOKEN,
    CONF_QUESTDB_URL,
    CONF_QUESTDB_USERNAME,
    CONF_SPOOL_MAX_MB,
    CONF_VERIFY_SSL,
    DOMAIN,
)
from tests.servers import Servers

from .conftest import QUESTDB_PASSWORD, QUESTDB_USER, closed_port, entry_data


async def _user_flow(hass: HomeAssistant, user_input: dict[str, Any]) -> Any:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return await hass.config_entries.flow.async_configure(result["flow_id"], user_input)


async def test_user_flow_creates_entry(
    hass: HomeAssistant, servers: Servers, mongodb_database_name: str
) -> None:
    result = await _user_flow(hass, entry_data(servers, mongodb_database_name))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_QUESTDB_URL: servers.questdb_url,
        CONF_VERIFY_SSL: True,
        CONF_MONGODB_URI: servers.mongodb_uri,
        CONF_MONGODB_DATABASE: mongodb_database_name,
    }
    assert result["options"][CONF_SPOOL_MAX_MB] == 256
    entry = result["result"]
    assert entry.unique_id == (
        f"{servers.questdb_url}|mongodb://127.0.0.1:{servers.mongodb_port}/"
        f"{mongodb_database_name}"
    )
    await hass.config_entries.async_unload(entry.entry_id)


async def test_user_flow_already_configured(
    hass: HomeAssistant, servers: Servers, mongodb_database_name: str
) -> None:
    first = await _user_flow(hass, entry_data(servers, mongodb_database_name))
    assert first["type"] is FlowResultType.CREATE_ENTRY
    # Same pair written differently (trailing slash) is still the same pair.
    again = entry_data(servers, mongodb_database_name)
    again[CONF_QUESTDB_URL] += "/"
    second = await _user_flow(hass, again)
    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_configured"
    await hass.config_entries.async_unload(first["result"].entry_id)


@pytest.mark.parametrize(
    ("field", "value", "error_field", "error"),
    [
        ("questdb_url", "ftp://127.0.0.1:9000", CONF_QUESTDB_URL, "invalid_uri"),
        ("questdb_url", "not a url", CONF_QUESTDB_URL, "invalid_uri"),
        ("questdb_url", "closed", CONF_QUESTDB_URL, "cannot_connect"),
        ("mongodb_uri", "postgres://127.0.0.1/", CONF_MONGODB_URI, "invalid_uri"),
        ("mongodb_uri", "closed", CONF_MONGODB_URI, "cannot_connect"),
        ("mongodb_uri", "auth", CONF_MONGODB_URI, "invalid_auth"),
        ("mongodb_database", "bad/name", CONF_MONGODB_DATABASE, "invalid_database"),
    ],
)
async def test_user_flow_errors_then_recovers(  # noqa: PLR0917
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    field: str,
    value: str,
    error_field: str,
    error: str,
) -> None:
    good = entry_data(servers, mongodb_database_name)
    bad = dict(good)
    if value == "closed":
        port = closed_port()
        bad[field] = (
            f"http://127.0.0.1:{port}"
            if field == CONF_QUESTDB_URL
            else f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=500"
        )
    elif value == "auth":
        bad[field] = f"mongodb://nobody:wrong@127.0.0.1:{servers.mongodb_port}/"
    else:
        bad[field] = value
    result = await _user_flow(hass, bad)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {error_field: error}
    # The form keeps the flow; correcting the field creates the entry.
    result = await hass.config_entries.flow.async_configure(result["flow_id"], good)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_user_flow_questdb_auth(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    questdb_auth_proxy: str,
) -> None:
    data = entry_data(
        servers,
        mongodb_database_name,
        questdb_url=questdb_auth_proxy,
        **{CONF_QUESTDB_USERNAME: QUESTDB_USER, CONF_QUESTDB_PASSWORD: "wrong"},
    )
    result = await _user_flow(hass, data)
    assert result["errors"] == {CONF_QUESTDB_PASSWORD: "invalid_auth"}
    token_data = {**data, CONF_QUESTDB_TOKEN: "bad-token"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], token_data
    )
    assert result["errors"] == {CONF_QUESTDB_TOKEN: "invalid_auth"}
    data[CONF_QUESTDB_PASSWORD] = QUESTDB_PASSWORD
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_QUESTDB_PASSWORD] == QUESTDB_PASSWORD
    await hass.config_entries.async_unload(result["result"].entry_id)


async def _create(hass: HomeAssistant, data: dict[str, Any]) -> Any:
    result = await _user_flow(hass, data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    return result["result"]


async def test_reconfigure(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    questdb_auth_proxy: str,
) -> None:
    entry = await _create(hass, entry_data(servers, mongodb_database_name))
    other = await _create(hass, entry_data(servers, mongodb_database_name + "x"))
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure"
    # An address that does not answer is refused on its field.
    new = entry_data(
        servers, mongodb_database_name, questdb_url=f"http://127.0.0.1:{closed_port()}"
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], new)
    assert result["errors"] == {CONF_QUESTDB_URL: "cannot_connect"}
    # The pair of another entry cannot be taken.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], entry_data(servers, mongodb_database_name + "x")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # A new QuestDB address (behind authentication) is tested and stored.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    new = entry_data(
        servers,
        mongodb_database_name,
        questdb_url=questdb_auth_proxy,
        **{
            CONF_QUESTDB_USERNAME: QUESTDB_USER,
            CONF_QUESTDB_PASSWORD: QUESTDB_PASSWORD,
        },
    )
    forwarder = entry.runtime_data.forwarder
    result = await hass.config_entries.flow.async_configure(result["flow_id"], new)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_QUESTDB_URL] == questdb_auth_proxy
    # Reloaded (by the entry's update listener): a new forwarder on the new address.
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.forwarder is not forwarder
    assert str(entry.runtime_data.forwarder.questdb._exec_url).startswith(
        questdb_auth_proxy
    )
    assert entry.unique_id.startswith(questdb_auth_proxy)
    # Left empty, the stored password is kept (the proxy would refuse otherwise).
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    new.pop(CONF_QUESTDB_PASSWORD)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], new)
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_QUESTDB_PASSWORD] == QUESTDB_PASSWORD
    for item in (entry, other):
        await hass.config_entries.async_unload(item.entry_id)


async def test_reauth(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    questdb_auth_proxy: str,
) -> None:
    data = entry_data(
        servers,
        mongodb_database_name,
        questdb_url=questdb_auth_proxy,
        **{
            CONF_QUESTDB_USERNAME: QUESTDB_USER,
            CONF_QUESTDB_PASSWORD: QUESTDB_PASSWORD,
        },
    )
    entry = await _create(hass, data)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id},
        data=entry.data,
    )
    assert result["step_id"] == "reauth_confirm"
    reauth = {
        CONF_QUESTDB_USERNAME: QUESTDB_USER,
        CONF_QUESTDB_PASSWORD: "wrong",
        CONF_MONGODB_URI: servers.mongodb_uri,
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], reauth)
    assert result["errors"] == {CONF_QUESTDB_PASSWORD: "invalid_auth"}
    reauth[CONF_MONGODB_URI] = (
        f"mongodb://nobody:wrong@127.0.0.1:{servers.mongodb_port}/"
    )
    reauth[CONF_QUESTDB_PASSWORD] = QUESTDB_PASSWORD
    result = await hass.config_entries.flow.async_configure(result["flow_id"], reauth)
    assert result["errors"] == {CONF_MONGODB_URI: "invalid_auth"}
    reauth[CONF_MONGODB_URI] = (
        f"mongodb://127.0.0.2:{closed_port()}/?serverSelectionTimeoutMS=300"
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], reauth)
    assert result["errors"] == {CONF_MONGODB_URI: "cannot_connect"}
    reauth[CONF_MONGODB_URI] = servers.mongodb_uri
    forwarder = entry.runtime_data.forwarder
    result = await hass.config_entries.flow.async_configure(result["flow_id"], reauth)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_QUESTDB_PASSWORD] == QUESTDB_PASSWORD
    # The same credentials as before still reload the entry: it retries them.
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.forwarder is not forwarder
    await hass.config_entries.async_unload(entry.entry_id)


async def test_options_flow(
    hass: HomeAssistant, servers: Servers, mongodb_database_name: str
) -> None:
    entry = await _create(hass, entry_data(servers, mongodb_database_name))
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_INCLUDE_ENTITIES: ["sensor.a"],
            CONF_EXCLUDE_ENTITIES: ["sensor.a"],
            CONF_SPOOL_MAX_MB: 10,
        },
    )
    assert result["errors"] == {CONF_EXCLUDE_ENTITIES: "include_exclude_overlap"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_INCLUDE_GLOBS: ["Sensor.*"], CONF_SPOOL_MAX_MB: 10},
    )
    assert result["errors"] == {"base": "invalid_glob"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_INCLUDE_ENTITIES: ["sensor.a"],
            CONF_EXCLUDE_ENTITIES: ["sensor.b"],
            CONF_INCLUDE_GLOBS: ["sensor.*_energy"],
            CONF_EXCLUDE_GLOBS: ["sensor.*_voltage"],
            CONF_SPOOL_MAX_MB: 10,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_INCLUDE_ENTITIES: ["sensor.a"],
        CONF_EXCLUDE_ENTITIES: ["sensor.b"],
        CONF_INCLUDE_GLOBS: ["sensor.*_energy"],
        CONF_EXCLUDE_GLOBS: ["sensor.*_voltage"],
        CONF_SPOOL_MAX_MB: 10,
        CONF_PANEL_URL: "",
    }
    forwarder = entry.runtime_data.forwarder
    assert forwarder.spool.max_bytes == 10 * 1024 * 1024
    assert forwarder.rules.include_globs == ("sensor.*_energy",)
    await hass.config_entries.async_unload(entry.entry_id)
