"""The JSON API under /api: status, entities, statistics, readings, jobs and settings."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import energy, entities, jobs, readings, settings, statistics, status
from .openapi import openapi_document
from .spec import Operation

__all__ = ["OPERATIONS", "api_routes"]

# Their order does not matter: a path that two routes match (/statistics/sync) is
# matched by method, and Starlette goes on past a route of another method.
OPERATIONS: tuple[Operation, ...] = tuple(
    operation
    for area in (status, entities, statistics, readings, jobs, settings, energy)
    for operation in area.routes.operations
)


def api_routes() -> list[BaseRoute]:
    """Routes mounted under /api, with the OpenAPI document generated from them."""
    document = orjson.dumps(openapi_document(OPERATIONS, "/api"))

    async def openapi(request: Request) -> Response:
        """The OpenAPI document of this API."""
        return Response(document, media_type="application/json")

    return [
        Route("/openapi.json", openapi, methods=["GET"]),
        *(operation.route() for operation in OPERATIONS),
    ]
