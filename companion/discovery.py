"""Entities learnt from Home Assistant: what discovery (and a sync of one) writes.

`Settings → Discover entities` writes a document for every energy entity HA has
(the rule the integration tracks by: `core.entities.is_energy_entity`); a sync or backfill naming an entity the companion has not discovered yet
asks HA about that one and writes its document the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
import re
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from .core import documents, entities
from .ha_client import STATISTIC_UNITS, HAClient, HACommandError

ENTITY_ID = re.compile(r"^[a-z0-9_]{1,64}\.[a-z0-9_]{1,191}$")


def _upsert(entity_id: str, fields: dict[str, Any]) -> UpdateOne:
    """The upsert of one entity document; a new one starts untracked, undecided."""
    return documents.entity_upsert(
        entity_id, fields, first_seen=fields["updated_at"], tracked=False
    )


def _state_fields(state: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The entity document's fields from HA's state of the entity."""
    return documents.state_fields(
        state.get("attributes") or {}, state.get("state"), now
    )


async def discover(
    client: HAClient, collection: AsyncCollection[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Upsert every energy entity HA has; return them with their state."""
    now = datetime.now(UTC)
    found = []
    operations = []
    for state in await client.get_states():
        entity_id = state.get("entity_id", "")
        if not isinstance(entity_id, str) or not ENTITY_ID.match(entity_id):
            continue
        if not entities.is_energy_entity(entity_id, state.get("attributes") or {}):
            continue
        fields = _state_fields(state, now)
        operations.append(_upsert(entity_id, fields))
        found.append(
            {
                "entity_id": entity_id,
                **{k: v for k, v in fields.items() if k != "updated_at"},
                "state": state.get("state"),
                "last_updated": state.get("last_updated"),
            }
        )
    if operations:
        await collection.bulk_write(operations, ordered=False)
    return found


async def learn_entities(
    client: HAClient,
    collection: AsyncCollection[dict[str, Any]],
    entity_ids: Sequence[str],
) -> list[str]:
    """Write the documents of entities HA has (a state or statistics); return the rest.

    An entity named explicitly is written whether or not it is an energy entity:
    the user asked for it. Raises HAError when HA cannot be asked.
    """
    wanted = set(entity_ids)
    now = datetime.now(UTC)
    states = {
        state["entity_id"]: state
        for state in await client.get_states()
        if state.get("entity_id") in wanted
    }
    operations = [
        _upsert(entity_id, _state_fields(state, now))
        for entity_id, state in states.items()
    ]
    if operations:
        await collection.bulk_write(operations, ordered=False)
    rest = sorted(wanted - set(states))
    if not rest:
        return []
    metadata = {
        item["statistic_id"]: item
        for item in await _statistics_metadata(client, rest)
        if isinstance(item, dict) and item.get("statistic_id") in wanted
    }
    if metadata:
        await collection.bulk_write(
            [
                _upsert(
                    entity_id, documents.statistic_fields(item, now, STATISTIC_UNITS)
                )
                for entity_id, item in metadata.items()
            ],
            ordered=False,
        )
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
