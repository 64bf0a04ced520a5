"""The capture's column-wise buffer: taking, splitting and putting back keep every reading."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.core import HomeAssistant, State

from custom_components.energy_tracker.capture import Capture, Readings
from custom_components.energy_tracker.core.ilp import serialise_readings
from custom_components.energy_tracker.health import ForwarderStats
from custom_components.energy_tracker.tracking import TrackingRules

ENERGY_WH = {"device_class": "energy", "unit_of_measurement": "Wh"}
ENERGY_KWH = {"device_class": "energy", "unit_of_measurement": "kWh"}


def rows(readings: Readings) -> list[tuple[str, str, float, object]]:
    """Return each reading with the attributes it carries (None: unchanged)."""
    return [
        (entity_id, state, timestamp, readings.attributes.get(row))
        for row, (entity_id, state, timestamp) in enumerate(
            zip(
                readings.entity_ids,
                readings.states,
                readings.timestamps,
                strict=True,
            )
        )
    ]


def sample(count: int, start: int = 0) -> Readings:
    """Readings of two meters; attributes at the first row and every fifth."""
    readings = Readings()
    for index in range(start, start + count):
        readings.entity_ids.append(f"sensor.meter_{index % 2}")
        readings.states.append(str(index))
        readings.timestamps.append(1_700_000_000.0 + index)
        if index % 5 == 0:
            readings.attributes[index - start] = {"index": index}
    return readings


async def test_take_hands_over_the_buffer_and_capture_goes_on(
    hass: HomeAssistant,
) -> None:
    """What is taken is the buffer itself (nothing copied); capture goes on into a new one."""
    capture = Capture(hass, TrackingRules({}), ForwarderStats(), lambda: None)
    buffer = capture.buffer = sample(7)
    expected = rows(buffer)

    taken = capture.take()

    assert taken is buffer
    assert rows(taken) == expected
    assert len(capture.buffer) == 0
    assert capture.buffer is not buffer
    assert not capture.buffer.attributes

    taken.clear()
    assert len(taken) == 0
    assert not taken.attributes


def test_split_then_prepend_restores_the_order_and_attributes() -> None:
    """Parts put back in front of newer readings give the original sequence."""
    taken = sample(23)
    expected = rows(taken)
    parts = taken.split(10)
    assert [len(part) for part in parts] == [10, 10, 3]
    assert [row for part in parts for row in rows(part)] == expected

    buffer = sample(4, start=23)  # captured meanwhile
    newer = rows(buffer)
    attributes = buffer.attributes
    buffer.prepend(*parts[1:])
    buffer.prepend(parts[0])

    assert rows(buffer) == expected + newer
    assert buffer.attributes is attributes


def test_from_states_keeps_every_rows_attributes() -> None:
    """States from the recorder each bring their own attributes."""
    states = [
        State("sensor.a", "1", ENERGY_WH),
        State("sensor.a", "2", ENERGY_KWH),
    ]
    readings = Readings.from_states(states)
    assert rows(readings) == [
        ("sensor.a", "1", states[0].last_updated_timestamp, states[0].attributes),
        ("sensor.a", "2", states[1].last_updated_timestamp, states[1].attributes),
    ]


def test_serialise_applies_attributes_from_their_row_on() -> None:
    """A unit change mid-batch converts the rows from it on; earlier rows use the entity's last attributes."""
    readings = Readings(
        ["sensor.a", "sensor.a", "sensor.a"],
        ["500", "2", "3"],
        [1_700_000_000.0, 1_700_000_001.0, 1_700_000_002.0],
        {1: ENERGY_KWH},
    )
    attributes_of: dict[str, Mapping[str, Any]] = {"sensor.a": ENERGY_WH}

    batch = serialise_readings(readings, "live", 100, attributes_of)

    lines = b"".join(payload for payload, _ in batch.payloads).decode().splitlines()
    values = [float(line.split(" ")[1].removeprefix("value=")) for line in lines]
    assert values == [0.5, 2.0, 3.0]
    assert all(",unit=kWh," in line for line in lines)  # energy is stored in kWh
    assert attributes_of["sensor.a"] is ENERGY_KWH
    assert batch.latest["sensor.a"] == ("3", 1_700_000_002.0, ENERGY_KWH)
