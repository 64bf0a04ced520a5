"""The companion's Starlette application: routes, lifespan and shared state."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
import logging
from typing import TypedDict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from .config import CompanionConfig
from .mongo import Mongo
from .questdb import QuestDB, QuestDBError
from .web import dashboard_routes

_LOGGER = logging.getLogger(__name__)


class State(TypedDict):
    """What the lifespan opens and every handler reads from `request.state`."""

    config: CompanionConfig
    questdb: QuestDB
    mongo: Mongo


async def status(request: Request) -> JSONResponse:
    """Report whether each database answers."""
    questdb: QuestDB = request.state.questdb
    mongo: Mongo = request.state.mongo
    questdb_up = await questdb.ping()
    mongo_up = await mongo.ping()
    return JSONResponse(
        {
            "databases": {
                "questdb": "connected" if questdb_up else "unavailable",
                "mongodb": "connected" if mongo_up else "unavailable",
            },
        }
    )


def create_app(config: CompanionConfig | None = None) -> Starlette:
    """Build the application; the databases are opened by its lifespan."""
    config = config or CompanionConfig.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        questdb = QuestDB(config)
        mongo = Mongo(config)
        # The companion must start even while a database is down: the schema is
        # created now if possible, otherwise on first use.
        try:
            await questdb.ensure_schema()
        except QuestDBError as err:
            _LOGGER.warning("QuestDB not ready at start-up: %s", err)
        if await mongo.ping():
            await mongo.ensure_schema()
        else:
            _LOGGER.warning("MongoDB not reachable at start-up")
        try:
            yield {"config": config, "questdb": questdb, "mongo": mongo}
        finally:
            await questdb.close()
            await mongo.close()

    api = [Route("/status", status, methods=["GET"])]
    # The dashboard's page and assets sit beside the API, under the same base path.
    routes: list[BaseRoute] = [Mount("/api", routes=api), *dashboard_routes(config)]
    if config.base_path:
        routes = [Mount(config.base_path, routes=routes)]
    return Starlette(routes=routes, lifespan=lifespan)
