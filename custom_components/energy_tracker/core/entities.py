"""Which Home Assistant entities are energy entities: one rule for both components."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .units import TRACKED_DEVICE_CLASSES

ENERGY_ENTITY_DOMAIN: Final = "sensor"


def is_energy_entity(entity_id: str, attributes: Mapping[str, Any]) -> bool:
    """Return whether an entity is an energy, power, gas or water sensor.

    The rule is HA's Energy dashboard's: a `sensor` whose device class is energy,
    power, gas or water (HA's validation reports any other device class as
    unexpected). A unit alone does not make one: without a device class a value
    cannot be stored in its class's unit (kW stays kW), a volume could be a tank's
    as well as a meter's, and other domains with these device classes (`number`)
    are settings, not readings. The integration tracks these entities by default;
    its options, the companion's choice and the Energy preferences come first
    (`tracking.TrackingRules`). The companion's discovery lists the same ones.
    """
    return (
        entity_id.startswith(f"{ENERGY_ENTITY_DOMAIN}.")
        and attributes.get("device_class") in TRACKED_DEVICE_CLASSES
    )
