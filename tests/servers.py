"""Addresses of the real servers the tests run against, and helpers to use them.

The servers are started once per run by `scripts/services` (from `make test`, or by
the session fixture in conftest when they are not up yet). A test that needs one
fails when it is missing; it never skips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
import json
import os
from pathlib import Path
import socket
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

REPO = Path(__file__).resolve().parent.parent
SERVICES_SCRIPT = REPO / "scripts" / "services"


@dataclass(frozen=True, slots=True)
class Servers:
    """Loopback addresses of QuestDB and the MongoDB-wire server."""

    questdb_http_port: int
    questdb_pg_port: int
    mongodb_port: int

    @classmethod
    def from_env(cls) -> Servers:
        """Read the ports the same way scripts/services does."""
        return cls(
            questdb_http_port=int(os.environ.get("QUESTDB_HTTP_PORT", "9000")),
            questdb_pg_port=int(os.environ.get("QUESTDB_PG_PORT", "8812")),
            mongodb_port=int(os.environ.get("MONGODB_PORT", "27017")),
        )

    @property
    def questdb_url(self) -> str:
        """QuestDB's HTTP base URL (pytest-socket only lets 127.0.0.1 through)."""
        return f"http://127.0.0.1:{self.questdb_http_port}"

    @property
    def mongodb_uri(self) -> str:
        """MongoDB connection URI."""
        return f"mongodb://127.0.0.1:{self.mongodb_port}/"


def questdb_sql(servers: Servers, sql: str, timeout: float = 10) -> dict[str, Any]:
    """Run SQL through QuestDB's HTTP /exec (blocking; for test set-up and checks)."""
    url = f"{servers.questdb_url}/exec?" + urllib.parse.urlencode({"query": sql})
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback test server
            body: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as err:
        body = json.load(err)
    if "error" in body:
        raise AssertionError(f"QuestDB rejected {sql!r}: {body['error']}")
    return body


def questdb_rows(servers: Servers, sql: str) -> list[list[Any]]:
    """Return the dataset of a query."""
    dataset: list[list[Any]] = questdb_sql(servers, sql)["dataset"]
    return dataset


async def wait_for_rows(
    servers: Servers, sql: str, expected: int, timeout: float = 30
) -> Sequence[list[Any]]:
    """Poll until a query returns `expected` rows (WAL tables apply asynchronously)."""
    deadline = time.monotonic() + timeout
    rows: Sequence[list[Any]] = []
    while time.monotonic() < deadline:
        rows = await asyncio.to_thread(questdb_rows, servers, sql)
        if len(rows) >= expected:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"expected {expected} rows from {sql!r} within {timeout}s, got {len(rows)}"
    )


def free_port() -> int:
    """A TCP port nobody listens on right now (several test runs may share the host)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
