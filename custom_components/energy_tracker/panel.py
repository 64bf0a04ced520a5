"""The optional "Energy" sidebar panel: HA's iframe panel showing the companion's dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from homeassistant.core import HomeAssistant, callback
from homeassistant.util.hass_dict import HassKey

from .const import CONF_PANEL_URL

PANEL_URL_PATH: Final = "energy-tracker"
PANEL_TITLE: Final = "Energy"
PANEL_ICON: Final = "mdi:lightning-bolt"

_OWNER: HassKey[str] = HassKey("energy_tracker_panel_owner")
"""The entry id whose URL the panel shows (several entries share one panel)."""


def validate_panel_url(value: str) -> str:
    """Return a clean http(s) URL with a host, or raise ValueError."""
    url = value.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a bad port
    except ValueError as err:
        raise ValueError("not a URL") from err
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    if any(ch.isspace() for ch in url):
        raise ValueError("spaces in the URL")
    return url


def panel_url(options: Mapping[str, Any]) -> str | None:
    """Return the dashboard URL the options ask for, or None for no panel."""
    value = options.get(CONF_PANEL_URL)
    if not value:
        return None
    try:
        return validate_panel_url(str(value))
    except ValueError:
        return None


@callback
def async_apply_panel(
    hass: HomeAssistant, entry_id: str, options: Mapping[str, Any]
) -> None:
    """Show, update or remove the sidebar panel to match an entry's options.

    Skipped when HA's frontend is not loaded (nothing to show a panel in).
    """
    url = panel_url(options)
    if url is None:
        async_remove_entry_panel(hass, entry_id)
        return
    if "frontend" not in hass.config.components:
        return
    from homeassistant.components import frontend  # noqa: PLC0415 - only when loaded

    frontend.async_register_built_in_panel(
        hass,
        "iframe",
        sidebar_title=PANEL_TITLE,
        sidebar_icon=PANEL_ICON,
        frontend_url_path=PANEL_URL_PATH,
        config={"url": url},
        require_admin=False,
        update=True,
    )
    hass.data[_OWNER] = entry_id


@callback
def async_remove_entry_panel(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the panel when this entry put it there."""
    if hass.data.get(_OWNER) != entry_id:
        return
    del hass.data[_OWNER]
    if "frontend" not in hass.config.components:
        return
    from homeassistant.components import frontend  # noqa: PLC0415 - only when loaded

    frontend.async_remove_panel(hass, PANEL_URL_PATH, warn_if_unknown=False)
