"""Real sensor entities: attributes are StrEnum members, not plain strings."""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry  # type: ignore[import-untyped]

from tests.servers import Servers, wait_for_rows


async def test_enum_attributes_are_forwarded_as_their_values(
    hass: HomeAssistant,
    servers: Servers,
    init_integration: MockConfigEntry,
    entity_suffix: str,
) -> None:
    """SensorDeviceClass / SensorStateClass members (as HA's demo sensors set them) reach QuestDB."""
    entry = init_integration
    meter = f"sensor.enum_{entity_suffix}"
    attributes = {
        "device_class": SensorDeviceClass.ENERGY,
        "state_class": SensorStateClass.TOTAL_INCREASING,
        "unit_of_measurement": "Wh",
    }
    for value in ("1000", "1500", "2250"):
        hass.states.async_set(meter, value, attributes)
        await hass.async_block_till_done()
    await hass.services.async_call(
        "energy_tracker", "flush", blocking=True, return_response=True
    )

    rows = await wait_for_rows(
        servers,
        "select value, unit, device_class, state_class from energy_readings "
        f"where entity_id = '{meter}' order by ts",
        3,
    )
    assert [list(row) for row in rows] == [
        [1.0, "kWh", "energy", "total_increasing"],
        [1.5, "kWh", "energy", "total_increasing"],
        [2.25, "kWh", "energy", "total_increasing"],
    ]
    assert await hass.config_entries.async_unload(entry.entry_id)
