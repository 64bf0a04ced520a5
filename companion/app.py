"""The companion's Starlette application: routes, lifespan and shared state."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
import logging
from typing import TypedDict

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from .api import api_routes
from .config import CompanionConfig
from .errors import EXCEPTION_HANDLERS
from .hub import Hub
from .jobs import Jobs
from .questdb import QuestDBError
from .security import ApiSecurity, ServerTiming

_LOGGER = logging.getLogger(__name__)


class State(TypedDict):
    """What the lifespan opens and every handler reads from `request.state`."""

    hub: Hub
    jobs: Jobs


def _dashboard_routes(config: CompanionConfig) -> list[BaseRoute]:
    """The dashboard's routes when companion/web.py is present."""
    try:
        from .web import dashboard_routes  # noqa: PLC0415 - optional module
    except ImportError:
        return []
    return dashboard_routes(config)


def create_app(config: CompanionConfig | None = None) -> Starlette:
    """Build the application; the databases are opened by its lifespan."""
    config = config or CompanionConfig.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        hub = Hub(config)
        # The companion must start even while a database is down: the schema is
        # created now if possible, otherwise on first use.
        try:
            await hub.questdb.ensure_schema()
        except QuestDBError as err:
            _LOGGER.warning("QuestDB not ready at start-up: %s", err)
        if await hub.mongo.ping():
            await hub.mongo.ensure_schema()
        else:
            _LOGGER.warning("MongoDB not reachable at start-up")
        await hub.ha.load()
        jobs = Jobs(hub)
        if config.jobs_enabled:
            jobs.start_scheduler()
        try:
            yield {"hub": hub, "jobs": jobs}
        finally:
            await jobs.close()
            await hub.close()

    routes: list[BaseRoute] = [
        Mount("/api", routes=api_routes()),
        *_dashboard_routes(config),
    ]
    if config.base_path:
        routes = [Mount(config.base_path, routes=routes)]
    middleware = [
        Middleware(ServerTiming),
        Middleware(
            ApiSecurity,
            api_token=config.api_token,
            api_prefix=f"{config.base_path}/api",
        ),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
    )
