"""The connection test of Settings → Home Assistant: connect and authenticate once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
import socket
import ssl
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult

from companion import net

from .check_errors import (
    FIELD_TOKEN,
    FIELD_URL,
    HACheckError,
    connect_problem,
    handshake_problem,
    host_and_port,
    not_home_assistant,
    tls_problem,
)
from .connection import websocket_url

_LOGGER = logging.getLogger(__name__)

CHECK_TIMEOUT = 10.0


class _WatchedResolver(aiohttp.ThreadedResolver):
    """The system resolver, remembering whether a name was being resolved."""

    def __init__(self) -> None:
        super().__init__()
        self.started = False
        self.done = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.started = True
        result = await super().resolve(host, port, family)
        self.done = True
        return result


@dataclass(slots=True)
class _Progress:
    """How far the test got, to tell a slow DNS, a dropped SYN and a silent server apart."""

    resolver: _WatchedResolver
    connected: bool = False


async def _receive_json(ws: aiohttp.ClientWebSocketResponse, url: str) -> Any:
    message = await ws.receive()
    if message.type != aiohttp.WSMsgType.TEXT:
        raise not_home_assistant(url, "did not greet over its WebSocket")
    try:
        return message.json()
    except ValueError:
        raise not_home_assistant(
            url, "sent a WebSocket message that is not JSON"
        ) from None


async def _test_session(
    session: aiohttp.ClientSession, url: str, token: str
) -> str | None:
    async with session.ws_connect(websocket_url(url), heartbeat=None) as ws:
        hello = await _receive_json(ws, url)
        if not isinstance(hello, dict) or hello.get("type") != "auth_required":
            raise not_home_assistant(url, "did not ask for authentication")
        await ws.send_json({"type": "auth", "access_token": token})
        answer = await _receive_json(ws, url)
        kind = answer.get("type") if isinstance(answer, dict) else None
        if kind == "auth_invalid":
            raise HACheckError(
                "ha_auth_failed",
                FIELD_TOKEN,
                "Home Assistant refused the access token. Create a long-lived access "
                "token in Home Assistant (your profile → Security → Long-lived access "
                "tokens) and paste all of it here.",
            )
        if kind != "auth_ok":
            raise not_home_assistant(url, "answered the login with something else")
        version = answer.get("ha_version")
        return version if isinstance(version, str) else None


async def check_connection(  # noqa: C901 - one except clause per failure
    url: str,
    token: str,
    *,
    timeout: float = CHECK_TIMEOUT,  # noqa: ASYNC109 - bounds DNS, connect and answer alike
) -> str | None:
    """Connect and authenticate once; return HA's version, raise HACheckError otherwise.

    The whole test, name resolution included, takes at most `timeout` seconds.
    """
    host, where = host_and_port(url)
    progress = _Progress(_WatchedResolver())
    trace = aiohttp.TraceConfig()

    async def connected(*_: Any) -> None:
        progress.connected = True

    trace.on_connection_create_end.append(connected)
    session = net.session(progress.resolver, trace_configs=[trace])
    try:
        async with asyncio.timeout(timeout):
            return await _test_session(session, url, token)
    except HACheckError:
        raise
    except TimeoutError:
        seconds = f"{timeout:g} s"
        if progress.resolver.started and not progress.resolver.done:
            raise HACheckError(
                "ha_dns_failed",
                FIELD_URL,
                f"The host name {host!r} could not be resolved within {seconds} (the "
                "DNS server did not answer): check the companion's DNS, or use Home "
                "Assistant's IP address.",
            ) from None
        if not progress.connected:
            raise HACheckError(
                "ha_timeout",
                FIELD_URL,
                f"No connection to {where} within {seconds}: check the address and "
                "port, and that no firewall drops the companion's connections.",
            ) from None
        raise HACheckError(
            "ha_timeout",
            FIELD_URL,
            f"{where} accepted the connection but did not answer within {seconds}: "
            "it is not Home Assistant, or Home Assistant is stuck (restart it).",
        ) from None
    except aiohttp.WSServerHandshakeError as err:
        raise handshake_problem(err, url) from None
    except aiohttp.ClientConnectorError as err:
        raise connect_problem(err, url) from None
    except ssl.SSLError as err:  # TLS failing after the connection was made
        raise tls_problem(err, url, where) from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
        raise HACheckError(
            "ha_connection_closed",
            FIELD_URL,
            f"{where} closed the connection without an HTTP answer. A server that "
            "expects HTTPS does this when asked over http://: if Home Assistant uses "
            f"HTTPS, use {url.replace('http://', 'https://', 1)}.",
        ) from None
    except aiohttp.ClientResponseError as err:  # a reply that is not valid HTTP
        raise not_home_assistant(
            url, f"answered with no valid HTTP ({err.status})"
        ) from None
    except (aiohttp.ClientError, OSError) as err:
        raise HACheckError(
            "ha_unreachable",
            FIELD_URL,
            f"{where} cannot be reached ({type(err).__name__}): check the address, "
            "and that the companion's network can reach Home Assistant's.",
        ) from None
    except Exception as err:  # a library failing: a clear answer, never a 500
        _LOGGER.warning(
            "Connection test of %s failed unexpectedly", where, exc_info=err
        )
        raise HACheckError(
            "ha_check_failed",
            FIELD_URL,
            f"The connection test failed unexpectedly ({type(err).__name__}); the "
            "companion's log has the details.",
        ) from None
    finally:
        await session.close()
