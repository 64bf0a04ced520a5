"""The entities: listed, discovered in HA, and which ones are tracked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from companion import discovery
from companion.core import schema
from companion.errors import JSON, ApiError
from companion.questdb import QuestDBError
from companion.timestamps import iso_utc_z

from .common import hub_of, known_entity_ids
from .models import EntitiesQuery, TrackedEntitiesBody
from .responses import DiscoveredAnswer, EntitiesAnswer, Entity, TrackedAnswer
from .spec import RouteTable, json_object

routes = RouteTable()


@routes.get("/entities", answer=EntitiesAnswer, errors=(400, 401, 503))
async def entities(request: Request, query: EntitiesQuery) -> Response:
    """Known entities with tracked/active flags, unit, classes and last value."""
    flt: dict[str, Any] = {}
    if query.tracked is not None:
        flt["is_tracked"] = query.tracked == "true"
    hub = hub_of(request)
    async with hub.mongo.db[schema.ENTITIES].find(flt).sort("_id", 1) as cursor:
        documents = await cursor.to_list(10_000)
    last_values: dict[str, tuple[float, datetime]] = {}
    try:
        rows = await hub.questdb.fetch(
            f"SELECT entity_id, value, ts FROM {schema.READINGS_TABLE} "  # noqa: S608 - constant
            "LATEST ON ts PARTITION BY entity_id"
        )
        last_values = {row[0]: (row[1], row[2]) for row in rows}
    except QuestDBError:
        pass  # the list is still useful without last values
    result: list[Entity] = []
    for doc in documents:
        last = last_values.get(doc["_id"])
        result.append(
            {
                "entity_id": doc["_id"],
                "friendly_name": doc.get("friendly_name") or doc["_id"],
                "state": last[0] if last else None,
                "last_value": last[0] if last else None,
                "last_value_at": iso_utc_z(last[1]) if last else None,
                "unit_of_measurement": doc.get("unit"),
                "device_class": doc.get("device_class"),
                "state_class": doc.get("state_class"),
                "is_tracked": bool(doc.get("is_tracked", False)),
                "is_active": bool(doc.get("is_active", True)),
                "first_seen": iso_utc_z(doc.get("first_seen")),
                "last_seen": iso_utc_z(doc.get("last_seen")),
            }
        )
    answer: EntitiesAnswer = {"entities": result, "count": len(result)}
    return JSON(answer)


@routes.post(
    "/settings/discover-entities",
    answer=DiscoveredAnswer,
    errors=(400, 401, 403, 409, 413, 415, 503),
)
async def discover_entities(request: Request) -> Response:
    """Discover energy-related entities in HA (new ones untracked), each with its current state."""
    await json_object(request)  # any body is checked, none is needed
    hub = hub_of(request)
    client = hub.ha.client
    if client is None:
        raise ApiError(
            409, "home_assistant_not_configured", "Home Assistant is not configured"
        )
    found = await discovery.discover(client, hub.mongo.db[schema.ENTITIES])
    answer: DiscoveredAnswer = {"discovered": len(found), "entities": found}
    return JSON(answer)


@routes.post(
    "/settings/tracked-entities",
    answer=TrackedAnswer,
    body_required=True,
    errors=(400, 401, 403, 404, 413, 415, 503),
)
async def tracked_entities(request: Request, body: TrackedEntitiesBody) -> Response:
    """Track exactly the given entities."""
    ids = await known_entity_ids(request, body.entity_ids)
    collection = hub_of(request).mongo.db[schema.ENTITIES]
    # tracked_by marks these as the user's choice, which binds the integration;
    # the integration keeps is_tracked of every other document true to its rules.
    await collection.update_many(
        {"_id": {"$nin": ids}},
        {"$set": {"is_tracked": False, "tracked_by": schema.TRACKED_BY_COMPANION}},
    )
    if ids:
        await collection.update_many(
            {"_id": {"$in": ids}},
            {"$set": {"is_tracked": True, "tracked_by": schema.TRACKED_BY_COMPANION}},
        )
    answer: TrackedAnswer = {"success": True, "tracked": len(ids), "entity_ids": ids}
    return JSON(answer)
