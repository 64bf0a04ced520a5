"""Copies from Home Assistant into QuestDB: raw history and long-term statistics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
import math
from typing import Any

from .core import schema
from .ha_client import HAClient
from .store import StatisticRow, Store

# Windows are fetched in slices so a 7-day recovery never asks HA for everything at once.
HISTORY_SLICE = timedelta(hours=12)
STATISTICS_SLICE = timedelta(days=7)
ENTITY_BATCH = 50

# Called after each fetched slice: (phase, steps done, steps in all, rows so far).
type ProgressCallback = Callable[[str, int, int, int], Awaitable[None]]


def _batches(items: Sequence[str], size: int = ENTITY_BATCH) -> Iterable[list[str]]:
    for index in range(0, len(items), size):
        yield list(items[index : index + size])


def _slices(
    start: datetime, end: datetime, step: timedelta
) -> Iterable[tuple[datetime, datetime]]:
    cursor = start
    while cursor < end:
        following = min(end, cursor + step)
        yield cursor, following
        cursor = following


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None  # not a number (unknown / unavailable are gaps, not numbers)
    return value if math.isfinite(value) else None


def statistics_to_rows(
    entity_id: str, period: str, items: Sequence[Mapping[str, Any]]
) -> list[StatisticRow]:
    """Turn HA's statistics (times in ms) into energy_statistics rows."""

    def moment(raw: Any) -> datetime | None:
        if raw is None:
            return None
        if isinstance(raw, str):
            return datetime.fromisoformat(raw).astimezone(UTC)
        return datetime.fromtimestamp(float(raw) / 1000, UTC)

    rows = []
    for item in items:
        start = moment(item.get("start"))
        if start is None:
            continue
        rows.append(
            StatisticRow(
                ts=start,
                entity_id=entity_id,
                period=period,
                state=_number(item.get("state")),
                sum=_number(item.get("sum")),
                mean=_number(item.get("mean")),
                min=_number(item.get("min")),
                max=_number(item.get("max")),
                last_reset=moment(item.get("last_reset")),
            )
        )
    return rows


async def backfill_readings(
    ha: HAClient,
    store: Store,
    entity_ids: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    progress: ProgressCallback | None = None,
) -> int:
    """Copy HA's recorded states of [start, end) into energy_readings; returns rows."""
    total = 0
    batches = list(_batches(sorted(entity_ids)))
    slices = list(_slices(start, end, HISTORY_SLICE))
    done = 0
    for batch in batches:
        for lower, upper in slices:
            history = await ha.history_during_period(lower, upper, batch)
            wanted = set(batch)
            total += await store.write_history(
                {k: v for k, v in history.items() if k in wanted},
                lower,
                upper,
                schema.SOURCE_BACKFILL,
            )
            done += 1
            if progress is not None:
                await progress("readings", done, len(batches) * len(slices), total)
    return total


async def sync_statistics(
    ha: HAClient,
    store: Store,
    entity_ids: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    period: str = "hour",
    progress: ProgressCallback | None = None,
) -> int:
    """Copy HA's long-term statistics of [start, end) into energy_statistics; returns rows."""
    total = 0
    batches = list(_batches(sorted(entity_ids)))
    slices = list(_slices(start, end, STATISTICS_SLICE))
    done = 0
    for batch in batches:
        for lower, upper in slices:
            result = await ha.statistics_during_period(lower, upper, batch, period)
            rows: list[StatisticRow] = []
            for entity_id, items in result.items():
                if entity_id in batch:
                    rows.extend(statistics_to_rows(entity_id, period, items))
            total += await store.write_statistics(rows)
            done += 1
            if progress is not None:
                await progress("statistics", done, len(batches) * len(slices), total)
    return total
