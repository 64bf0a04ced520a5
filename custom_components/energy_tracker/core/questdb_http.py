"""QuestDB over HTTP: ILP writes to /write and SQL through /exec, with one set of errors.

The integration gives it Home Assistant's client session, the companion its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import orjson
from yarl import URL

DEFAULT_TIMEOUT: Final = 30.0
"""Seconds a request may take in all."""
_CONNECT_TIMEOUT: Final = 5.0


class QuestDBError(Exception):
    """QuestDB refused a request or could not be reached."""


class QuestDBUnreachableError(QuestDBError):
    """QuestDB cannot be reached, or answered as a server in trouble does."""


class QuestDBAuthError(QuestDBError):
    """QuestDB rejected the credentials."""


class QuestDBUrlError(QuestDBError, ValueError):
    """The QuestDB address is malformed."""


class QuestDBRefusedError(QuestDBError):
    """QuestDB answered, and refused a statement or rows for their content."""

    def __init__(self, message: str) -> None:
        """Keep the server's message."""
        super().__init__(message)
        self.message = message


class QuestDBRowsRejectedError(QuestDBRefusedError):
    """QuestDB refused ILP rows; `line` is the 1-based number of the bad line."""

    def __init__(self, message: str, line: int | None) -> None:
        """Keep the server's message and the number of the bad line."""
        super().__init__(message)
        self.line = line


def validate_questdb_url(url: str) -> str:
    """Return the URL without a trailing slash, or raise QuestDBUrlError."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise QuestDBUrlError(str(err)) from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise QuestDBUrlError("QuestDB address must be http(s)://host[:port]")
    if parts.query or parts.fragment or port == 0:
        raise QuestDBUrlError("QuestDB address must not have a query")
    return url.strip().rstrip("/")


class QuestDBHttp:
    """An async client of QuestDB's HTTP endpoints on a caller's session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        write_timeout: float | None = None,
    ) -> None:
        """Keep the address and credentials; nothing is sent yet.

        `write_timeout` bounds a write (default: `timeout`); a streamed backfill
        request takes longer than a query.
        """
        self.url = validate_questdb_url(url)
        base = URL(self.url)
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
        self._timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=_CONNECT_TIMEOUT
        )
        self._write_timeout = aiohttp.ClientTimeout(
            total=write_timeout or timeout, sock_connect=_CONNECT_TIMEOUT
        )

    def _unreachable(self, err: BaseException) -> QuestDBUnreachableError:
        return QuestDBUnreachableError(
            f"QuestDB at {self.url} is unreachable: {type(err).__name__} {err}".strip()
        )

    async def execute_raw(self, sql: str) -> bytes:
        """Run one SQL statement; return QuestDB's JSON answer unparsed.

        Raise QuestDBUnreachableError, QuestDBAuthError or QuestDBRefusedError; the body
        of a successful answer is not checked.
        """
        try:
            async with self._session.get(
                self._exec_url,
                params={"query": sql},
                headers=self._headers,
                timeout=self._timeout,
            ) as response:
                status = response.status
                if status in (401, 403):
                    raise QuestDBAuthError(f"QuestDB answered HTTP {status}")
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise self._unreachable(err) from err
        if status == 200:
            return body
        error = _error_of(body) if status < 500 else None
        if error is None:
            raise QuestDBUnreachableError(f"QuestDB answered HTTP {status}")
        raise QuestDBRefusedError(error)

    async def execute(self, sql: str) -> dict[str, Any]:
        """Run one SQL statement and return QuestDB's JSON answer.

        Raise QuestDBUnreachableError, QuestDBAuthError or QuestDBRefusedError.
        """
        body = await self.execute_raw(sql)
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise QuestDBUnreachableError("QuestDB answered without JSON") from err
        if not isinstance(answer, dict):
            raise QuestDBUnreachableError("QuestDB answered without a JSON object")
        if "error" in answer:
            raise QuestDBRefusedError(str(answer["error"]))
        return answer

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

    async def write(self, body: bytes | AsyncIterable[bytes]) -> None:
        """Send ILP lines (one request is one transaction).

        An async iterable body is streamed (chunked): QuestDB parses a piece while
        the next one is produced. Raise QuestDBUnreachableError, QuestDBAuthError or
        QuestDBRowsRejectedError.
        """
        try:
            async with self._session.post(
                self._write_url,
                data=body,
                headers=self._headers,
                timeout=self._write_timeout,
            ) as response:
                status = response.status
                if status in (200, 204):
                    return
                if status in (401, 403):
                    raise QuestDBAuthError(f"QuestDB answered HTTP {status}")
                text = await response.read()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise self._unreachable(err) from err
        if status != 400:
            raise QuestDBUnreachableError(f"QuestDB answered HTTP {status}")
        message = text.decode(errors="replace")
        line: int | None = None
        try:
            answer = orjson.loads(text)
        except orjson.JSONDecodeError:
            answer = None
        if isinstance(answer, dict):
            message = str(answer.get("message", message))
            raw_line = answer.get("line")
            try:
                line = int(raw_line) if raw_line is not None else None
            except (TypeError, ValueError):
                line = None
        raise QuestDBRowsRejectedError(message, line)

    async def ping(self) -> bool:
        """Return whether QuestDB answers SQL."""
        try:
            await self.execute("select 1")
        except QuestDBError:
            return False
        return True


def _error_of(body: bytes) -> str | None:
    """Return the `error` of a JSON answer, if it has one."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(answer, dict) and "error" in answer:
        return str(answer["error"])
    return None
