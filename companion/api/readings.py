"""Raw readings of one entity, as objects or as columns."""

from __future__ import annotations

from typing import cast

import orjson
from starlette.requests import Request
from starlette.responses import Response

from companion.errors import JSON

from .common import entity_document, hub_of, iso_z
from .models import EntityPath, ReadingsQuery
from .responses import Reading, ReadingColumnsAnswer, ReadingObjects, ReadingsHead
from .spec import RouteTable

routes = RouteTable()


@routes.get(
    "/readings/{entity_id}",
    answer=ReadingObjects | ReadingColumnsAnswer,
    errors=(400, 401, 404, 503),
)
async def readings(
    request: Request, query: ReadingsQuery, path: EntityPath
) -> Response:
    """Raw readings, newest first."""
    start, end = query.window
    limit = query.limit
    entity = await entity_document(request, path.entity_id)
    store = hub_of(request).store
    if query.format == "columns":
        columns = await store.readings_columns(entity["_id"], start, end, limit)
        head: ReadingsHead = {
            "entity_id": entity["_id"],
            "since": iso_z(start),
            "until": iso_z(end),
            "limit": limit,
            "count": columns.count,
            "unit_of_measurement": entity.get("unit"),
        }
        rendered = orjson.dumps(head)
        # The columns are ready-made JSON: spliced in, never parsed.
        return Response(
            b"".join((rendered[:-1], b',"columns":', *columns.json_parts(), b"}")),
            media_type="application/json",
        )
    rows = await store.readings(entity["_id"], start, end, limit)
    answer: ReadingObjects = {
        "entity_id": entity["_id"],
        "since": iso_z(start),
        "until": iso_z(end),
        "limit": limit,
        "count": len(rows),
        "unit_of_measurement": entity.get("unit"),
        "readings": cast("list[Reading]", rows),  # the store's rows are of this shape
    }
    return JSON(answer)
