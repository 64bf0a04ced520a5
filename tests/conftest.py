"""Fixtures shared by every test: the real servers and Home Assistant's test harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import os
from pathlib import Path
import subprocess
import uuid

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
import pytest
import pytest_socket  # type: ignore[import-untyped]

# Import the integration before the `hass` fixture runs: otherwise the test plugin
# mounts its own `custom_components` package and ours is never found.
import custom_components.energy_tracker  # noqa: F401
from tools.hass_runner import HomeAssistantProcess

from .ha import HomeAssistant
from .servers import SERVICES_SCRIPT, Servers, free_port


def _services(*args: str) -> subprocess.CompletedProcess[str]:
    # A subprocess, not a socket: pytest-socket blocks sockets outside test bodies.
    return subprocess.run(
        [str(SERVICES_SCRIPT), *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="session")
def _servers_session() -> Iterator[Servers]:
    """Make sure QuestDB and the MongoDB-wire server run; start them once if not.

    Never skips: a test that needs the servers fails with the reason when they
    cannot be started (which is what CI must see).
    """
    found = Servers.from_env()
    started_here = False
    if _services("status").returncode != 0:
        result = _services("start")
        if result.returncode != 0:
            pytest.fail(
                "QuestDB / MongoDB could not be started by scripts/services "
                f"(exit {result.returncode}):\n{result.stderr[-3000:]}",
                pytrace=False,
            )
        started_here = True
    yield found
    if started_here and not os.environ.get("ENERGY_TRACKER_KEEP_SERVICES"):
        _services("stop")


@pytest.fixture
def servers(_servers_session: Servers, socket_enabled: None) -> Servers:
    """The real servers, with sockets to 127.0.0.1 allowed for this test."""
    return _servers_session


@pytest.fixture
def mongodb_database_name() -> str:
    """A database name of its own for each test, so tests never see each other's data."""
    return f"et_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def mongo_db(
    servers: Servers, mongodb_database_name: str
) -> AsyncIterator[AsyncDatabase[dict[str, object]]]:
    """A fresh database on the real MongoDB-wire server, dropped afterwards."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        servers.mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    try:
        yield client[mongodb_database_name]
        await client.drop_database(mongodb_database_name)
    finally:
        await client.close()


@pytest.fixture
def entity_suffix() -> str:
    """A unique suffix for entity ids, so tests sharing QuestDB tables never collide."""
    return uuid.uuid4().hex[:10]


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
