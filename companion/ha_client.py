"""Home Assistant WebSocket API client: one shared session, reconnects with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import contextlib
from dataclasses import dataclass
from datetime import datetime
import errno
import itertools
import logging
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp.abc import ResolveResult

from . import net
from .core import units
from .timestamps import iso_utc_offset

_LOGGER = logging.getLogger(__name__)

STATISTIC_TYPES = ("state", "sum", "mean", "min", "max", "last_reset", "change")
# Ask HA to convert statistics into the units Energy Tracker stores (units.py).
STATISTIC_UNITS = {
    "energy": units.CANONICAL_UNIT[units.ENERGY],
    "power": units.CANONICAL_UNIT[units.POWER],
    "volume": units.CANONICAL_UNIT[units.GAS],
}


class HAError(Exception):
    """Home Assistant could not answer a command."""


class HAConnectionError(HAError):
    """Home Assistant is unreachable."""


class HAAuthError(HAError):
    """Home Assistant refused the access token."""


class HACommandError(HAError):
    """Home Assistant answered a command with an error."""

    def __init__(self, code: str, message: str) -> None:
        """Keep HA's error code."""
        super().__init__(f"{code}: {message}")
        self.code = code


def websocket_url(base_url: str) -> str:
    """Turn HA's base URL (http[s]://host:port[/]) into its WebSocket URL."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ValueError("the Home Assistant URL must be http(s)://host[:port]")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    if not path.endswith("/api/websocket"):
        path += "/api/websocket"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class HAClient:
    """A client of HA's WebSocket API; commands may run concurrently."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        session: aiohttp.ClientSession | None = None,
        request_timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        """Remember where HA is; connect lazily on the first command."""
        self.url = url
        self._ws_url = websocket_url(url)
        self._token = token
        self._own_session = session is None
        self._session = session
        self._request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._closed = False
        self.ha_version: str | None = None
        self.last_error: str | None = None

    def __repr__(self) -> str:
        """Never show the token."""
        return f"HAClient(url={self.url!r}, connected={self.connected})"

    @property
    def connected(self) -> bool:
        """Whether the WebSocket is open and authenticated."""
        return self._ws is not None and not self._ws.closed

    async def connect(self) -> None:
        """Open and authenticate the WebSocket (no-op when already connected)."""
        async with self._lock:
            if self.connected:
                return
            if self._closed:
                raise HAConnectionError("client closed")
            if self._session is None or self._session.closed:
                self._session = net.session()
                self._own_session = True
            try:
                async with asyncio.timeout(self._connect_timeout):
                    ws = await self._session.ws_connect(
                        self._ws_url, max_msg_size=0, heartbeat=30
                    )
                    try:
                        await self._authenticate(ws)
                    except BaseException:
                        await ws.close()
                        raise
            except HAAuthError as err:
                self.last_error = str(err)
                raise
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as err:
                self.last_error = f"cannot connect: {type(err).__name__}"
                raise HAConnectionError(self.last_error) from err
            self._ws = ws
            self.last_error = None
            self._reader = asyncio.create_task(self._read(ws), name="ha-ws-reader")

    async def _authenticate(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        hello = await ws.receive_json()
        if hello.get("type") != "auth_required":
            raise HAConnectionError(f"unexpected greeting {hello.get('type')!r}")
        await ws.send_json({"type": "auth", "access_token": self._token})
        answer = await ws.receive_json()
        if answer.get("type") != "auth_ok":
            raise HAAuthError("Home Assistant refused the access token")
        self.ha_version = answer.get("ha_version")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Dispatch results to the waiting commands until the socket closes."""
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                data = message.json()
                for item in data if isinstance(data, list) else [data]:
                    future = self._pending.pop(item.get("id", -1), None)
                    if future is not None and not future.done():
                        future.set_result(item)
        except (aiohttp.ClientError, ValueError) as err:
            self.last_error = f"connection lost: {type(err).__name__}"
        finally:
            if self._ws is ws:
                self._ws = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(HAConnectionError("connection lost"))
            self._pending.clear()

    async def _send_once(self, payload: dict[str, Any]) -> Any:
        await self.connect()
        ws = self._ws
        if ws is None:
            raise HAConnectionError("connection lost")
        message_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            await ws.send_json({**payload, "id": message_id})
            async with asyncio.timeout(self._request_timeout):
                answer = await future
        except (aiohttp.ClientError, ConnectionError) as err:
            raise HAConnectionError(f"send failed: {type(err).__name__}") from err
        except TimeoutError as err:
            raise HAConnectionError(f"{payload['type']} timed out") from err
        finally:
            self._pending.pop(message_id, None)
        if answer.get("type") == "pong":
            return None
        if not answer.get("success", False):
            error = answer.get("error") or {}
            raise HACommandError(
                str(error.get("code", "unknown")), str(error.get("message", ""))
            )
        return answer.get("result")

    async def command(self, payload: dict[str, Any]) -> Any:
        """Send one command and return its result, reconnecting with backoff."""
        for attempt in range(self._max_attempts):
            try:
                return await self._send_once(payload)
            except HAConnectionError:
                if attempt + 1 >= self._max_attempts:
                    raise
            delay = min(self._backoff_max, self._backoff_base * 2**attempt)
            _LOGGER.debug("HA unreachable, retrying in %.1fs", delay)
            await asyncio.sleep(delay)
        raise HAConnectionError("unreachable")  # pragma: no cover - loop always returns

    async def ping(self) -> bool:
        """Return True when HA answers a ping."""
        try:
            await self._send_once({"type": "ping"})
        except HAError:
            return False
        return True

    async def get_config(self) -> dict[str, Any]:
        """HA's core configuration (time zone, units, version)."""
        result: dict[str, Any] = await self.command({"type": "get_config"})
        return result

    async def get_states(self) -> list[dict[str, Any]]:
        """Every entity's current state."""
        result: list[dict[str, Any]] = await self.command({"type": "get_states"})
        return result

    async def get_statistics_metadata(
        self, statistic_ids: Iterable[str]
    ) -> list[dict[str, Any]]:
        """The recorder's metadata (unit, unit class, has_sum, name) of these statistics."""
        result: list[dict[str, Any]] = await self.command(
            {
                "type": "recorder/get_statistics_metadata",
                "statistic_ids": list(statistic_ids),
            }
        )
        return result

    async def statistics_during_period(
        self,
        start: datetime,
        end: datetime,
        statistic_ids: Iterable[str],
        period: str = "hour",
        types: Iterable[str] = STATISTIC_TYPES,
    ) -> dict[str, list[dict[str, Any]]]:
        """Long-term statistics, converted to the stored units; times in ms since epoch."""
        result: dict[str, list[dict[str, Any]]] = await self.command(
            {
                "type": "recorder/statistics_during_period",
                "start_time": iso_utc_offset(start),
                "end_time": iso_utc_offset(end),
                "statistic_ids": list(statistic_ids),
                "period": period,
                "types": list(types),
                "units": STATISTIC_UNITS,
            }
        )
        return result

    async def history_during_period(
        self, start: datetime, end: datetime, entity_ids: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Every recorded state change (compressed: s, a, lu/lc in seconds)."""
        result: dict[str, list[dict[str, Any]]] = await self.command(
            {
                "type": "history/history_during_period",
                "start_time": iso_utc_offset(start),
                "end_time": iso_utc_offset(end),
                "entity_ids": list(entity_ids),
                "include_start_time_state": False,
                "significant_changes_only": False,
                "minimal_response": False,
                "no_attributes": False,
            }
        )
        return result

    async def close(self) -> None:
        """Close the socket, the reader and (when owned) the session."""
        self._closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None


# -- the connection test of Settings → Home Assistant ----------------------------------

CHECK_TIMEOUT = 10.0
FIELD_URL = "ha_url"
FIELD_TOKEN = "ha_token"  # noqa: S105 - the name of a form field


class HACheckError(HAError):
    """The connection test failed: a stable code, the field to fix, what to do."""

    def __init__(self, code: str, field: str, message: str) -> None:
        """Keep the code, the field (ha_url or ha_token) and a message safe to show."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.field = field
        self.message = message


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


def _where(url: str) -> tuple[str, str]:
    """(host, host:port) of an http(s) URL, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or url
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    shown = f"[{host}]" if ":" in host else host
    return host, f"{shown}:{port}"


def _os_error(err: BaseException) -> OSError | None:
    """The OSError under an aiohttp connector error, if any."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and not isinstance(seen, aiohttp.ClientError):
            return seen
        inner = getattr(seen, "os_error", None)
        if isinstance(inner, OSError) and inner is not seen:
            seen = inner
            continue
        seen = seen.__cause__ or seen.__context__
    return None


def _tls_problem(err: BaseException, url: str, where: str) -> HACheckError:
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        reason = getattr(err.certificate_error, "verify_message", None) or str(
            err.certificate_error
        )
        return HACheckError(
            "ha_tls_error",
            FIELD_URL,
            f"The TLS certificate of {where} is not trusted ({reason}). Home "
            "Assistant's certificate must be valid for this host name and signed by "
            "an authority the companion trusts; a self-signed certificate is not. "
            "Use the address the certificate is for, or Home Assistant's plain "
            "http:// address on your network.",
        )
    ssl_error = _os_error(err)
    reason = getattr(ssl_error, "reason", None) or type(ssl_error or err).__name__
    if reason in (
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
    ):
        hint = (
            f"{where} does not speak TLS: it is probably a plain HTTP port. "
            f"Try {url.replace('https://', 'http://', 1)}"
        )
    else:
        hint = f"TLS with {where} failed ({reason}). Check that the port serves HTTPS"
    return HACheckError("ha_tls_error", FIELD_URL, hint + ".")


def _connect_problem(err: aiohttp.ClientConnectorError, url: str) -> HACheckError:
    host, where = _where(url)
    if isinstance(err, aiohttp.ClientSSLError):
        return _tls_problem(err, url, where)
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        local = host.endswith(".local")
        return HACheckError(
            "ha_dns_failed",
            FIELD_URL,
            f"The host name {host!r} does not resolve: check its spelling, or use "
            "Home Assistant's IP address instead"
            + (
                " (.local names need mDNS, which a container usually does not have)."
                if local
                else "."
            ),
        )
    os_error = _os_error(err)
    number = getattr(os_error, "errno", None)
    if urlsplit(url).scheme == "https" and (
        isinstance(os_error, (ConnectionResetError, ConnectionAbortedError))
        or number in (errno.ECONNRESET, errno.ECONNABORTED)
    ):  # the port took the connection, then dropped the TLS greeting
        return HACheckError(
            "ha_tls_error",
            FIELD_URL,
            f"{where} hung up on the TLS handshake: it is probably a plain HTTP "
            f"port. Try {url.replace('https://', 'http://', 1)}.",
        )
    if isinstance(os_error, ConnectionRefusedError) or number == errno.ECONNREFUSED:
        return HACheckError(
            "ha_connection_refused",
            FIELD_URL,
            f"Nothing accepts connections at {where}: check the port (Home Assistant "
            "listens on 8123 unless configured otherwise) and that Home Assistant "
            "is running.",
        )
    reason = getattr(os_error, "strerror", None) or type(os_error or err).__name__
    return HACheckError(
        "ha_unreachable",
        FIELD_URL,
        f"{where} cannot be reached ({reason}): check the address, and that the "
        "companion's network can reach Home Assistant's.",
    )


def _handshake_problem(err: aiohttp.WSServerHandshakeError, url: str) -> HACheckError:
    _, where = _where(url)
    status = err.status
    if status in (401, 403):
        return HACheckError(
            "ha_access_denied",
            FIELD_URL,
            f"The server at {where} refused access with HTTP {status} before the "
            "token could be checked. If a proxy in front of Home Assistant asks for "
            "its own login, let the companion reach Home Assistant without it; if "
            "Home Assistant banned the companion's address after failed logins, "
            "remove it from ip_bans.yaml and restart Home Assistant.",
        )
    if status >= 500:
        return HACheckError(
            "ha_unreachable",
            FIELD_URL,
            f"The server at {where} answered HTTP {status}: a proxy whose Home "
            "Assistant is down or still starting? Try again when Home Assistant is up.",
        )
    path = urlsplit(url).path.rstrip("/")
    return HACheckError(
        "ha_not_home_assistant",
        FIELD_URL,
        f"The server at {where} answered HTTP {status} at /api/websocket: it is not "
        "Home Assistant"
        + (
            f". Use Home Assistant's base address, without the path {path!r}."
            if path and path != "/api/websocket"
            else ". Check the host and port (Home Assistant listens on 8123 unless "
            "configured otherwise)."
        ),
    )


def _not_home_assistant(url: str, what: str) -> HACheckError:
    _, where = _where(url)
    return HACheckError(
        "ha_not_home_assistant",
        FIELD_URL,
        f"The server at {where} {what}, which Home Assistant never does: it is not "
        "Home Assistant. Check the host and port (Home Assistant listens on 8123 "
        "unless configured otherwise).",
    )


async def _receive_json(ws: aiohttp.ClientWebSocketResponse, url: str) -> Any:
    message = await ws.receive()
    if message.type != aiohttp.WSMsgType.TEXT:
        raise _not_home_assistant(url, "did not greet over its WebSocket")
    try:
        return message.json()
    except ValueError:
        raise _not_home_assistant(
            url, "sent a WebSocket message that is not JSON"
        ) from None


async def _test_session(
    session: aiohttp.ClientSession, url: str, token: str
) -> str | None:
    async with session.ws_connect(websocket_url(url), heartbeat=None) as ws:
        hello = await _receive_json(ws, url)
        if not isinstance(hello, dict) or hello.get("type") != "auth_required":
            raise _not_home_assistant(url, "did not ask for authentication")
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
            raise _not_home_assistant(url, "answered the login with something else")
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
    host, where = _where(url)
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
        raise _handshake_problem(err, url) from None
    except aiohttp.ClientConnectorError as err:
        raise _connect_problem(err, url) from None
    except ssl.SSLError as err:  # TLS failing after the connection was made
        raise _tls_problem(err, url, where) from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
        raise HACheckError(
            "ha_connection_closed",
            FIELD_URL,
            f"{where} closed the connection without an HTTP answer. A server that "
            "expects HTTPS does this when asked over http://: if Home Assistant uses "
            f"HTTPS, use {url.replace('http://', 'https://', 1)}.",
        ) from None
    except aiohttp.ClientResponseError as err:  # a reply that is not valid HTTP
        raise _not_home_assistant(
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
