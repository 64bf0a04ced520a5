"""Statistics per period from QuestDB: stored rows, and raw readings where they miss.

User input only ever reaches SQL as bind parameters ($1…). What is formatted into
the text is table names, the strides below and a time zone name checked against
the IANA database (`zones.checked_time_zone`); hence the file-wide S608 exemption.
"""

# ruff: noqa: S608

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

from companion.core import schema
from companion.questdb import QuestDB
from companion.timestamps import (
    IsoUtcZ,
    from_micros,
    iso_utc_z_column,
    naive_utc,
    to_micros,
)
from companion.zones import checked_time_zone

# SAMPLE BY strides per statistics period (fixed literals, never user text).
_STRIDE: Final = {"5minute": "5m", "hour": "1h", "day": "1d", "month": "1M"}
_FIXED_STRIDE_MICROS: Final = {"5minute": 300_000_000, "hour": 3_600_000_000}
_MAX_FALLBACK_SPANS: Final = 4


class StatisticsQueries:
    """The `Store`'s reads of statistics (energy_statistics, else energy_readings)."""

    questdb: QuestDB

    async def statistics(
        self,
        entity_id: str,
        start: datetime,
        end: datetime,
        *,
        period: str,
        time_zone: str | None,
    ) -> list[dict[str, Any]]:
        """Statistics rows; buckets without a stored row come from raw readings.

        Day and month buckets are HA's days and months: `time_zone` (HA's) is
        required for them; 5-minute and hourly ones never depend on a zone.
        """
        align = ""
        zone_name = None
        if period in ("day", "month"):
            if time_zone is None:
                raise ValueError(f"period {period} needs Home Assistant's time zone")
            zone_name = checked_time_zone(time_zone)
            align = f" ALIGN TO CALENDAR TIME ZONE '{zone_name}'"
        stored_query = self.questdb.fetch(
            f"SELECT cast(ts AS long), state, sum, mean, min, max, cast(last_reset AS long) "
            f"FROM {schema.STATISTICS_TABLE} WHERE entity_id = $1 AND period = $2 AND ts >= $3 AND ts < $4",
            entity_id,
            period,
            naive_utc(start),
            naive_utc(end),
        )

        def fallback_query(low: datetime, high: datetime) -> Any:
            return self.questdb.fetch(
                f"SELECT cast(ts AS long), last(value), avg(value), min(value), max(value) "
                f"FROM {schema.READINGS_TABLE} WHERE entity_id = $1 AND ts >= $2 AND ts < $3 "
                f"SAMPLE BY {_STRIDE[period]}{align}",
                entity_id,
                naive_utc(low),
                naive_utc(high),
            )

        stride = _FIXED_STRIDE_MICROS.get(period)
        if stride is None:
            # Calendar periods: both queries at once over the whole window.
            stored, fallback = await asyncio.gather(
                stored_query, fallback_query(start, end)
            )
        else:
            # Fixed strides: raw readings only for the buckets statistics miss
            # (usually none but the partial ones at the edges). The edge buckets
            # are asked for beside the statistics: HA writes a period's statistics
            # after it ends, so a window up to now nearly always misses the last
            # one, and a window starting off the stride always misses the first
            # (its statistic starts before the window); round trips are saved.
            first_bucket = to_micros(start) // stride * stride
            last_bucket = (to_micros(end) - 1) // stride * stride
            edges = [last_bucket]
            if first_bucket < min(to_micros(start), last_bucket):
                edges.append(first_bucket)
            stored, *edge_answers = await asyncio.gather(
                stored_query,
                *(
                    fallback_query(
                        max(start, from_micros(bucket)),
                        min(end, from_micros(bucket + stride)),
                    )
                    for bucket in edges
                ),
            )
            covered = {row[0] for row in stored}
            spans = _missing_spans(
                covered.union(edges), to_micros(start), last_bucket, stride
            )
            answers = [
                *edge_answers,
                *await asyncio.gather(
                    *(
                        fallback_query(
                            max(start, from_micros(first)),
                            min(end, from_micros(last + stride)),
                        )
                        for first, last in spans
                    )
                ),
            ]
            # Rows of buckets that statistics cover are dropped below.
            fallback = [row for answer in answers for row in answer]
        # (state, sum, mean, min, max, last_reset, source) per bucket start.
        buckets: dict[int, tuple[Any, ...]] = {
            row[0]: (*row[1:4], row[4], row[5], row[6], "statistics") for row in stored
        }
        for row in fallback:
            if row[0] not in buckets:
                buckets[row[0]] = (
                    row[1],
                    None,
                    row[2],
                    row[3],
                    row[4],
                    None,
                    "readings",
                )
        starts = sorted(buckets)
        if stride is not None:
            ends = [micros + stride for micros in starts]
        else:
            zone = ZoneInfo(cast("str", zone_name))
            ends = [
                to_micros(_period_end(from_micros(micros), period, zone))
                for micros in starts
            ]
        start_texts, end_texts = iso_utc_z_column(starts), iso_utc_z_column(ends)
        iso = IsoUtcZ()
        return [
            {
                "entity_id": entity_id,
                "period": period,
                "start_time": start_text,
                "end_time": end_text,
                "state": state,
                "sum": total,
                "mean": mean,
                "min": low,
                "max": high,
                "last_reset": None if last_reset is None else iso(last_reset),
                "source": source,
            }
            for start_text, end_text, (
                state,
                total,
                mean,
                low,
                high,
                last_reset,
                source,
            ) in zip(
                start_texts, end_texts, map(buckets.__getitem__, starts), strict=True
            )
        ]


def _missing_spans(
    covered: set[int], start: int, end: int, stride: int
) -> list[tuple[int, int]]:
    """Runs (first, last bucket start) of the stride buckets over [start, end) not covered."""
    spans: list[tuple[int, int]] = []
    for bucket in range(start // stride * stride, end, stride):
        if bucket in covered:
            continue
        if spans and spans[-1][1] + stride == bucket:
            spans[-1] = (spans[-1][0], bucket)
        else:
            spans.append((bucket, bucket))
    if len(spans) > _MAX_FALLBACK_SPANS:
        return [(spans[0][0], spans[-1][1])]
    return spans


def _period_end(ts: datetime, period: str, zone: ZoneInfo) -> datetime:
    if period == "5minute":
        return ts + timedelta(minutes=5)
    if period == "hour":
        return ts + timedelta(hours=1)
    local = ts.astimezone(zone)
    if period == "day":
        following = local.date() + timedelta(days=1)
    else:
        year, month = divmod(local.month, 12)
        following = local.date().replace(year=local.year + year, month=month + 1, day=1)
    return datetime(
        following.year, following.month, following.day, tzinfo=zone
    ).astimezone(UTC)
