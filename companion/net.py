"""HTTP client sessions that resolve host names as the operating system does.

aiohttp's default resolver is aiodns whenever that happens to be installed (it is
in Home Assistant's environment, the dev venv, but not in the Docker image), so the
same companion would resolve names differently in each. Every session of the
companion uses the system's getaddrinfo instead: /etc/hosts, search domains,
Docker's DNS and mDNS (where the system resolves .local) work alike everywhere.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver


def connector(resolver: AbstractResolver | None = None) -> aiohttp.TCPConnector:
    """A connector using the system resolver (or the one given)."""
    return aiohttp.TCPConnector(resolver=resolver or aiohttp.ThreadedResolver())


def session(
    resolver: AbstractResolver | None = None, **options: Any
) -> aiohttp.ClientSession:
    """A client session on `connector()`; `options` go to ClientSession."""
    return aiohttp.ClientSession(connector=connector(resolver), **options)
