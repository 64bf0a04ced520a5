"""One shared, authenticated WebSocket to Home Assistant; commands reconnect with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from companion import net

from .errors import HAAuthError, HACommandError, HAConnectionError, HAError

_LOGGER = logging.getLogger(__name__)


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


class HAConnection:
    """A connection to HA's WebSocket API; commands may run concurrently."""

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
        return f"{type(self).__name__}(url={self.url!r}, connected={self.connected})"

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
