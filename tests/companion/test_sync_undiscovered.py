"""A sync naming an entity HA has but the companion has not discovered yet.

Before, the companion answered 404 unknown_entity for it; now it asks Home
Assistant (the real process), writes the entity's document as discovery does, and
syncs it. Only an entity HA does not have is a 404, saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from companion.core import schema
from tests.ha import HomeAssistant
from tests.servers import Servers, free_port, wait_for_rows

from .conftest import Companion, companion_config, hour, run_companion


async def _sync(
    companion: Companion, entity_ids: list[str], start: datetime, hours: int = 4
) -> Any:
    return await companion.http.post(
        "/api/statistics/sync",
        json={
            "entity_ids": entity_ids,
            "start_time": start.isoformat(),
            "end_time": (start + timedelta(hours=hours)).isoformat(),
        },
    )


async def _finished(companion: Companion, status_url: str) -> dict[str, Any]:
    status: dict[str, Any] = {}
    for _ in range(200):
        status = (await companion.http.get(status_url)).json()
        if status["status"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.05)
    return status


async def _imported(
    home_assistant: HomeAssistant, entity_id: str, unit: str
) -> datetime:
    """Four hourly statistics rows of `entity_id` in HA; returns the first hour."""
    start = hour(datetime.now(UTC)) - timedelta(hours=6)
    rows = [
        {"start": start + timedelta(hours=i), "state": 1000.0 * i, "sum": 1000.0 * i}
        for i in range(4)
    ]
    await asyncio.to_thread(home_assistant.import_statistics, entity_id, unit, rows)
    for _ in range(50):  # the recorder thread applies imports
        metadata = await asyncio.to_thread(
            home_assistant.command,
            {"type": "recorder/get_statistics_metadata", "statistic_ids": [entity_id]},
        )
        if metadata:
            break
        await asyncio.sleep(0.1)
    return start


async def test_entity_with_only_statistics_is_learnt_and_synced(
    companion: Companion,
    home_assistant: HomeAssistant,
    servers: Servers,
    entity_suffix: str,
) -> None:
    entity_id = f"sensor.unseen_stats_{entity_suffix}"
    start = await _imported(home_assistant, entity_id, "Wh")
    entities = companion.hub.mongo.db[schema.ENTITIES]
    assert await entities.find_one({"_id": entity_id}) is None

    response = await _sync(companion, [entity_id], start)
    assert response.status_code == 202, response.text
    status = await _finished(companion, response.json()["status_url"])
    assert status["status"] == "succeeded", status
    assert status["result"]["rows"] == 4
    rows = await wait_for_rows(
        servers,
        f"select sum from energy_statistics where entity_id = '{entity_id}' "
        "and period = 'hour' order by ts",
        4,
    )
    assert [row[0] for row in rows] == [0.0, 1.0, 2.0, 3.0]  # Wh -> kWh

    document = await entities.find_one({"_id": entity_id})
    assert document is not None
    assert document["unit"] == "kWh"  # the unit the statistics were fetched in
    assert document["original_unit"] == "Wh"
    assert document["device_class"] == "energy"
    assert document["state_class"] == "total"
    assert document["is_tracked"] is False  # a sync does not start live tracking
    listed = (await companion.http.get("/api/entities")).json()["entities"]
    assert entity_id in {e["entity_id"] for e in listed}


async def test_entity_with_a_state_is_written_as_discovery_does(
    companion: Companion, home_assistant: HomeAssistant, entity_suffix: str
) -> None:
    synced = f"sensor.unseen_state_{entity_suffix}"
    discovered = f"sensor.listed_state_{entity_suffix}"
    attributes = {
        "unit_of_measurement": "Wh",
        "device_class": "energy",
        "state_class": "total_increasing",
        "friendly_name": "Undiscovered meter",
    }
    for entity_id in (synced, discovered):
        await asyncio.to_thread(home_assistant.post_state, entity_id, 5, attributes)
    start = hour(datetime.now(UTC)) - timedelta(hours=3)

    response = await _sync(companion, [synced], start, hours=2)
    assert response.status_code == 202, response.text
    assert (await _finished(companion, response.json()["status_url"]))[
        "status"
    ] == "succeeded"
    assert (
        await companion.http.post("/api/settings/discover-entities")
    ).status_code == 200

    entities = companion.hub.mongo.db[schema.ENTITIES]
    fields = (
        "friendly_name",
        "unit",
        "original_unit",
        "device_class",
        "state_class",
        "is_active",
        "is_tracked",
    )
    learnt = await entities.find_one({"_id": synced})
    found = await entities.find_one({"_id": discovered})
    assert learnt is not None and found is not None
    assert {k: learnt[k] for k in fields} == {k: found[k] for k in fields}
    assert learnt["unit"] == "kWh" and learnt["friendly_name"] == "Undiscovered meter"


async def test_discovery_lists_what_the_integration_tracks_by_default(
    companion: Companion, home_assistant: HomeAssistant, entity_suffix: str
) -> None:
    """Discovery applies the integration's energy-entity rule to HA's own states."""
    from homeassistant.core import State

    from custom_components.energy_tracker.tracking import TrackingRules

    energy = {"device_class": "energy", "unit_of_measurement": "kWh"}
    cases = {
        f"sensor.rule_meter_{entity_suffix}": (energy, True),
        f"sensor.rule_power_{entity_suffix}": (
            {"device_class": "power", "unit_of_measurement": "kW"},
            True,
        ),
        f"sensor.rule_plain_{entity_suffix}": ({"unit_of_measurement": "kWh"}, False),
        f"number.rule_limit_{entity_suffix}": (energy, False),
    }
    for entity_id, (attributes, _) in cases.items():
        await asyncio.to_thread(home_assistant.post_state, entity_id, 5, attributes)
    response = await companion.http.post("/api/settings/discover-entities")
    assert response.status_code == 200
    found = {entity["entity_id"] for entity in response.json()["entities"]}
    rules = TrackingRules({})
    for entity_id, (attributes, expected) in cases.items():
        assert (entity_id in found) is expected, entity_id
        tracked = rules.decide(entity_id, State(entity_id, "5", attributes))
        assert tracked is expected, entity_id


async def test_entity_home_assistant_lacks_is_404_with_the_reason(
    companion: Companion, entity_suffix: str
) -> None:
    missing = f"sensor.nowhere_{entity_suffix}"
    start = hour(datetime.now(UTC)) - timedelta(hours=3)
    for path in ("/api/statistics/sync", "/api/backfill"):
        response = await companion.http.post(
            path,
            json={
                "entity_ids": [missing],
                "start_time": start.isoformat(),
                "end_time": (start + timedelta(hours=1)).isoformat(),
            },
        )
        assert response.status_code == 404, response.text
        error = response.json()["error"]
        assert error["code"] == "unknown_entity"
        assert (
            error["message"] == f"Home Assistant has no entity or statistic {missing!r}"
        )
    assert (
        await companion.hub.mongo.db[schema.ENTITIES].find_one({"_id": missing}) is None
    )


@pytest.fixture
async def companion_ha_down(
    servers: Servers, mongodb_database_name: str
) -> AsyncIterator[Companion]:
    """A companion whose HA URL points where nothing listens."""
    config = companion_config(
        servers,
        mongodb_database_name,
        ha_url=f"http://127.0.0.1:{free_port()}",
        ha_token="some-token",
    )
    async with run_companion(config) as running:
        yield running
        await running.hub.mongo.client.drop_database(mongodb_database_name)


async def test_home_assistant_unreachable_is_503_not_404(
    companion_ha_down: Companion, entity_suffix: str
) -> None:
    entity_id = f"sensor.while_down_{entity_suffix}"
    start = hour(datetime.now(UTC)) - timedelta(hours=3)
    response = await _sync(companion_ha_down, [entity_id], start)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "home_assistant_unavailable"
    assert entity_id in error["message"] and "not reachable" in error["message"]
    assert "some-token" not in response.text


async def test_home_assistant_not_configured_is_409(
    servers: Servers, mongodb_database_name: str, entity_suffix: str
) -> None:
    async with run_companion(
        companion_config(servers, mongodb_database_name)
    ) as running:
        start = hour(datetime.now(UTC)) - timedelta(hours=3)
        response = await _sync(running, [f"sensor.x_{entity_suffix}"], start)
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "home_assistant_not_configured"
        await running.hub.mongo.client.drop_database(mongodb_database_name)
