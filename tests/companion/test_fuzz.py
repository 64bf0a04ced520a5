"""Property-based fuzzing of the API: no 5xx for any input.

Every operation is fuzzed from the OpenAPI document; the connection test of
Settings → Home Assistant, which connects wherever it is told, gets values of its
own: resolvable and unresolvable names, IPs, odd schemes and ports, garbage tokens,
aimed at the real HA, a web server that is not HA, a socket that never answers and
ports nobody listens on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
from pathlib import Path
import socket
import subprocess
import sys
import threading
import time
from typing import Any
import urllib.error
import urllib.request

import httpx
from hypothesis import HealthCheck, example, given, settings, strategies as st
import pytest
import pytest_socket  # type: ignore[import-untyped]
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

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
        # The never-answering stand-in costs this much per example.
        "ENERGY_TRACKER_HA_CHECK_TIMEOUT": "1",
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
    """No 5xx; every answer has a status and a body the generated document describes."""
    case.call_and_validate(
        base_url=companion_url,
        checks=[
            not_a_server_error,
            status_code_conformance,
            response_schema_conformance,
        ],
    )


class _NotHomeAssistant(BaseHTTPRequestHandler):
    """Some other web server: 404 for /api/…, HTML elsewhere."""

    def do_GET(self) -> None:
        if self.path.startswith("/api/"):
            self.send_response(404)
            body = b"404: Not Found"
        else:
            self.send_response(200)
            body = b"<html><body>router</body></html>"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""


@pytest.fixture
def stand_ins(
    home_assistant: HomeAssistant, servers: Servers
) -> Iterator[dict[str, int]]:
    """Ports to aim at: the real HA, a web server that is not HA, a silent socket,
    and one nobody listens on."""
    web = ThreadingHTTPServer(("127.0.0.1", 0), _NotHomeAssistant)
    thread = threading.Thread(target=web.serve_forever, daemon=True)
    thread.start()
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    try:
        yield {
            "home_assistant": int(home_assistant.url.rsplit(":", 1)[1]),
            "not_home_assistant": web.server_address[1],
            "silent": silent.getsockname()[1],
            "refused": free_port(),
        }
    finally:
        web.shutdown()
        web.server_close()
        silent.close()


_SCHEMES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTP://",
        "ws://",
        "ftp://",
        "javascript:",
        "",
        "http:/",
        "://",
    ]
)
_HOSTS = st.one_of(
    st.sampled_from(
        [
            "localhost",
            "127.0.0.1",
            "[::1]",
            "homeassistant.invalid",  # reserved: never resolves
            "ha.home.invalid",
            "0.0.0.0",  # noqa: S104 - a value to test, nothing binds it
            "256.1.1.1",
            "[::ffff:127.0.0.1]",
            "xn--hm-fka.invalid",
            "h\u00e9me.invalid",
            "bad_host!",
            "user:pw@localhost",
            "",
        ]
    ),
    st.text(max_size=12),
)
_PATHS = st.sampled_from(
    ["", "/", "/api", "/api/websocket", "/lovelace/0", "?x=1", "#f"]
)


_GOOD_HOSTS = st.sampled_from(
    ["localhost", "127.0.0.1", "[::1]", "homeassistant.invalid", "LOCALHOST"]
)


@st.composite
def _urls(draw: st.DrawFn, ports: dict[str, int]) -> object:
    stand_in = st.sampled_from([f":{p}" for p in ports.values()])
    # Mostly well-formed addresses, so most examples get as far as connecting.
    well_formed = (
        draw(st.sampled_from(["http://", "https://"]))
        + draw(_GOOD_HOSTS)
        + draw(stand_in)
        + draw(st.sampled_from(["", "/", "/lovelace/0"]))
    )
    port = draw(
        st.one_of(
            stand_in,
            st.sampled_from(["", ":0", ":65536", ":99999", ":-1", ":abc", ":"]),
            st.integers(min_value=1, max_value=65535).map(lambda p: f":{p}"),
        )
    )
    anything = draw(_SCHEMES) + draw(_HOSTS) + port + draw(_PATHS)
    return draw(
        st.one_of(
            st.just(well_formed),
            st.just(well_formed),
            st.just(anything),
            st.just(" " + anything + " "),
            st.text(max_size=40),
            st.sampled_from([None, 8123, [], {}, True]),
        )
    )


_TOKENS: st.SearchStrategy[object] = st.one_of(
    st.text(max_size=60),
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=20, max_size=200
    ),
    st.sampled_from([None, "", " ", "x" * 5000, 12, [], {"a": 1}, False]),
)


def test_connection_settings_never_fail_the_server(
    companion_url: str,
    stand_ins: dict[str, int],
    home_assistant: HomeAssistant,
    servers: Servers,
) -> None:
    """Whatever "Test and save" is given, the answer is never a 5xx."""
    ports = stand_ins
    seen: Counter[str] = Counter()
    with httpx.Client(base_url=companion_url, timeout=30) as client:

        @given(url=_urls(ports), token=_TOKENS, omit_token=st.booleans())
        # Each failure at least once, whatever else is drawn.
        @example(url="http://homeassistant.invalid:8123", token="t", omit_token=False)
        @example(
            url=f"http://localhost:{ports['refused']}", token="t", omit_token=False
        )
        @example(
            url=f"https://localhost:{ports['not_home_assistant']}",
            token="t",
            omit_token=False,
        )
        @example(
            url=f"http://localhost:{ports['not_home_assistant']}",
            token="t",
            omit_token=False,
        )
        @example(url=f"http://127.0.0.1:{ports['silent']}", token="t", omit_token=False)
        @example(
            url=f"http://localhost:{ports['home_assistant']}",
            token="t",
            omit_token=False,
        )
        @example(url="ftp://localhost", token="t", omit_token=False)
        @example(url="http://localhost", token=" a b ", omit_token=False)
        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,
        )
        def check(url: object, token: object, omit_token: bool) -> None:
            body = {"url": url} if omit_token else {"url": url, "token": token}
            response = client.post("/api/settings/home-assistant", json=body)
            assert response.status_code < 500, (body, response.text)
            assert home_assistant.token not in response.text
            if response.status_code == 200:
                seen["saved"] += 1
                return
            error = response.json()["error"]
            seen[error["code"]] += 1
            assert error["code"] != "internal_error"
            assert error["message"]
            if error["code"].startswith(("ha_", "bad_url", "bad_token")):
                assert error["field"] in ("ha_url", "ha_token"), error

        check()
        assert {
            "ha_dns_failed",
            "ha_connection_refused",
            "ha_tls_error",
            "ha_not_home_assistant",
            "ha_timeout",
            "ha_auth_failed",
            "bad_url",
            "bad_token",
        } <= set(seen), seen
        # The real HA at a resolvable name, with its token: tested and saved.
        port = stand_ins["home_assistant"]
        saved = client.post(
            "/api/settings/home-assistant",
            content=json.dumps(
                {"url": f"http://localhost:{port}", "token": home_assistant.token}
            ),
            headers={"content-type": "application/json"},
        )
        assert saved.status_code == 200, saved.text
