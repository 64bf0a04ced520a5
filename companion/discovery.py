"""Entities learnt from Home Assistant: what discovery (and a sync of one) writes.

`Settings → Discover entities` writes a document for every energy-related entity
HA has; a sync or backfill naming an entity the companion has not discovered yet
asks HA about that one and writes its document the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
import re
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from .ha_client import STATISTIC_UNITS, HAClient, HACommandError
from .core import units

ENTITY_ID = re.compile(r"^[a-z0-9_]{1,64}\.[a-z0-9_]{1,191}$")
# HA's unit classes of statistics that name one device class of ours ("volume" is
# gas or water: not known from the statistics alone).
UNIT_CLASS_DEVICE_CLASS = {"energy": units.ENERGY, "power": units.POWER}


def is_energy_entity(state: dict[str, Any]) -> bool:
    """Whether an HA state looks like an energy, power, gas or water sensor."""
    attributes = state.get("attributes") or {}
    device_class = attributes.get("device_class")
    unit = attributes.get("unit_of_measurement")
    if device_class in units.TRACKED_DEVICE_CLASSES:
        return True
    return any(
        units.conversion_for(cls, unit) is not None
        for cls in units.TRACKED_DEVICE_CLASSES
    )


def state_fields(state: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The entity document's fields from HA's state of the entity."""
    attributes = state.get("attributes") or {}
    device_class = attributes.get("device_class")
    unit = attributes.get("unit_of_measurement")
    return {
        "friendly_name": attributes.get("friendly_name"),
        "unit": units.stored_unit(device_class, unit)[0],
        "original_unit": unit,
        "device_class": device_class,
        "state_class": attributes.get("state_class"),
        "is_active": state.get("state") != "unavailable",
        "updated_at": now,
    }


def statistic_fields(metadata: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The entity document's fields from HA's statistics metadata (no state known).

    The statistics are fetched converted to the stored unit of their unit class.
    """
    unit_class = metadata.get("unit_class")
    unit = metadata.get("statistics_unit_of_measurement")
    return {
        "friendly_name": metadata.get("name"),
        "unit": STATISTIC_UNITS.get(str(unit_class), unit),
        "original_unit": unit,
        "device_class": UNIT_CLASS_DEVICE_CLASS.get(str(unit_class)),
        "state_class": "total" if metadata.get("has_sum") else "measurement",
        "is_active": False,  # HA has statistics of it, but no current state
        "updated_at": now,
    }


async def upsert_entity(
    collection: AsyncCollection[dict[str, Any]],
    entity_id: str,
    fields: dict[str, Any],
) -> None:
    """Write one entity document; a new one starts untracked."""
    await collection.update_one(
        {"_id": entity_id},
        {
            "$set": fields,
            "$setOnInsert": {"first_seen": fields["updated_at"], "is_tracked": False},
        },
        upsert=True,
    )


async def discover(
    client: HAClient, collection: AsyncCollection[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Upsert every energy-related entity HA has; return them with their state."""
    now = datetime.now(UTC)
    found = []
    for state in await client.get_states():
        entity_id = state.get("entity_id", "")
        if not isinstance(entity_id, str) or not ENTITY_ID.match(entity_id):
            continue
        if not is_energy_entity(state):
            continue
        fields = state_fields(state, now)
        await upsert_entity(collection, entity_id, fields)
        found.append(
            {
                "entity_id": entity_id,
                **{k: v for k, v in fields.items() if k != "updated_at"},
                "state": state.get("state"),
                "last_updated": state.get("last_updated"),
            }
        )
    return found


async def learn_entities(
    client: HAClient,
    collection: AsyncCollection[dict[str, Any]],
    entity_ids: Sequence[str],
) -> list[str]:
    """Write the documents of entities HA has (a state or statistics); return the rest.

    An entity named explicitly is written whether or not it looks energy-related:
    the user asked for it. Raises HAError when HA cannot be asked.
    """
    wanted = set(entity_ids)
    now = datetime.now(UTC)
    states = {
        state["entity_id"]: state
        for state in await client.get_states()
        if state.get("entity_id") in wanted
    }
    for entity_id, state in states.items():
        await upsert_entity(collection, entity_id, state_fields(state, now))
    rest = sorted(wanted - set(states))
    if not rest:
        return []
    metadata = {
        item["statistic_id"]: item
        for item in await _statistics_metadata(client, rest)
        if isinstance(item, dict) and item.get("statistic_id") in wanted
    }
    for entity_id, item in metadata.items():
        await upsert_entity(collection, entity_id, statistic_fields(item, now))
    return [entity_id for entity_id in rest if entity_id not in metadata]


async def _statistics_metadata(
    client: HAClient, statistic_ids: Iterable[str]
) -> list[dict[str, Any]]:
    try:
        return await client.get_statistics_metadata(statistic_ids)
    except HACommandError as err:
        if err.code in ("unknown_command", "not_found"):  # no recorder: no statistics
            return []
        raise
