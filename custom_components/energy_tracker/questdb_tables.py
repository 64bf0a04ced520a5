"""Whether QuestDB takes readings: our tables created once, resumed when it suspends them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .const import (
    LOGGER,
    STATUS_AUTH_FAILED,
    STATUS_DISCONNECTED,
    STATUS_OK,
    WAL_CHECK_INTERVAL,
    WAL_RECHECK_AFTER_RESUME,
)
from .core.questdb_http import (
    QuestDBAuthError,
    QuestDBRefusedError,
    QuestDBUnreachableError,
)
from .core.schema import (
    READINGS_15M_VIEW,
    READINGS_TABLE,
    STATISTICS_TABLE,
    ensure_questdb_schema,
)

if TYPE_CHECKING:
    from .core.questdb_http import QuestDBHttp
    from .health import Health

# Ours, and how each is resumed once QuestDB suspended it.
_RESUME_WAL: dict[str, str] = {
    READINGS_TABLE: f"ALTER TABLE {READINGS_TABLE} RESUME WAL",
    STATISTICS_TABLE: f"ALTER TABLE {STATISTICS_TABLE} RESUME WAL",
    READINGS_15M_VIEW: f"ALTER MATERIALIZED VIEW {READINGS_15M_VIEW} RESUME WAL",
}


class QuestDBTables:
    """Create the tables before the first write and keep their WAL applied."""

    def __init__(self, questdb: QuestDBHttp, health: Health) -> None:
        """Check `questdb`, reporting its status to `health`."""
        self.questdb = questdb
        self.health = health
        self._schema_ready = False
        self._schema_refusal: str | None = None
        # Tables QuestDB suspended that the last WAL check resumed, and those that
        # stay suspended; when the next check is due (monotonic).
        self._wal_resumed: set[str] = set()
        self._wal_failing: set[str] = set()
        self._next_wal_check = 0.0

    def _set_status(self, status: str) -> None:
        """Set QuestDB's status."""
        self.health.set_status(self.health.stats.questdb, status)

    async def ready(self) -> bool:
        """Return whether readings can be written now: tables there, and applied."""
        # While QuestDB is usable this asks it nothing but every WAL_CHECK_INTERVAL;
        # otherwise the WAL check is the probe, at every flush (once resuming a
        # table failed, every WAL_CHECK_INTERVAL: the spool takes the readings).
        if not await self._ensure_schema():
            return False
        if time.monotonic() < self._next_wal_check and (
            self.health.stats.questdb.status == STATUS_OK or self._wal_failing
        ):
            return READINGS_TABLE not in self._wal_failing
        return await self._check_wal()

    async def _ensure_schema(self) -> bool:
        """Create the tables once (ILP would create them without dedup)."""
        if self._schema_ready:
            return True
        try:
            await ensure_questdb_schema(self.questdb.execute)
        except QuestDBAuthError:
            self._set_status(STATUS_AUTH_FAILED)
            return False
        except QuestDBRefusedError as err:
            # QuestDB answers but refuses a statement: a release without
            # materialized views, or a user who may not create tables. Said once
            # per message: it is retried every second.
            if err.message != self._schema_refusal:
                self._schema_refusal = err.message
                LOGGER.error(
                    "QuestDB refused to create the Energy Tracker tables: %s. "
                    "Readings go to the spool until it accepts (QuestDB 8.3.1 or "
                    "newer, and a user allowed to create tables and views)",
                    err.message,
                )
            self._set_status(STATUS_DISCONNECTED)
            return False
        except QuestDBUnreachableError:
            self._set_status(STATUS_DISCONNECTED)
            return False
        self._schema_ready = True
        self._schema_refusal = None
        return True

    async def _check_wal(self) -> bool:
        """Resume our tables if QuestDB suspended them; return whether readings are applied."""
        # QuestDB suspends a WAL table when applying a transaction fails (a crash,
        # a full disk): the table still accepts writes but no query sees them until
        # it is resumed. Resumed here at once. A table that stays suspended (the
        # resume refused, or suspended again by the next check) is said at ERROR;
        # while it is energy_readings, QuestDB counts as unavailable and readings
        # wait in the spool, so nothing reports success for rows nobody can read.
        now = time.monotonic()
        self._next_wal_check = now + WAL_CHECK_INTERVAL
        try:
            failing = await self._resume_suspended()
        except QuestDBAuthError:
            self._set_status(STATUS_AUTH_FAILED)
            return False
        except QuestDBUnreachableError:
            self._set_status(STATUS_DISCONNECTED)
            return False
        if self._wal_resumed:
            self._next_wal_check = now + WAL_RECHECK_AFTER_RESUME
        for name, reason in failing.items():
            if name not in self._wal_failing:
                LOGGER.error(
                    "QuestDB keeps %s suspended (%s): what is written to it stays "
                    "invisible%s. Fix the cause QuestDB logs, then run %s (tried "
                    "here every %.0f s)",
                    name,
                    reason,
                    "; readings wait in the spool" if name == READINGS_TABLE else "",
                    _RESUME_WAL[name],
                    WAL_CHECK_INTERVAL,
                )
        for name in self._wal_failing - failing.keys():
            LOGGER.warning("QuestDB applies what is written to %s again", name)
        self._wal_failing = set(failing)
        applied = READINGS_TABLE not in failing
        self._set_status(STATUS_OK if applied else STATUS_DISCONNECTED)
        return applied

    async def _resume_suspended(self) -> dict[str, str]:
        """Resume what QuestDB suspended of ours; return what stays suspended, with why."""
        try:
            suspended = await self.questdb.suspended_tables()
        except QuestDBRefusedError as err:
            # wal_tables() refused (a user without the right): nothing to check.
            LOGGER.debug("QuestDB refused wal_tables(): %s", err.message)
            suspended = {}
        resumed: set[str] = set()
        failing: dict[str, str] = {}
        for name, reason in suspended.items():
            if name not in _RESUME_WAL:
                continue
            if await self._resume_wal(name, reason):
                resumed.add(name)
            # Refused, or suspended again since the last check resumed it
            # (resuming it once more is harmless, but it is failing).
            if name not in resumed or name in self._wal_resumed:
                failing[name] = reason
        self._wal_resumed = resumed
        return failing

    async def _resume_wal(self, name: str, reason: str) -> bool:
        """Resume one suspended table or view; return whether QuestDB accepted."""
        try:
            await self.questdb.execute(_RESUME_WAL[name])
        except QuestDBRefusedError as err:
            if name not in self._wal_failing:
                LOGGER.error(
                    "QuestDB suspended %s (%s) and refused to resume it: %s",
                    name,
                    reason,
                    err.message,
                )
            return False
        if name not in self._wal_failing and name not in self._wal_resumed:
            LOGGER.warning(
                "QuestDB had suspended %s (%s): rows written to it were kept but "
                "invisible. Resumed it, so QuestDB applies them now",
                name,
                reason,
            )
        return True
