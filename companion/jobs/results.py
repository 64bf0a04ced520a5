"""What a job returns, and the errors that fail a job instead of crashing it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from pymongo.errors import PyMongoError

from companion.ha_client import HAError
from companion.questdb import QuestDBError

JOB_ERRORS: Final = (HAError, QuestDBError, PyMongoError, OSError, ValueError)

type JobResult = dict[str, Any]
type JobRunner = Callable[[], Awaitable[JobResult]]

LEASE_HELD: Final = "lease held by another replica"


def skipped() -> JobResult:
    """The result of a scheduled job another replica runs now."""
    return {"skipped": LEASE_HELD}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
