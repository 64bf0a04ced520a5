"""Fixtures and helpers of the companion tests: a real Home Assistant process, shared per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from companion.app import create_app
from companion.config import CompanionConfig
from companion.core import schema
from companion.hub import Hub
from companion.jobs import Jobs
from tests.ha import HomeAssistant
from tests.servers import Servers, wait_for_rows

from .readings_path import Reading, write_readings


@pytest.fixture
def hass_server(home_assistant: HomeAssistant, servers: Servers) -> HomeAssistant:
    """The HA process, with sockets enabled for the test body."""
    return home_assistant


def hour(moment: datetime) -> datetime:
    """Truncate to the hour (UTC)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def companion_config(
    servers: Servers,
    database: str,
    ha: HomeAssistant | None = None,
    **overrides: Any,
) -> CompanionConfig:
    """Settings of a companion using the test servers (jobs off unless asked)."""
    values: dict[str, Any] = {
        "questdb_http_url": servers.questdb_url,
        "questdb_pg_port": servers.questdb_pg_port,
        "mongodb_uri": servers.mongodb_uri,
        "mongodb_database": database,
        "jobs_enabled": False,
        "ha_url": ha.url if ha else None,
        "ha_token": ha.token if ha else None,
    }
    values.update(overrides)
    return CompanionConfig(**values)


class Companion:
    """A running companion app (lifespan entered) with an HTTP client."""

    def __init__(
        self, app: Starlette, state: dict[str, Any], client: httpx.AsyncClient
    ) -> None:
        """Keep the app, its lifespan state and a client bound to it."""
        self.app = app
        self.state = state
        self.http = client

    @property
    def hub(self) -> Hub:
        """The shared state."""
        hub: Hub = self.state["hub"]
        return hub

    @property
    def jobs(self) -> Jobs:
        """The job runner."""
        jobs: Jobs = self.state["jobs"]
        return jobs


@contextlib.asynccontextmanager
async def run_companion(config: CompanionConfig) -> AsyncIterator[Companion]:
    """Enter the app's lifespan and serve it in-process to an httpx client."""
    app = create_app(config)
    async with app.router.lifespan_context(app) as state:
        lifespan_state = dict(state or {})

        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                scope = {**scope, "state": dict(lifespan_state)}
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:8199"
        ) as client:
            yield Companion(app, lifespan_state, client)


@pytest.fixture
async def companion(
    servers: Servers, mongodb_database_name: str, home_assistant: HomeAssistant
) -> AsyncIterator[Companion]:
    """A companion connected to the test servers and the real HA, in its own database."""
    config = companion_config(servers, mongodb_database_name, home_assistant)
    async with run_companion(config) as running:
        yield running
        await running.jobs.api_jobs.wait_idle()
        await running.hub.mongo.client.drop_database(mongodb_database_name)


async def add_entity(
    companion: Companion,
    entity_id: str,
    *,
    device_class: str = "energy",
    state_class: str = "total_increasing",
    unit: str = "kWh",
    tracked: bool = True,
) -> None:
    """Register an entity in the companion's MongoDB, as the integration would."""
    await companion.hub.mongo.db[schema.ENTITIES].update_one(
        {"_id": entity_id},
        {
            "$set": {
                "friendly_name": entity_id.split(".")[1],
                "unit": unit,
                "device_class": device_class,
                "state_class": state_class,
                "is_tracked": tracked,
                "is_active": True,
            }
        },
        upsert=True,
    )


async def write(
    companion: Companion,
    servers: Servers,
    entity_id: str,
    points: list[tuple[datetime, float]],
    unit: str = "kWh",
) -> None:
    """Write live energy readings of one entity and wait until QuestDB shows them all."""
    await write_readings(
        companion.hub.store,
        [
            Reading(ts, entity_id, value, unit, "energy", "total_increasing", "live")
            for ts, value in points
        ],
    )
    await wait_for_rows(
        servers,
        f"select ts from energy_readings where entity_id = '{entity_id}'",
        len(points),
    )


def error_code(response: httpx.Response) -> str:
    """The `error.code` of an API error response."""
    body: dict[str, Any] = response.json()
    return str(body["error"]["code"])
