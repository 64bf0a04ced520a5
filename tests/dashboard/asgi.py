"""The companion as the dashboard tests run it: `create_app` plus the dashboard routes.

Once `create_app` wires `dashboard_routes` itself this adds nothing; until then the
routes are added here the same way (inside the base-path mount when there is one).
Run by uvicorn in a subprocess: `uvicorn --factory tests.dashboard.asgi:create`.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from companion.app import create_app
from companion.config import CompanionConfig
from companion.web import dashboard_routes


def _has_dashboard(routes: Sequence[BaseRoute]) -> bool:
    for route in routes:
        if isinstance(route, Route) and route.name == "dashboard":
            return True
        if isinstance(route, Mount) and _has_dashboard(route.routes):
            return True
    return False


def create() -> Starlette:
    """Build the application from the environment, with the dashboard."""
    config = CompanionConfig.from_env()
    app = create_app(config)
    if _has_dashboard(app.routes):
        return app
    routes = dashboard_routes(config)
    if config.base_path:
        for route in app.routes:
            if isinstance(route, Mount) and route.path == config.base_path:
                route.routes.extend(routes)
                return app
        app.router.routes.append(Mount(config.base_path, routes=routes))
    else:
        app.router.routes.extend(routes)
    return app
