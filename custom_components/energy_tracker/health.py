"""The forwarder's counters and database statuses, its repair issues and the sensors' signal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import time
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .const import (
    DOMAIN,
    DOWN_ISSUE_AFTER,
    ISSUE_MONGODB_DOWN,
    ISSUE_QUESTDB_DOWN,
    ISSUE_ROWS_REJECTED,
    ISSUE_SPOOL_NEARLY_FULL,
    LOGGER,
    SENSOR_UPDATE_INTERVAL,
    SIGNAL_UPDATED,
    SPOOL_ISSUE_RATIO,
    STATUS_AUTH_FAILED,
    STATUS_OK,
    STATUS_STARTING,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from .spool import Spool


@dataclass(slots=True)
class DatabaseHealth:
    """How one database was when the forwarder last used it."""

    name: str
    """As the log names it."""
    while_down: str
    """What happens meanwhile, said with "<name> is unavailable"."""
    while_auth_failed: str
    """What happens meanwhile, said with "<name> rejected the credentials"."""
    status: str = STATUS_STARTING
    down_since: float | None = None
    reported_down: bool = False
    """Whether a line said it went; the next STATUS_OK then says it is back."""


def _questdb_health() -> DatabaseHealth:
    return DatabaseHealth(
        "QuestDB",
        while_down="readings go to the spool",
        while_auth_failed="readings go to the spool",
    )


def _mongodb_health() -> DatabaseHealth:
    return DatabaseHealth(
        "MongoDB",
        while_down="heartbeat and entity updates are retried",
        while_auth_failed="readings still go to QuestDB, entity updates and the "
        "heartbeat wait for new credentials",
    )


@dataclass(slots=True)
class ForwarderStats:
    """Counters and health of one forwarder (read by sensors, diagnostics, heartbeat)."""

    rows_forwarded: int = 0
    rows_spooled: int = 0
    rows_rejected: int = 0
    rows_dropped: int = 0
    states_skipped: int = 0
    events_received: int = 0
    last_write_at: datetime | None = None
    last_event_at: datetime | None = None
    questdb: DatabaseHealth = field(default_factory=_questdb_health)
    mongodb: DatabaseHealth = field(default_factory=_mongodb_health)

    @property
    def questdb_status(self) -> str:
        """QuestDB's status (STATUS_*)."""
        return self.questdb.status

    @property
    def mongodb_status(self) -> str:
        """MongoDB's status (STATUS_*)."""
        return self.mongodb.status

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as plain values."""
        return {
            "rows_forwarded": self.rows_forwarded,
            "rows_spooled": self.rows_spooled,
            "rows_rejected": self.rows_rejected,
            "rows_dropped": self.rows_dropped,
            "states_skipped": self.states_skipped,
            "events_received": self.events_received,
        }


class Health:
    """Say when a database goes and comes back, raise repair issues, tell the sensors."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        stats: ForwarderStats,
        spool: Spool,
    ) -> None:
        """Report for one entry; nothing is raised or sent until something changes."""
        self.hass = hass
        self.entry = entry
        self.stats = stats
        self.spool = spool
        self._issues: set[str] = set()
        self._last_statuses: tuple[str, str] = ("", "")
        self._last_counters: tuple[Any, ...] = ()
        self._last_signal_at = -SENSOR_UPDATE_INTERVAL

    def set_status(self, health: DatabaseHealth, status: str) -> None:
        """Set one database's status; log once that it went and once that it is back."""
        # Both at WARNING, the level HA logs by default: a user who saw the first
        # line sees the second, also when it went while the entry was starting.
        if status == health.status:
            return
        health.status = status
        if status == STATUS_OK:
            health.down_since = None
            if health.reported_down:
                health.reported_down = False
                spooled = self.spool.rows if health is self.stats.questdb else 0
                LOGGER.warning(
                    "%s is available again%s",
                    health.name,
                    f"; writing the {spooled} spooled reading(s)" if spooled else "",
                )
            return
        if health.down_since is None:
            health.down_since = time.monotonic()
        if status == STATUS_AUTH_FAILED:
            LOGGER.error(
                "%s rejected the credentials; %s", health.name, health.while_auth_failed
            )
            # HA starts at most one re-authentication flow per entry.
            self.entry.async_start_reauth(self.hass)
        elif not health.reported_down:
            LOGGER.warning("%s is unavailable; %s", health.name, health.while_down)
        health.reported_down = True

    @callback
    def async_update(self) -> None:
        """Raise or clear repair issues and tell the sensors when something changed."""
        stats = self.stats
        now = time.monotonic()
        ratio = self.spool.bytes / self.spool.max_bytes if self.spool.max_bytes else 0
        self.set_issue(
            ISSUE_SPOOL_NEARLY_FULL,
            ratio > SPOOL_ISSUE_RATIO,
            ir.IssueSeverity.WARNING,
            {"percent": f"{ratio * 100:.0f}", "path": str(self.spool.directory)},
        )
        for issue, since in (
            (ISSUE_QUESTDB_DOWN, stats.questdb.down_since),
            (ISSUE_MONGODB_DOWN, stats.mongodb.down_since),
        ):
            self.set_issue(
                issue,
                since is not None and now - since > DOWN_ISSUE_AFTER,
                ir.IssueSeverity.ERROR,
                {"minutes": f"{(now - since) / 60:.0f}" if since else "0"},
            )
        # Statuses are shown at once; counters at most every SENSOR_UPDATE_INTERVAL,
        # so the recorder does not store a new row for them every second.
        statuses = (stats.questdb_status, stats.mongodb_status)
        counters = (stats.rows_forwarded, self.spool.rows, stats.last_write_at)
        if statuses != self._last_statuses or (
            counters != self._last_counters
            and now - self._last_signal_at >= SENSOR_UPDATE_INTERVAL
        ):
            self._last_statuses = statuses
            self._last_counters = counters
            self._last_signal_at = now
            async_dispatcher_send(self.hass, SIGNAL_UPDATED.format(self.entry.entry_id))

    def set_issue(
        self,
        key: str,
        active: bool,
        severity: ir.IssueSeverity,
        placeholders: dict[str, str],
    ) -> None:
        """Create or delete one repair issue of this entry."""
        issue_id = f"{key}_{self.entry.entry_id}"
        if active and (key == ISSUE_ROWS_REJECTED or issue_id not in self._issues):
            self._issues.add(issue_id)
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                is_persistent=False,
                severity=severity,
                translation_key=key,
                translation_placeholders={"title": self.entry.title, **placeholders},
            )
        elif not active and issue_id in self._issues and key != ISSUE_ROWS_REJECTED:
            self._issues.discard(issue_id)
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    @callback
    def async_remove_issues(self) -> None:
        """Delete every repair issue of this entry (on unload)."""
        for issue_id in self._issues:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self._issues.clear()
