"""Fixtures of the integration tests: HA with custom integrations and a recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
import contextlib
from dataclasses import dataclass
from pathlib import Path
import socket
from typing import Any

from aiohttp import BasicAuth, ClientSession, web
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.frame import ReportBehavior, report_usage
from pymongo import AsyncMongoClient
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry  # type: ignore[import-untyped]

from custom_components.energy_tracker.config_flow import default_options
from custom_components.energy_tracker.const import (
    CONF_MONGODB_DATABASE,
    CONF_MONGODB_URI,
    CONF_QUESTDB_URL,
    CONF_VERIFY_SSL,
    DOMAIN,
)
from custom_components.energy_tracker.validation import unique_id_for
from tests.ha import deprecation_report
from tests.servers import Servers

QUESTDB_USER = "admin"
QUESTDB_PASSWORD = "s3cret-Pw-7731"
# A kWh meter's attributes, as an energy sensor reports them.
ENERGY = {
    "device_class": "energy",
    "unit_of_measurement": "kWh",
    "state_class": "total_increasing",
}


@pytest.fixture(autouse=True)
def _integration_env(
    recorder_mock: Any,
    enable_custom_integrations: None,
    hass: HomeAssistant,
    tmp_path: Path,
) -> None:
    """Load custom integrations, run a recorder and keep the config folder per test."""
    hass.config.config_dir = str(tmp_path)
    (tmp_path / ".storage").mkdir(exist_ok=True)


@pytest.fixture(autouse=True)
def _no_deprecation_reports(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test in which HA reported the integration's use of a deprecated API."""
    yield
    reports = [
        record.getMessage()
        for when in ("setup", "call", "teardown")
        for record in caplog.get_records(when)
        if deprecation_report(record.getMessage())
    ]
    assert not reports, "\n".join(reports)


@pytest.fixture(autouse=True)
def _report_reload_of_entry_with_update_listener(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Report, as HA >= 2026.11 does, a flow reloading an entry that has an update listener.

    HA 2026.11 logs this and stops allowing it in 2026.12: such an entry must
    schedule its reload from the listener.
    """
    original = ConfigFlow.async_update_reload_and_abort

    def checked(
        self: ConfigFlow, entry: ConfigEntry, **kwargs: Any
    ) -> ConfigFlowResult:
        if entry.update_listeners:
            report_usage(
                "has an update listener and should use it for scheduling a reload",
                core_behavior=ReportBehavior.LOG,
                breaks_in_ha_version="2026.12.0",
                integration_domain=self.handler,
            )
        return original(self, entry, **kwargs)

    monkeypatch.setattr(ConfigFlow, "async_update_reload_and_abort", checked)


@pytest.fixture(autouse=True)
async def _drop_test_databases(
    servers: Servers, mongodb_database_name: str
) -> AsyncIterator[None]:
    """Drop the test's MongoDB databases (entries use the name and name + "x")."""
    yield
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        servers.mongodb_uri, serverSelectionTimeoutMS=5000
    )
    try:
        for name in (mongodb_database_name, mongodb_database_name + "x"):
            await client.drop_database(name)
    finally:
        await client.close()


def closed_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def entry_data(
    servers: Servers,
    database: str,
    *,
    questdb_url: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Return config entry data for the real servers."""
    return {
        CONF_QUESTDB_URL: questdb_url or servers.questdb_url,
        CONF_VERIFY_SSL: True,
        CONF_MONGODB_URI: servers.mongodb_uri,
        CONF_MONGODB_DATABASE: database,
        **extra,
    }


def make_entry(
    servers: Servers,
    database: str,
    *,
    options: dict[str, Any] | None = None,
    questdb_url: str | None = None,
) -> MockConfigEntry:
    """Build a config entry of the integration."""
    data = entry_data(servers, database, questdb_url=questdb_url)
    return MockConfigEntry(
        domain=DOMAIN,
        title="Energy Tracker test",
        data=data,
        options={**default_options(), **(options or {})},
        unique_id=unique_id_for(data),
    )


type Intercept = Callable[[web.Request], web.StreamResponse | None]


@contextlib.asynccontextmanager
async def questdb_proxy(servers: Servers, intercept: Intercept) -> AsyncIterator[str]:
    """The real QuestDB behind a proxy; `intercept` answers a request itself, or None."""
    session = ClientSession()

    async def handle(request: web.Request) -> web.StreamResponse:
        answer = intercept(request)
        if answer is not None:
            return answer
        async with session.request(
            request.method,
            f"{servers.questdb_url}{request.path_qs}",
            data=await request.read(),
        ) as upstream:
            return web.Response(
                status=upstream.status,
                body=await upstream.read(),
                content_type=upstream.content_type,
            )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await session.close()


@dataclass(slots=True)
class Refusing:
    """Whether a refusing proxy refuses now: until a test sets `on` to False."""

    on: bool = True


@contextlib.asynccontextmanager
async def questdb_refusing(
    servers: Servers, refused: Callable[[str], bool], error: str
) -> AsyncIterator[tuple[str, Refusing]]:
    """The real QuestDB behind a proxy answering the queries `refused` picks with
    HTTP 400 and `error`, as QuestDB does, until the yielded switch is turned off."""
    refusing = Refusing()

    def refuse(request: web.Request) -> web.StreamResponse | None:
        query = request.query.get("query", "")
        if refusing.on and refused(query):
            return web.json_response({"query": query, "error": error}, status=400)
        return None

    async with questdb_proxy(servers, refuse) as url:
        yield url, refusing


@pytest.fixture
async def questdb_auth_proxy(servers: Servers) -> AsyncIterator[str]:
    """Put HTTP basic authentication in front of the real QuestDB (as QuestDB can)."""
    expected = BasicAuth(QUESTDB_USER, QUESTDB_PASSWORD).encode()

    def refuse_strangers(request: web.Request) -> web.StreamResponse | None:
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": "unauthorized"}, status=401)
        return None

    async with questdb_proxy(servers, refuse_strangers) as url:
        yield url


async def setup_entry(hass: HomeAssistant, entry: Any) -> Any:
    """Add the entry to HA, set it up and check it loaded."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, servers: Servers, mongodb_database_name: str
) -> MockConfigEntry:
    """An entry with the default options against the real servers, set up and loaded."""
    entry: MockConfigEntry = await setup_entry(
        hass, make_entry(servers, mongodb_database_name)
    )
    return entry
