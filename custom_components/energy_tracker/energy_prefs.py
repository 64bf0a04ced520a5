"""Follow HA's Energy dashboard preferences: their entities are tracked by default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .tracking import energy_pref_entities

if TYPE_CHECKING:
    from .forwarder import Forwarder
    from .models import EnergyTrackerConfigEntry

_LISTENING: HassKey[bool] = HassKey(f"{DOMAIN}_energy_prefs")


def _apply(forwarder: Forwarder, prefs: Any) -> None:
    """Give one forwarder the entities of the Energy prefs."""
    entities = energy_pref_entities(prefs)
    if forwarder.rules.energy_prefs != entities:
        forwarder.rules.energy_prefs = entities
        forwarder.invalidate_decisions()


async def async_track_energy_prefs(hass: HomeAssistant, forwarder: Forwarder) -> None:
    """Load the Energy prefs into `forwarder` and follow their changes (one listener)."""
    if "energy" not in hass.config.components:
        return
    from homeassistant.components.energy.data import async_get_manager  # noqa: PLC0415 - optional

    manager = await async_get_manager(hass)
    _apply(forwarder, manager.data)
    if hass.data.get(_LISTENING):
        return
    hass.data[_LISTENING] = True

    async def _updated() -> None:
        entry: EnergyTrackerConfigEntry
        for entry in hass.config_entries.async_loaded_entries(DOMAIN):
            _apply(entry.runtime_data.forwarder, manager.data)

    manager.async_listen_updates(_updated)
