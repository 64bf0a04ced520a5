"""The HA WebSocket client against a real Home Assistant process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from companion.ha_client import (
    HACheckError,
    HAClient,
    HAConnectionError,
    check_connection,
    websocket_url,
)
from tests.ha import HomeAssistant

from .conftest import hour

ENERGY_ATTRS = {
    "unit_of_measurement": "kWh",
    "device_class": "energy",
    "state_class": "total_increasing",
}


def test_websocket_url() -> None:
    assert (
        websocket_url("http://127.0.0.1:8123/") == "ws://127.0.0.1:8123/api/websocket"
    )
    assert websocket_url("https://ha.example") == "wss://ha.example/api/websocket"
    with pytest.raises(ValueError):
        websocket_url("ftp://x")


async def test_config_and_states(
    hass_server: HomeAssistant, entity_suffix: str
) -> None:
    entity_id = f"sensor.client_{entity_suffix}"
    await asyncio.to_thread(hass_server.post_state, entity_id, 42.5, ENERGY_ATTRS)
    client = HAClient(hass_server.url, hass_server.token)
    try:
        config = await client.get_config()
        assert config["time_zone"] == "Europe/Amsterdam"
        states = {s["entity_id"]: s for s in await client.get_states()}
        assert states[entity_id]["state"] == "42.5"
        assert states[entity_id]["attributes"]["device_class"] == "energy"
        assert client.ha_version
        assert client.connected
    finally:
        await client.close()


async def test_statistics_are_converted_to_stored_units(
    hass_server: HomeAssistant, entity_suffix: str
) -> None:
    entity_id = f"sensor.stats_{entity_suffix}"
    start = hour(datetime.now(UTC)) - timedelta(hours=6)
    rows = [
        {
            "start": start + timedelta(hours=i),
            "state": 1000.0 * (i + 1),
            "sum": 1000.0 * (i + 1),
        }
        for i in range(3)
    ]
    await asyncio.to_thread(hass_server.import_statistics, entity_id, "Wh", rows)
    client = HAClient(hass_server.url, hass_server.token)
    try:
        result: dict[str, list[dict[str, object]]] = {}
        for _ in range(50):  # imports are applied by the recorder thread
            result = await client.statistics_during_period(
                start, start + timedelta(hours=3), [entity_id]
            )
            if len(result.get(entity_id, [])) == 3:
                break
            await asyncio.sleep(0.1)
        stats = result[entity_id]
        assert [s["sum"] for s in stats] == [1.0, 2.0, 3.0]  # Wh -> kWh
        assert stats[0]["start"] == start.timestamp() * 1000
    finally:
        await client.close()


async def test_history_returns_recorded_states(
    hass_server: HomeAssistant, entity_suffix: str
) -> None:
    entity_id = f"sensor.history_{entity_suffix}"
    before = datetime.now(UTC) - timedelta(seconds=1)
    for value in (1.0, 2.0, 3.5):
        await asyncio.to_thread(hass_server.post_state, entity_id, value, ENERGY_ATTRS)
    client = HAClient(hass_server.url, hass_server.token)
    try:
        states: list[dict[str, object]] = []
        for _ in range(50):
            history = await client.history_during_period(
                before, datetime.now(UTC) + timedelta(seconds=1), [entity_id]
            )
            states = history.get(entity_id, [])
            if len(states) == 3:
                break
            await asyncio.sleep(0.1)
        assert [s["s"] for s in states] == ["1.0", "2.0", "3.5"]
    finally:
        await client.close()


async def test_reconnects_after_the_socket_drops(hass_server: HomeAssistant) -> None:
    client = HAClient(hass_server.url, hass_server.token, backoff_base=0.05)
    try:
        assert await client.ping()
        assert client._ws is not None
        await client._ws.close()  # the connection drops
        await asyncio.sleep(0.05)
        config = await client.get_config()  # reconnects by itself
        assert config["time_zone"] == "Europe/Amsterdam"
        assert client.connected
    finally:
        await client.close()


async def test_bad_token_and_unreachable_host(hass_server: HomeAssistant) -> None:
    with pytest.raises(HACheckError) as refused:
        await check_connection(hass_server.url, "not-a-token")
    assert refused.value.code == "ha_auth_failed"
    client = HAClient("http://127.0.0.1:1", "x", max_attempts=2, backoff_base=0.01)
    try:
        with pytest.raises(HAConnectionError):
            await client.get_states()
        assert not await client.ping()
        assert "x" not in repr(client).replace("HAClient", "")
    finally:
        await client.close()
