"""Which entities are tracked: options, MongoDB's choice, Energy dashboard, device class.

Precedence (the first rule that matches decides):
1. options: excluded entities, then included entities;
2. options: exclude globs, then include globs;
3. MongoDB `entities.is_tracked` where `tracked_by` is the companion (the user's choice);
4. the entity is in HA's Energy dashboard preferences → tracked;
5. an energy entity (`core.entities.is_energy_entity`: a `sensor` whose device class
   is energy, power, gas or water) → tracked.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from homeassistant.core import State

from .const import (
    CONF_EXCLUDE_ENTITIES,
    CONF_EXCLUDE_GLOBS,
    CONF_INCLUDE_ENTITIES,
    CONF_INCLUDE_GLOBS,
)
from .core.entities import is_energy_entity


class TrackingRules:
    """The inputs of the tracking decision; the forwarder caches its answers."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        """Start with the entry's options and nothing from MongoDB or the Energy prefs."""
        self.include: frozenset[str] = frozenset()
        self.exclude: frozenset[str] = frozenset()
        self.include_globs: tuple[str, ...] = ()
        self.exclude_globs: tuple[str, ...] = ()
        self.mongo_choice: dict[str, bool] = {}
        self.energy_prefs: frozenset[str] = frozenset()
        self.set_options(options)

    def set_options(self, options: Mapping[str, Any]) -> None:
        """Apply the options of the config entry."""
        self.include = frozenset(options.get(CONF_INCLUDE_ENTITIES, ()))
        self.exclude = frozenset(options.get(CONF_EXCLUDE_ENTITIES, ()))
        self.include_globs = tuple(options.get(CONF_INCLUDE_GLOBS, ()))
        self.exclude_globs = tuple(options.get(CONF_EXCLUDE_GLOBS, ()))

    def decide(self, entity_id: str, state: State | None) -> bool:
        """Return whether the entity is tracked."""
        if entity_id in self.exclude:
            return False
        if entity_id in self.include:
            return True
        if any(fnmatchcase(entity_id, glob) for glob in self.exclude_globs):
            return False
        if any(fnmatchcase(entity_id, glob) for glob in self.include_globs):
            return True
        choice = self.mongo_choice.get(entity_id)
        if choice is not None:
            return choice
        if entity_id in self.energy_prefs:
            return True
        return state is not None and is_energy_entity(entity_id, state.attributes)


# The lists of HA's Energy preferences that name entities: sources (grid, solar,
# battery, gas, water, home), electricity devices and, since 2026.2, water devices.
ENERGY_PREF_LISTS = ("energy_sources", "device_consumption", "device_consumption_water")


def _names_an_entity(key: str) -> bool:
    """Return whether an Energy preferences key holds an entity or statistic id.

    `stat_*` are meters, power sensors (`stat_rate`, `stat_rate_from`, …), costs
    and battery charge; `entity_energy_price*` are the import and export prices.
    """
    return key.startswith(("stat_", "entity_energy_price"))


def energy_pref_entities(prefs: Mapping[str, Any] | None) -> frozenset[str]:
    """Collect the entity ids named in HA's Energy dashboard preferences.

    Both formats: before 2026.11 a grid source holds `flow_from`/`flow_to`/`power`
    lists; from 2026.11 each grid entry is flat (`stat_energy_from`,
    `stat_energy_to`, `stat_rate`, `entity_energy_price_export`) and a `home`
    source exists. Nested lists and mappings (`power_config`) are walked whatever
    their key, so a key HA adds for an entity is found where it follows HA's naming.
    """
    if not prefs:
        return frozenset()
    found: set[str] = set()

    def _walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(item, str):
                    if _names_an_entity(key):
                        found.add(item)
                else:
                    _walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                _walk(item)

    for name in ENERGY_PREF_LISTS:
        _walk(prefs.get(name, ()))
    # Statistic ids of external statistics contain ":"; only entity ids matter here.
    return frozenset(item for item in found if "." in item and ":" not in item)
