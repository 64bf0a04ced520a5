"""Home Assistant's WebSocket API: the client the companion uses, and the connection test.

`connection` holds the shared socket (authentication, concurrent commands, reconnects
with backoff), `client` the commands the companion sends, `check` the one-off
connection test of Settings → Home Assistant and `check_errors` its failures,
classified so the user knows which field to fix.
"""

from __future__ import annotations

from .check import CHECK_TIMEOUT, check_connection
from .check_errors import FIELD_TOKEN, FIELD_URL, HACheckError
from .client import STATISTIC_TYPES, STATISTIC_UNITS, HAClient
from .connection import HAConnection, websocket_url
from .errors import HAAuthError, HACommandError, HAConnectionError, HAError

__all__ = [
    "CHECK_TIMEOUT",
    "FIELD_TOKEN",
    "FIELD_URL",
    "STATISTIC_TYPES",
    "STATISTIC_UNITS",
    "HAAuthError",
    "HACheckError",
    "HAClient",
    "HACommandError",
    "HAConnection",
    "HAConnectionError",
    "HAError",
    "check_connection",
    "websocket_url",
]
