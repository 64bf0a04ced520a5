"""Runtime data of an Energy Tracker config entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry

from .forwarder import Forwarder


@dataclass(slots=True)
class EnergyTrackerRuntimeData:
    """What a loaded entry holds."""

    forwarder: Forwarder
    # The entry's data (connections and credentials) the forwarder was started
    # with: a change to them needs a reload, a change of options does not.
    connections: Mapping[str, Any]


type EnergyTrackerConfigEntry = ConfigEntry[EnergyTrackerRuntimeData]
