"""Constants for the Energy Tracker integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "energy_tracker"
LOGGER = logging.getLogger(__package__)

CONF_QUESTDB_URL: Final = "questdb_url"
CONF_QUESTDB_USERNAME: Final = "questdb_username"
CONF_QUESTDB_PASSWORD: Final = "questdb_password"  # noqa: S105 - a key name, not a secret
CONF_QUESTDB_TOKEN: Final = "questdb_token"  # noqa: S105 - a key name, not a secret
CONF_VERIFY_SSL: Final = "verify_ssl"
CONF_MONGODB_URI: Final = "mongodb_uri"
CONF_MONGODB_DATABASE: Final = "mongodb_database"

CONF_INCLUDE_ENTITIES: Final = "include_entities"
CONF_EXCLUDE_ENTITIES: Final = "exclude_entities"
CONF_INCLUDE_GLOBS: Final = "include_globs"
CONF_EXCLUDE_GLOBS: Final = "exclude_globs"
CONF_SPOOL_MAX_MB: Final = "spool_max_mb"
CONF_PANEL_URL: Final = "dashboard_url"
"""The companion dashboard's address shown as an "Energy" sidebar panel (empty: none)."""

DEFAULT_MONGODB_DATABASE: Final = "energy_tracker"
DEFAULT_SPOOL_MAX_MB: Final = 256

FLUSH_INTERVAL: Final = 1.0
"""Seconds between two writes to QuestDB at most."""
MAX_BATCH_ROWS: Final = 50_000
"""A batch this large is written at once, without waiting for the interval."""
HEARTBEAT_INTERVAL: Final = 30.0
ENTITY_SYNC_INTERVAL: Final = 5.0
REQUEST_TIMEOUT: Final = 30.0
CONNECT_TEST_TIMEOUT: Final = 10.0
SETUP_CHECK_TIMEOUT: Final = 5.0
"""Seconds set-up waits for QuestDB to answer its credentials check; no answer by
then counts as down (set-up goes on, the writer finds out the rest)."""
MONGODB_CLOSE_TIMEOUT: Final = 5.0
"""Seconds an unload waits for the MongoDB client to close; the rest runs on its own."""
WAL_CHECK_INTERVAL: Final = 60.0
"""Seconds between two checks that QuestDB applies what is written to our tables."""
WAL_RECHECK_AFTER_RESUME: Final = 5.0
"""Seconds after resuming a suspended table before checking it stayed resumed."""
DOWN_ISSUE_AFTER: Final = 15 * 60.0
"""A database down this many seconds raises a repair issue."""
SPOOL_ISSUE_RATIO: Final = 0.8

ISSUE_SPOOL_NEARLY_FULL: Final = "spool_nearly_full"
ISSUE_QUESTDB_DOWN: Final = "questdb_down"
ISSUE_MONGODB_DOWN: Final = "mongodb_down"
ISSUE_ROWS_REJECTED: Final = "rows_rejected"

SERVICE_BACKFILL: Final = "backfill"
SERVICE_FLUSH: Final = "flush"
ATTR_ENTITY_IDS: Final = "entity_ids"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"

STATUS_OK: Final = "ok"
STATUS_DISCONNECTED: Final = "disconnected"
"""The database cannot be reached. Not "unavailable": that is Home Assistant's
reserved state, which would make the status sensor itself look unavailable."""
STATUS_AUTH_FAILED: Final = "auth_failed"
STATUS_STARTING: Final = "starting"

SENSOR_UPDATE_INTERVAL: Final = 10.0
"""Seconds between two updates of the counter sensors at most."""

SIGNAL_UPDATED: Final = f"{DOMAIN}_updated_{{}}"
"""Dispatcher signal sent after each write cycle; formatted with the entry id."""
