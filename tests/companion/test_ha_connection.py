"""Settings → Home Assistant → "Test and save": every failure is its own clear 4xx.

Each failure is made real: a name under the reserved .invalid TLD, a port nobody
listens on, a TLS server with a self-signed certificate, HTTPS asked of a plain
HTTP port, the real Home Assistant refusing a token, an HTTP server that is not
Home Assistant, and a socket that accepts and never answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
import socket
import ssl
import time
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import httpx
import pytest
import pytest_socket  # type: ignore[import-untyped]

from companion.core import schema
from companion.ha_client import HACheckError, check_connection
from tests.ha import HomeAssistant
from tests.servers import Servers, free_port

from .conftest import Companion, companion_config, run_companion

# Short, so the never-answering socket costs little; the default is 10 s.
CHECK_TIMEOUT = 1.5
UNRESOLVABLE = "http://homeassistant.invalid:8123"  # RFC 6761: never resolves
ANY_TOKEN = "some-token"


@pytest.fixture
def loopback_names(servers: Servers) -> Iterator[None]:
    """Let the test connect to whatever `localhost` resolves to here (::1 too)."""
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "localhost"])
    yield
    pytest_socket.socket_allow_hosts(["127.0.0.1"])


@pytest.fixture
async def companion_ha(
    servers: Servers,
    mongodb_database_name: str,
    home_assistant: HomeAssistant,
    loopback_names: None,
) -> AsyncIterator[Companion]:
    """A companion with no HA configured yet and a short connection test."""
    config = companion_config(
        servers, mongodb_database_name, ha_check_timeout=CHECK_TIMEOUT
    )
    async with run_companion(config) as running:
        yield running
        await running.hub.mongo.client.drop_database(mongodb_database_name)


async def _serve(
    app: web.Application, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context).start()
    return runner, port


@pytest.fixture
async def not_home_assistant(loopback_names: None) -> AsyncIterator[int]:
    """A plain web server: 404 for /api/…, an HTML page elsewhere."""

    async def page(request: web.Request) -> web.Response:
        if request.path.startswith("/api/"):
            return web.Response(status=404, text="404: Not Found")
        return web.Response(
            text="<html><body>My router</body></html>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner, port = await _serve(app)
    yield port
    await runner.cleanup()


@pytest.fixture
async def wrong_websocket(loopback_names: None) -> AsyncIterator[int]:
    """A server whose /api/websocket upgrades, then greets unlike Home Assistant."""

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"hello": "I am a chat server"})
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/api/websocket", websocket)
    runner, port = await _serve(app)
    yield port
    await runner.cleanup()


def _self_signed(folder: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
async def self_signed_tls(tmp_path: Path, loopback_names: None) -> AsyncIterator[int]:
    """A real HTTPS server with a self-signed certificate for localhost."""

    async def websocket(request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/api/websocket", websocket)
    runner, port = await _serve(app, _self_signed(tmp_path))
    yield port
    await runner.cleanup()


@pytest.fixture
def silent_socket(loopback_names: None) -> Iterator[int]:
    """A socket that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


async def _save(
    companion: Companion, url: Any, token: Any = ANY_TOKEN
) -> httpx.Response:
    body: dict[str, Any] = {"url": url}
    if token is not None:
        body["token"] = token
    return await companion.http.post("/api/settings/home-assistant", json=body)


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def _expect(
    companion: Companion,
    url: Any,
    code: str,
    field: str,
    *,
    token: Any = ANY_TOKEN,
    status: int = 422,
) -> str:
    response = await _save(companion, url, token)
    assert response.status_code == status, response.text
    error = _error(response)
    assert (error["code"], error["field"]) == (code, field), error
    assert error["message"], error
    return str(error["message"])


async def test_unresolvable_host_name(companion_ha: Companion) -> None:
    message = await _expect(companion_ha, UNRESOLVABLE, "ha_dns_failed", "ha_url")
    assert "'homeassistant.invalid' does not resolve" in message
    assert "IP address" in message
    assert await _stored(companion_ha) is None


async def test_refused_on_a_resolvable_name(companion_ha: Companion) -> None:
    port = free_port()  # nobody listens there
    for url in (f"http://localhost:{port}", f"http://127.0.0.1:{port}"):
        message = await _expect(companion_ha, url, "ha_connection_refused", "ha_url")
        assert f":{port}" in message and "8123" in message


async def test_not_home_assistant(
    companion_ha: Companion, not_home_assistant: int, wrong_websocket: int
) -> None:
    message = await _expect(
        companion_ha,
        f"http://localhost:{not_home_assistant}",
        "ha_not_home_assistant",
        "ha_url",
    )
    assert "HTTP 404" in message and "not Home Assistant" in message
    # A URL copied from the browser, with a dashboard's path.
    message = await _expect(
        companion_ha,
        f"http://localhost:{not_home_assistant}/lovelace/0",
        "ha_not_home_assistant",
        "ha_url",
    )
    assert "without the path '/lovelace/0'" in message
    message = await _expect(
        companion_ha,
        f"http://localhost:{wrong_websocket}",
        "ha_not_home_assistant",
        "ha_url",
    )
    assert "did not ask for authentication" in message


async def test_tls_failures(
    companion_ha: Companion, self_signed_tls: int, not_home_assistant: int
) -> None:
    message = await _expect(
        companion_ha, f"https://localhost:{self_signed_tls}", "ha_tls_error", "ha_url"
    )
    assert "not trusted" in message and "self-signed" in message
    # https:// asked of a plain HTTP port.
    message = await _expect(
        companion_ha,
        f"https://localhost:{not_home_assistant}",
        "ha_tls_error",
        "ha_url",
    )
    assert f"Try http://localhost:{not_home_assistant}" in message
    # http:// asked of a TLS port: the server hangs up.
    message = await _expect(
        companion_ha,
        f"http://localhost:{self_signed_tls}",
        "ha_connection_closed",
        "ha_url",
    )
    assert f"https://localhost:{self_signed_tls}" in message


async def test_silent_server_times_out_within_the_bound(
    companion_ha: Companion, silent_socket: int
) -> None:
    started = time.monotonic()
    message = await _expect(
        companion_ha, f"http://localhost:{silent_socket}", "ha_timeout", "ha_url"
    )
    assert time.monotonic() - started < CHECK_TIMEOUT + 2
    assert "accepted the connection but did not answer within 1.5 s" in message


async def test_wrong_token_then_saved_on_localhost(
    companion_ha: Companion, home_assistant: HomeAssistant
) -> None:
    port = home_assistant.url.rsplit(":", 1)[1]
    localhost = f"http://localhost:{port}"
    message = await _expect(
        companion_ha, localhost, "ha_auth_failed", "ha_token", token="wrong-token"
    )
    assert "Long-lived access tokens" in message
    assert await _stored(companion_ha) is None

    saved = await _save(companion_ha, localhost + "/", home_assistant.token)
    assert saved.status_code == 200, saved.text
    assert saved.json()["url"] == localhost and saved.json()["ha_version"]
    assert home_assistant.token not in saved.text
    stored = await _stored(companion_ha)
    assert stored is not None and stored["url"] == localhost
    # A new URL without a token keeps the saved token (the form's "leave empty").
    kept = await _save(companion_ha, home_assistant.url, None)
    assert kept.status_code == 200, kept.text
    kept_empty = await _save(companion_ha, home_assistant.url, "")
    assert kept_empty.status_code == 200, kept_empty.text
    stored = await _stored(companion_ha)
    assert stored is not None and stored["token"] == home_assistant.token
    settings = await companion_ha.http.get("/api/settings")
    assert settings.json()["home_assistant"]["url"] == home_assistant.url
    assert home_assistant.token not in settings.text


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("homeassistant.local:8123", "e.g. http://homeassistant.local:8123"),
        ("ftp://homeassistant.local", "not ftp://"),
        ("ws://homeassistant.local:8123", "not ws://"),
        ("http://", "no host name"),
        ("http://homeassistant.local:99999", "port"),
        ("http://homeassistant.local:0", "port"),
        ("http://homeassistant.local:abc", "port"),
        ("http://[::1", "not a valid address"),
        ("http://home assistant:8123", "without spaces"),
        ("http://bad_host!:8123", "not a valid host name"),
        ("http://1234:8123", "not a valid host name"),
        ("http://user:pw@homeassistant.local:8123", "user name and password"),
        ("http://homeassistant.local:8123/?x=1", "?query"),
        ("", "Enter Home Assistant's address"),
        (None, "Enter Home Assistant's address"),
        (8123, "Enter Home Assistant's address"),
    ],
)
async def test_invalid_url_is_a_validation_error(
    companion_ha: Companion, url: Any, phrase: str
) -> None:
    message = await _expect(companion_ha, url, "bad_url", "ha_url", status=400)
    assert phrase in message


@pytest.mark.parametrize(
    ("token", "phrase"),
    [
        (None, "Long-lived access tokens"),  # nothing saved to keep
        ("   ", "Long-lived access tokens"),
        ("abc def", "spaces or line breaks"),
        ("abc\ndef", "spaces or line breaks"),
        pytest.param("x" * 5000, "too long", id="too-long"),
        (12, "must be text"),
    ],
)
async def test_invalid_token_is_a_validation_error(
    companion_ha: Companion, token: Any, phrase: str
) -> None:
    message = await _expect(
        companion_ha, UNRESOLVABLE, "bad_token", "ha_token", token=token, status=400
    )
    assert phrase in message


async def test_check_connection_raises_the_codes(
    home_assistant: HomeAssistant, loopback_names: None
) -> None:
    """The client function itself, as the API uses it."""
    with pytest.raises(HACheckError) as refused:
        await check_connection(home_assistant.url, "not-a-token", timeout=5)
    assert (refused.value.code, refused.value.field) == ("ha_auth_failed", "ha_token")
    assert await check_connection(home_assistant.url, home_assistant.token, timeout=5)
    with pytest.raises(HACheckError) as unresolved:
        await check_connection(UNRESOLVABLE, "x", timeout=5)
    assert unresolved.value.code == "ha_dns_failed"


async def _stored(companion: Companion) -> dict[str, Any] | None:
    document: dict[str, Any] | None = await companion.hub.mongo.db[
        schema.SETTINGS
    ].find_one({"_id": "home_assistant"})
    return document


async def test_concurrent_tests_never_fail_the_server(
    companion_ha: Companion, not_home_assistant: int
) -> None:
    """Several tests at once (a double click, two tabs) each get their own answer."""
    answers = await asyncio.gather(
        *(
            _save(companion_ha, url)
            for url in (
                UNRESOLVABLE,
                f"http://localhost:{not_home_assistant}",
                f"http://localhost:{free_port()}",
            )
        )
    )
    assert sorted(_error(a)["code"] for a in answers) == [
        "ha_connection_refused",
        "ha_dns_failed",
        "ha_not_home_assistant",
    ]
