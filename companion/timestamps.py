"""Times of the companion: UTC conversions and their ISO 8601 texts.

One helper per text: `iso_utc_z` (the API's, `…Z`), `iso_utc_offset` (HA's
WebSocket API and the job reports, `…+00:00`), `iso_utc_micros` (a QuestDB
timestamp literal) and `IsoUtcZ` (the API's text of epoch microseconds, fast).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, cast, overload

import numpy as np

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MICROS: Final = 86_400_000_000
_FIVE_MINUTES_MICROS: Final = 300_000_000
# "HH:MM:00Z" for every 5-minute step of a day.
_CLOCK_TIMES: Final = tuple(
    f"{step // 12:02d}:{step % 12 * 5:02d}:00Z" for step in range(288)
)


@overload
def aware_utc(moment: datetime) -> datetime: ...


@overload
def aware_utc(moment: None) -> None: ...


@overload
def aware_utc(moment: datetime | None) -> datetime | None: ...


def aware_utc(moment: datetime | None) -> datetime | None:
    """`moment` with a naive one taken as UTC (asyncpg's timestamps, old documents)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def naive_utc(moment: datetime) -> datetime:
    """Return naive UTC, which is what asyncpg sends to QuestDB."""
    return moment.astimezone(UTC).replace(tzinfo=None)


@overload
def iso_utc_z(moment: datetime) -> str: ...


@overload
def iso_utc_z(moment: None) -> None: ...


@overload
def iso_utc_z(moment: datetime | None) -> str | None: ...


def iso_utc_z(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC ending in `Z` (naive taken as UTC), as the API answers."""
    if moment is None:
        return None
    return aware_utc(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_utc_offset(moment: datetime) -> str:
    """ISO 8601 in UTC ending in `+00:00`; a naive time is refused (ValueError)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat()


def iso_utc_micros(moment: datetime) -> str:
    """A QuestDB timestamp literal (UTC, always six digits of microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_micros(micros: int) -> datetime:
    """Epoch microseconds as aware UTC."""
    return _EPOCH + timedelta(microseconds=micros)


def to_micros(moment: datetime) -> int:
    """Epoch microseconds of `moment`."""
    return to_nanos(moment) // 1000


def to_nanos(moment: datetime) -> int:
    """Epoch nanoseconds of `moment` (ILP's designated timestamp)."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + (
        delta.microseconds * 1000
    )


class IsoUtcZ:
    """Epoch microseconds as `iso_utc_z` writes them, quickly (date parts cached)."""

    def __init__(self) -> None:
        """Start with no date cached."""
        self._days: dict[int, str] = {}

    def __call__(self, micros: int) -> str:
        """The text of `micros` since the epoch."""
        day, rest = divmod(micros, _DAY_MICROS)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (_EPOCH + timedelta(days=day)).strftime(
                "%Y-%m-%dT"
            )
        if not rest % _FIVE_MINUTES_MICROS:  # whole 5 minutes: statistics buckets
            return prefix + _CLOCK_TIMES[rest // _FIVE_MINUTES_MICROS]
        seconds, fraction = divmod(rest, 1_000_000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        if fraction:
            return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}.{fraction:06d}Z"
        return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def iso_utc_z_column(column: list[int]) -> list[str]:
    """Epoch µs as `IsoUtcZ` writes them; whole seconds in one numpy call."""
    if any(micros % 1_000_000 for micros in column):
        iso = IsoUtcZ()
        return [iso(micros) for micros in column]
    texts = np.datetime_as_string(
        np.array(column, dtype="datetime64[us]"), unit="s", timezone="UTC"
    )
    return cast("list[str]", texts.tolist())
