"""Property-based fuzzing of the API from its OpenAPI document: no 5xx for any input."""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.request

from hypothesis import HealthCheck, settings
import pytest
import pytest_socket  # type: ignore[import-untyped]
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema

from tests.ha import HomeAssistant
from tests.servers import REPO, Servers, free_port


@pytest.fixture(scope="module")
def companion_url(
    home_assistant: HomeAssistant,
    _servers_session: Servers,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The companion as a real uvicorn process (jobs off), in a database of its own."""
    pytest_socket.enable_socket()
    port = free_port()
    database = f"et_fuzz_{os.getpid()}_{port}"
    env = {
        **os.environ,
        "COMPANION_PORT": str(port),
        "QUESTDB_HTTP_PORT": str(_servers_session.questdb_http_port),
        "QUESTDB_PG_PORT": str(_servers_session.questdb_pg_port),
        "MONGODB_PORT": str(_servers_session.mongodb_port),
        "ENERGY_TRACKER_MONGODB_DATABASE": database,
        "ENERGY_TRACKER_HA_URL": home_assistant.url,
        "ENERGY_TRACKER_HA_TOKEN": home_assistant.token,
        "ENERGY_TRACKER_JOBS": "0",
    }
    log: Path = tmp_path_factory.mktemp("companion") / "companion.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "companion"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/openapi.json", timeout=2):  # noqa: S310 - loopback
                    break
            except (OSError, urllib.error.URLError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"companion did not start:\n{log.read_text()[-3000:]}",
                        pytrace=False,
                    )
                time.sleep(0.2)
    finally:
        pytest_socket.socket_allow_hosts(["127.0.0.1"])
        pytest_socket.disable_socket(allow_unix_socket=True)
    yield url
    process.terminate()
    process.wait(20)
    server_errors = [
        line
        for line in log.read_text().splitlines()
        if " 500 " in line or "Traceback" in line
    ]
    assert not server_errors, server_errors[:5]
    assert home_assistant.token not in log.read_text()


@pytest.fixture
def api_schema(companion_url: str, servers: Servers) -> BaseSchema:
    """The live OpenAPI document; HA settings are left out (they connect to any URL given)."""
    schema = schemathesis.openapi.from_url(f"{companion_url}/api/openapi.json")
    return schema.exclude(path="/api/settings/home-assistant")


fuzzed = schemathesis.pytest.from_fixture("api_schema")


@fuzzed.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_server_errors(
    case: schemathesis.Case[schemathesis.APIOperation[Any, Any, Any, Any]],
    companion_url: str,
) -> None:
    case.call_and_validate(base_url=companion_url, checks=[not_a_server_error])
