"""QuestDB over HTTP: ILP writes to /write and SQL through /exec, with specific errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from .const import REQUEST_TIMEOUT
from .errors import CannotConnect, InvalidAuth, InvalidUri, RowsRejected


def validate_questdb_url(url: str) -> str:
    """Return the URL without a trailing slash, or raise InvalidUri."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise InvalidUri(str(err)) from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidUri("QuestDB address must be http(s)://host[:port]")
    if parts.query or parts.fragment or port == 0:
        raise InvalidUri("QuestDB address must not have a query")
    return url.strip().rstrip("/")


class QuestDBHttp:
    """A small async client of QuestDB's HTTP endpoints."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        """Keep the address and credentials; nothing is sent yet."""
        base = URL(validate_questdb_url(url))
        self._write_url = base / "write" % {"precision": "n"}
        self._exec_url = base / "exec"
        self._session = session
        self._headers: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        elif username:
            self._headers["Authorization"] = aiohttp.BasicAuth(
                username, password or ""
            ).encode()
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=5)

    async def execute(self, sql: str) -> dict[str, Any]:
        """Run one SQL statement; raise CannotConnect, InvalidAuth or RowsRejected."""
        try:
            async with self._session.get(
                self._exec_url,
                params={"query": sql},
                headers=self._headers,
                timeout=self._timeout,
            ) as response:
                if response.status in (401, 403):
                    raise InvalidAuth(f"QuestDB answered HTTP {response.status}")
                try:
                    body: dict[str, Any] = await response.json(content_type=None)
                except ValueError as err:
                    raise CannotConnect(
                        f"QuestDB answered HTTP {response.status} without JSON"
                    ) from err
                if response.status >= 500:
                    raise CannotConnect(f"QuestDB answered HTTP {response.status}")
                if "error" in body:
                    raise RowsRejected(str(body["error"]), None)
                return body
        except (aiohttp.ClientError, TimeoutError, asyncio.CancelledError) as err:
            if isinstance(err, asyncio.CancelledError):
                raise
            raise CannotConnect(f"QuestDB: {type(err).__name__}") from err

    async def suspended_tables(self) -> dict[str, str]:
        """Return the WAL tables and views QuestDB suspended, each with the reason it gives.

        A suspended table still accepts writes, but applies none of them: queries
        do not see those rows until `ALTER TABLE … RESUME WAL`.
        """
        body = await self.execute("select * from wal_tables() where suspended")
        columns = [str(column.get("name")) for column in body.get("columns", [])]
        suspended: dict[str, str] = {}
        for row in body.get("dataset", []):
            fields = dict(zip(columns, row, strict=False))
            reason = " ".join(
                str(fields[key])
                for key in ("errorTag", "errorMessage")
                if fields.get(key)
            )
            suspended[str(fields.get("name"))] = reason or "no reason given"
        return suspended

    async def write(self, payload: bytes) -> None:
        """Send ILP lines; raise CannotConnect, InvalidAuth or RowsRejected."""
        try:
            async with self._session.post(
                self._write_url,
                data=payload,
                headers=self._headers,
                timeout=self._timeout,
            ) as response:
                if response.status in (200, 204):
                    return
                if response.status in (401, 403):
                    raise InvalidAuth(f"QuestDB answered HTTP {response.status}")
                text = await response.text()
        except aiohttp.ClientError as err:
            raise CannotConnect(f"QuestDB: {type(err).__name__}") from err
        except TimeoutError as err:
            raise CannotConnect("QuestDB: timeout") from err
        if response.status == 400:
            line: int | None = None
            message = text
            try:
                body = _json(text)
                message = str(body.get("message", text))
                raw_line = body.get("line")
                line = int(raw_line) if raw_line is not None else None
            except ValueError:
                pass
            raise RowsRejected(message, line)
        raise CannotConnect(f"QuestDB answered HTTP {response.status}")


def _json(text: str) -> dict[str, Any]:
    """Parse a JSON object (raise ValueError when it is not one)."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not an object")  # noqa: TRY004 - ValueError is the contract
    return value
