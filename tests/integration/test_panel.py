"""The optional "Energy" sidebar panel that shows the companion's dashboard."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry  # type: ignore[import-untyped]

from custom_components.energy_tracker.const import CONF_PANEL_URL, CONF_SPOOL_MAX_MB
from custom_components.energy_tracker.panel import PANEL_URL_PATH
from tests.servers import Servers

from .conftest import make_entry, setup_entry

DASHBOARD = "http://192.168.1.10:8080/energy/"
PANELS = "frontend_panels"


@pytest.fixture
async def frontend(hass: HomeAssistant) -> None:
    """Load HA's real frontend (it owns the panel registry)."""
    assert await async_setup_component(hass, "frontend", {})
    await hass.async_block_till_done()


async def _set_options(hass: HomeAssistant, entry_id: str, url: str) -> dict[str, str]:
    result = await hass.config_entries.options.async_init(entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SPOOL_MAX_MB: 10, CONF_PANEL_URL: url}
    )
    await hass.async_block_till_done()
    if result["type"] is FlowResultType.CREATE_ENTRY:
        return {}
    errors: dict[str, str] = result["errors"] or {}
    return errors


@pytest.mark.usefixtures("frontend")
async def test_panel_follows_the_option(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    entry = init_integration
    assert PANEL_URL_PATH not in hass.data[PANELS]

    assert await _set_options(hass, entry.entry_id, DASHBOARD) == {}
    panel = hass.data[PANELS][PANEL_URL_PATH]
    assert panel.component_name == "iframe"
    assert panel.sidebar_title == "Energy"
    assert panel.sidebar_icon == "mdi:lightning-bolt"
    assert panel.config == {"url": DASHBOARD}
    assert panel.require_admin is False

    # A new address applies at once, without a reload.
    assert await _set_options(hass, entry.entry_id, "https://energy.example.org") == {}
    assert hass.data[PANELS][PANEL_URL_PATH].config == {
        "url": "https://energy.example.org"
    }

    # Cleared: the panel goes away.
    assert await _set_options(hass, entry.entry_id, "") == {}
    assert PANEL_URL_PATH not in hass.data[PANELS]
    assert entry.options[CONF_PANEL_URL] == ""
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("frontend")
async def test_panel_at_setup_and_gone_on_unload(
    hass: HomeAssistant, servers: Servers, mongodb_database_name: str
) -> None:
    entry = await setup_entry(
        hass,
        make_entry(servers, mongodb_database_name, options={CONF_PANEL_URL: DASHBOARD}),
    )
    assert hass.data[PANELS][PANEL_URL_PATH].config == {"url": DASHBOARD}
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert PANEL_URL_PATH not in hass.data[PANELS]
    # Set up again (e.g. a reload): the panel is back.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.data[PANELS][PANEL_URL_PATH].config == {"url": DASHBOARD}
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("frontend")
@pytest.mark.parametrize(
    "url",
    [
        "ftp://192.168.1.10/",
        "192.168.1.10:8080",
        "http://",
        "javascript:alert(1)",
        "http://host:notaport/",
        "http://in valid/",
    ],
)
async def test_bad_dashboard_url_is_a_form_error(
    hass: HomeAssistant, init_integration: MockConfigEntry, url: str
) -> None:
    entry = init_integration
    assert await _set_options(hass, entry.entry_id, url) == {
        CONF_PANEL_URL: "invalid_url"
    }
    assert PANEL_URL_PATH not in hass.data[PANELS]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_no_frontend_no_panel_and_no_error(
    hass: HomeAssistant, servers: Servers, mongodb_database_name: str
) -> None:
    assert "frontend" not in hass.config.components
    entry = await setup_entry(
        hass,
        make_entry(servers, mongodb_database_name, options={CONF_PANEL_URL: DASHBOARD}),
    )
    assert PANEL_URL_PATH not in hass.data.get(PANELS, {})
    assert await hass.config_entries.async_unload(entry.entry_id)
