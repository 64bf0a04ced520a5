"""Fixtures of the companion tests: a real Home Assistant process, shared per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import os
from pathlib import Path
import socket
from typing import Any

import httpx
import pytest
import pytest_socket  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from companion.app import create_app
from companion.config import CompanionConfig
from companion.hub import Hub
from companion.jobs import Jobs
from tests.servers import Servers
from tools.hass_runner import HomeAssistantProcess


@dataclass(frozen=True, slots=True)
class HomeAssistant:
    """The running HA process the tests talk to."""

    process: HomeAssistantProcess
    token: str = field(repr=False)

    @property
    def url(self) -> str:
        """HTTP base URL."""
        return self.process.url

    def post_state(
        self, entity_id: str, state: str | float, attributes: dict[str, Any]
    ) -> None:
        """Set a state (HA records it in its history)."""
        self.process.post_state(entity_id, state, attributes)

    def command(self, payload: dict[str, Any]) -> Any:
        """Run one WebSocket command directly (blocking)."""
        return self.process.websocket_command(payload)

    def import_statistics(
        self,
        statistic_id: str,
        unit: str,
        rows: list[dict[str, Any]],
        *,
        has_sum: bool = True,
        has_mean: bool = False,
    ) -> None:
        """Write long-term statistics into HA's recorder (source: recorder)."""

        def iso(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else value

        self.command(
            {
                "type": "recorder/import_statistics",
                "metadata": {
                    "has_mean": has_mean,
                    "has_sum": has_sum,
                    "name": None,
                    "source": "recorder",
                    "statistic_id": statistic_id,
                    "unit_of_measurement": unit,
                },
                "stats": [{k: iso(v) for k, v in row.items()} for row in rows],
            }
        )


def free_port() -> int:
    """A TCP port nobody listens on right now (several test runs may share the host)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def home_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    """Start one real HA process for the whole session (it takes several seconds)."""
    config_dir: Path = tmp_path_factory.mktemp("hass")
    # Session fixtures run while pytest-socket blocks sockets: allow them for start-up.
    pytest_socket.enable_socket()
    port = int(os.environ.get("ENERGY_TRACKER_TEST_HA_PORT", "0")) or free_port()
    process = HomeAssistantProcess(config_dir, port)
    try:
        token = process.start()
    except Exception as err:  # noqa: BLE001 - reported as a test failure
        process.stop()
        pytest.fail(f"Home Assistant did not start: {err}", pytrace=False)
    finally:
        pytest_socket.socket_allow_hosts(["127.0.0.1"])
        pytest_socket.disable_socket(allow_unix_socket=True)
    yield HomeAssistant(process, token)
    process.stop()


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
        await running.jobs.wait_idle()
        await running.hub.mongo.client.drop_database(mongodb_database_name)
