"""The overview's buckets in HA's time zone, and the units its figures are in."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from companion.core import units

type OverviewPeriod = Literal["hour", "day", "week", "month"]
DAY_PERIODS: Final = frozenset({"day", "week", "month"})
_ROUND: Final = 6  # µWh: float noise never shows as a figure


def bucket_bounds(
    start: datetime, end: datetime, period: OverviewPeriod, zone: ZoneInfo
) -> list[datetime]:
    """Bounds b0 < b1 < … < bn of the buckets covering [start, end), aligned in `zone`."""
    if period == "hour":
        first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        bounds = [first]
        while bounds[-1] < end:
            bounds.append(bounds[-1] + timedelta(hours=1))
        return bounds
    local = start.astimezone(zone).date()
    if period == "week":
        local -= timedelta(days=local.weekday())
    elif period == "month":
        local = local.replace(day=1)
    bounds = [datetime(local.year, local.month, local.day, tzinfo=zone)]
    while bounds[-1] < end:
        day = bounds[-1].date()
        if period == "day":
            day += timedelta(days=1)
        elif period == "week":
            day += timedelta(days=7)
        else:
            year, month = divmod(day.month, 12)
            day = day.replace(year=day.year + year, month=month + 1)
        bounds.append(datetime(day.year, day.month, day.day, tzinfo=zone))
    return [bound.astimezone(UTC) for bound in bounds]


def in_buckets(
    bounds: list[int], hours: Mapping[int, float], factor: float, into: list[float]
) -> None:
    """Add each hour's (or day's) value times `factor` to the bucket between `bounds` holding it."""
    for hour, value in hours.items():
        index = bisect_right(bounds, hour) - 1
        if 0 <= index < len(into):
            into[index] += value * factor


def statistic_factor(kind: str, unit: str | None) -> float:
    """Statistics unit → kWh for energy; 1 for gas, water and money (kept in theirs)."""
    if kind != units.ENERGY:
        return 1.0
    conversion = units.conversion_for(units.ENERGY, unit)
    return 1.0 if conversion is None else conversion.factor


def readings_factor(kind: str, unit: str | None) -> float:
    """Stored unit of the readings → the answer's (kWh, else HA's statistics unit)."""
    if kind == units.ENERGY:
        return 1.0
    conversion = units.conversion_for(kind, unit)
    return 1.0 if conversion is None else 1.0 / conversion.factor


def year_before(moment: datetime, zone: ZoneInfo) -> datetime:
    """The same local time a year earlier (28 February for the 29th)."""
    local = moment.astimezone(zone)
    day = min(local.day, 28) if local.month == 2 else local.day
    return datetime(
        local.year - 1, local.month, day, local.hour, local.minute, tzinfo=zone
    ).astimezone(UTC)


def days_between(
    days: Mapping[str, float], start: datetime, end: datetime, zone: ZoneInfo
) -> list[float]:
    """The values of the local days (ISO dates) in [start, end)."""
    low = start.astimezone(zone).date().isoformat()
    high = end.astimezone(zone).date().isoformat()
    return [power for day, power in days.items() if low <= day < high]


def mean(values: Iterable[float]) -> float | None:
    """The mean to 0.1, None of nothing."""
    values = list(values)
    return round(sum(values) / len(values), 1) if values else None


def rounded(figures: dict[str, Any]) -> dict[str, Any]:
    """`figures` rounded to µWh (and µ of a currency), never -0.0."""

    def one(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, _ROUND) + 0.0  # never -0.0
        if isinstance(value, dict):
            return {key: one(item) for key, item in value.items()}
        return value

    return {key: one(value) for key, value in figures.items()}
