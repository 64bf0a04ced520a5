"""Diagnostics of an Energy Tracker entry, with every secret redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import (
    CONF_MONGODB_URI,
    CONF_QUESTDB_PASSWORD,
    CONF_QUESTDB_TOKEN,
    CONF_QUESTDB_USERNAME,
)
from .models import EnergyTrackerConfigEntry

TO_REDACT = {
    CONF_QUESTDB_USERNAME,
    CONF_QUESTDB_PASSWORD,
    CONF_QUESTDB_TOKEN,
    CONF_MONGODB_URI,
    "unique_id",
    "title",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EnergyTrackerConfigEntry
) -> dict[str, Any]:
    """Return the entry's settings (redacted) and the forwarder's health."""
    forwarder = entry.runtime_data.forwarder
    stats = forwarder.stats
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "forwarder": {
            **stats.as_dict(),
            "questdb_status": stats.questdb_status,
            "mongodb_status": stats.mongodb_status,
            "last_write_at": stats.last_write_at,
            "last_event_at": stats.last_event_at,
            "buffered": forwarder.buffered,
            "tracked_entities": sorted(
                entity_id
                for entity_id, tracked in forwarder.tracked_decisions().items()
                if tracked
            ),
        },
        "spool": {
            "segments": len(forwarder.spool),
            "rows": forwarder.spool.rows,
            "bytes": forwarder.spool.bytes,
            "max_bytes": forwarder.spool.max_bytes,
        },
    }
