"""Daily totals from QuestDB: per local day consumption, average power and peak.

User input only ever reaches SQL as bind parameters ($1…). What is formatted into
the text is table names and a SAMPLE BY stride chosen here; the time zone is
checked against the IANA database (`zones.checked_time_zone`); hence the
file-wide S608 exemption.
"""

# ruff: noqa: S608

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from companion.core import schema
from companion.questdb import QuestDB
from companion.timestamps import aware_utc, iso_utc_z, naive_utc
from companion.zones import checked_time_zone

CUMULATIVE_CLASSES: Final = frozenset({"total", "total_increasing"})


class DailyQueries:
    """The `Store`'s daily totals (energy_readings, and hourly energy_statistics)."""

    questdb: QuestDB

    async def daily(
        self,
        entity_id: str,
        start: datetime,
        end: datetime,
        *,
        time_zone: str,
        device_class: str | None,
        state_class: str | None,
    ) -> list[dict[str, Any]]:
        """Per day in `time_zone` (HA's): reset-aware consumption, average power, peak, count."""
        zone = ZoneInfo(checked_time_zone(time_zone))
        days = _local_days(start, end, zone)
        if not days:
            return []
        first, last_end = days[0][0], days[-1][1]
        cumulative = state_class in CUMULATIVE_CLASSES or (
            state_class is None and device_class in ("energy", "gas", "water")
        )
        # Per hour: reset-aware increase (a drop starts a new meter cycle).
        hourly_query = self.questdb.fetch(
            "SELECT ts, count() n, sum(inc) inc, avg(value) avg_v, max(value) max_v, "
            "arg_max(ts, value) max_ts, first(value) first_v, first(inc) first_inc FROM ("
            "SELECT ts, value, CASE WHEN prev IS NULL THEN 0.0 WHEN value >= prev "
            "THEN value - prev ELSE value END inc FROM ("
            f"SELECT ts, value, lag(value) OVER (ORDER BY ts) prev FROM {schema.READINGS_TABLE} "
            "WHERE entity_id = $1 AND ts >= $2 AND ts < $3)) TIMESTAMP(ts) "
            f"SAMPLE BY {_bucket(zone, first, last_end)}",
            entity_id,
            naive_utc(first),
            naive_utc(last_end),
        )
        baseline_query = self.questdb.fetch(
            f"SELECT value FROM {schema.READINGS_TABLE} WHERE entity_id = $1 AND ts < $2 "
            "ORDER BY ts DESC LIMIT 1",
            entity_id,
            naive_utc(first),
        )
        hourly, baseline_rows, (stats_total, stats_state) = await asyncio.gather(
            hourly_query,
            baseline_query,
            self._daily_from_statistics(entity_id, days),
        )
        baseline = baseline_rows[0][0] if baseline_rows else None

        # A readings-only day after a statistics day starts from the meter state the
        # statistics ended at: they already count the step up to it, and the first
        # reading may lie on the boundary (counted in the hour ending there).
        anchors = {
            index: stats_state[index - 1]
            for index in range(len(days))
            if cumulative and index not in stats_total and index - 1 in stats_state
        }
        out = _hours_to_days(hourly, days, baseline, anchors, cumulative=cumulative)
        result = []
        for index, (day_start, day_end) in enumerate(days):
            hours = (day_end - day_start).total_seconds() / 3600
            day: dict[str, Any] | None = out.get(index)
            count = day["n"] if day else 0
            if cumulative:
                total = stats_total.get(index)
                source = "statistics" if total is not None else "readings"
                if total is None:
                    total = day["inc"] if day else None
                avg_power = None if total is None else total * 1000 / hours
            else:
                avg = day["wsum"] / count if day and count else None
                total = None if avg is None else avg * hours / 1000
                avg_power = avg
                source = "readings"
            if total is None and count == 0:
                continue
            result.append(
                {
                    "date": day_start.astimezone(zone).date().isoformat(),
                    "start_time": iso_utc_z(day_start),
                    "end_time": iso_utc_z(day_end),
                    "hours": hours,
                    "total": total,
                    "avg_power": avg_power,
                    "peak": day["peak"] if day else None,
                    "peak_time": iso_utc_z(day["peak_ts"]) if day else None,
                    "readings": count,
                    "source": source,
                }
            )
        return result

    async def _daily_from_statistics(
        self, entity_id: str, days: Sequence[tuple[datetime, datetime]]
    ) -> tuple[dict[int, float], dict[int, float]]:
        """Per day from hourly statistics: `sum` change (HA's dashboard) and end-of-day `state`."""
        first, last_end = days[0][0], days[-1][1]
        rows, before = await asyncio.gather(
            self.questdb.fetch(
                f"SELECT ts, sum, state FROM {schema.STATISTICS_TABLE} WHERE entity_id = $1 "
                "AND period = 'hour' AND ts >= $2 AND ts < $3 AND sum != null "
                "ORDER BY ts",
                entity_id,
                naive_utc(first),
                naive_utc(last_end),
            ),
            self.questdb.fetch(
                f"SELECT ts, sum, state FROM {schema.STATISTICS_TABLE} WHERE entity_id = $1 "
                "AND period = 'hour' AND ts < $2 AND sum != null "
                "ORDER BY ts DESC LIMIT 1",
                entity_id,
                naive_utc(first),
            ),
        )
        end_state: dict[int, float] = {}
        # Index -1: the day before the range, when its statistics reach `first`.
        if (
            before
            and before[0][2] is not None
            and aware_utc(before[0][0]) + timedelta(hours=1) >= first
        ):
            end_state[-1] = float(before[0][2])
        if not rows:
            return {}, end_state
        previous = float(before[0][1]) if before else 0.0
        last_sum: dict[int, float] = {}
        for row in rows:
            ts = aware_utc(row[0])
            index = _day_index(days, ts)
            if index is None:
                continue
            last_sum[index] = float(row[1])
            end_state.pop(index, None)
            if ts + timedelta(hours=1) >= days[index][1] and row[2] is not None:
                end_state[index] = float(row[2])
        totals: dict[int, float] = {}
        for index in range(len(days)):
            if index in last_sum:
                totals[index] = last_sum[index] - previous
                previous = last_sum[index]
        return totals, end_state


def _hours_to_days(
    hourly: Sequence[Any],
    days: Sequence[tuple[datetime, datetime]],
    baseline: float | None,
    anchors: dict[int, float],
    *,
    cumulative: bool,
) -> dict[int, dict[str, Any]]:
    """Fold per-hour aggregates into per-day counters (consumption, weighted mean, peak)."""
    out: dict[int, dict[str, Any]] = {}
    first_seen = True
    for row in hourly:
        ts = aware_utc(row[0])
        index = _day_index(days, ts)
        if index is None:
            continue
        day = out.get(index)
        if day is None:
            day = out[index] = {
                "n": 0,
                "inc": 0.0,
                "wsum": 0.0,
                "peak": None,
                "peak_ts": None,
            }
            anchor = anchors.get(index)
        else:
            anchor = None
        increase = float(row[2] or 0.0)
        if anchor is not None and row[6] is not None:
            # The day's first step is measured from the anchor instead.
            increase += _step(anchor, float(row[6])) - float(row[7] or 0.0)
        elif first_seen and baseline is not None and row[6] is not None:
            increase += _step(baseline, float(row[6]))
        first_seen = False
        day["n"] += int(row[1])
        day["inc"] += increase
        day["wsum"] += float(row[3] or 0.0) * int(row[1])
        if cumulative:
            hour_peak, hour_peak_ts = increase, ts
        else:
            hour_peak, hour_peak_ts = row[4], aware_utc(row[5])
        if hour_peak is not None and (day["peak"] is None or hour_peak > day["peak"]):
            day["peak"], day["peak_ts"] = hour_peak, hour_peak_ts

    return out


def _step(previous: float, value: float) -> float:
    """Reset-aware increase of a meter from `previous` to `value`."""
    return value - previous if value >= previous else value


def _bucket(zone: ZoneInfo, start: datetime, end: datetime) -> str:
    """UTC-aligned buckets that never straddle a local midnight.

    Local hours are not used: in the repeated hour of a DST change two UTC hours
    would fall into one bucket. Whole-hour offsets allow 1 h buckets; others
    (e.g. +05:30, +05:45) need 15 min ones.
    """
    offsets = {
        moment.astimezone(zone).utcoffset()
        for moment in (start, end, start + (end - start) / 2)
    }
    whole_hours = all(
        offset is not None and offset.total_seconds() % 3600 == 0 for offset in offsets
    )
    return "1h" if whole_hours else "15m"


def _local_days(
    start: datetime, end: datetime, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """Local-midnight boundaries (as UTC) of every day overlapping [start, end)."""
    day = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    days = []
    while day <= last:
        day_start = datetime(day.year, day.month, day.day, tzinfo=zone)
        following = day + timedelta(days=1)
        day_end = datetime(following.year, following.month, following.day, tzinfo=zone)
        days.append((day_start.astimezone(UTC), day_end.astimezone(UTC)))
        day = following
    return days


def _day_index(days: Sequence[tuple[datetime, datetime]], ts: datetime) -> int | None:
    """Index of the day holding `ts` (days are contiguous)."""
    if not days or ts < days[0][0] or ts >= days[-1][1]:
        return None
    low, high = 0, len(days) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if days[middle][0] <= ts:
            low = middle
        else:
            high = middle - 1
    return low
