"""Runtime data of an Energy Tracker config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .forwarder import Forwarder


@dataclass(slots=True)
class EnergyTrackerRuntimeData:
    """What a loaded entry holds."""

    forwarder: Forwarder


type EnergyTrackerConfigEntry = ConfigEntry[EnergyTrackerRuntimeData]
