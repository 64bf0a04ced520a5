"""Diagnostic sensors: rows forwarded, spool depth, last write, database status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import (
    DOMAIN,
    SIGNAL_UPDATED,
    STATUS_AUTH_FAILED,
    STATUS_DISCONNECTED,
    STATUS_OK,
    STATUS_STARTING,
)
from .forwarder import Forwarder
from .models import EnergyTrackerConfigEntry

PARALLEL_UPDATES = 0
_STATUSES = [STATUS_OK, STATUS_DISCONNECTED, STATUS_AUTH_FAILED, STATUS_STARTING]


@dataclass(frozen=True, kw_only=True)
class EnergyTrackerSensorDescription(SensorEntityDescription):
    """Describes one diagnostic sensor."""

    value_fn: Callable[[Forwarder], int | str | datetime | None]


SENSORS: tuple[EnergyTrackerSensorDescription, ...] = (
    EnergyTrackerSensorDescription(
        key="rows_forwarded",
        translation_key="rows_forwarded",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda forwarder: forwarder.stats.rows_forwarded,
    ),
    EnergyTrackerSensorDescription(
        key="spool_rows",
        translation_key="spool_rows",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda forwarder: forwarder.spool.rows,
    ),
    EnergyTrackerSensorDescription(
        key="last_write",
        translation_key="last_write",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda forwarder: forwarder.stats.last_write_at,
    ),
    EnergyTrackerSensorDescription(
        key="questdb_status",
        translation_key="questdb_status",
        device_class=SensorDeviceClass.ENUM,
        options=_STATUSES,
        value_fn=lambda forwarder: forwarder.stats.questdb_status,
    ),
    EnergyTrackerSensorDescription(
        key="mongodb_status",
        translation_key="mongodb_status",
        device_class=SensorDeviceClass.ENUM,
        options=_STATUSES,
        value_fn=lambda forwarder: forwarder.stats.mongodb_status,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnergyTrackerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the diagnostic sensors of one entry."""
    forwarder = entry.runtime_data.forwarder
    async_add_entities(
        EnergyTrackerSensor(entry, forwarder, description) for description in SENSORS
    )


class EnergyTrackerSensor(SensorEntity):
    """One health figure of the forwarder, pushed after each write cycle."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    entity_description: EnergyTrackerSensorDescription

    def __init__(
        self,
        entry: EnergyTrackerConfigEntry,
        forwarder: Forwarder,
        description: EnergyTrackerSensorDescription,
    ) -> None:
        """Describe the sensor and its device."""
        self.entity_description = description
        self._forwarder = forwarder
        self._signal = SIGNAL_UPDATED.format(entry.entry_id)
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="Energy Tracker",
            model="QuestDB + MongoDB forwarder",
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    def native_value(self) -> int | str | datetime | None:
        """Return the current figure."""
        return self.entity_description.value_fn(self._forwarder)

    async def async_added_to_hass(self) -> None:
        """Follow the forwarder's updates."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, self._signal, self._updated)
        )

    @callback
    def _updated(self) -> None:
        """Write the new state."""
        self.async_write_ha_state()
