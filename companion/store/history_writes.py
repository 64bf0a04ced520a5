"""HA's compressed history (s, a, lu/lc) written to energy_readings.

The backfill's hot path: no object per row, units converted per series, states
parsed by numpy a group at a time (row by row where numpy cannot), rows
serialised column by column through the questdb client (`series_frame`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
import contextlib
from datetime import datetime
import functools
import math
from typing import Any, Final

import numpy as np

from companion.core import ilp, units
from companion.questdb import QuestDB
from companion.timestamps import to_micros

from .series_frame import FrameSeries, serialise_series_frame

# States per streamed piece of a request (about 10 MB of ILP).
ILP_CHUNK_LINES: Final = 100_000
# The backfill's first request of a call: small, so that sending starts early.
ILP_FIRST_CHUNK_LINES: Final = 10_000
# The backfill's most states in one request (one transaction), streamed in chunks.
ILP_REQUEST_LINES: Final = 2_000_000
# HA's states that are never numbers, parsed as NaN: the gaps (units.NO_VALUE_STATES)
# are kept as rows without a value, the others dropped.
_NOT_NUMBERS: Final = frozenset({*units.NO_VALUE_STATES, "", "None", "none"})


type _Run = tuple[ilp.Symbols, float, Sequence[Mapping[str, Any]]]
"""A series' states between attribute changes: symbols, unit factor, states."""


class HistoryWrites:
    """The `Store`'s writes of HA's history as readings."""

    questdb: QuestDB

    async def write_history(
        self,
        history: Mapping[str, Sequence[Mapping[str, Any]]],
        lower: datetime,
        upper: datetime,
        source: str,
    ) -> int:
        """Write HA's compressed history (s, a, lu/lc) of [lower, upper) as readings.

        The backfill's hot path: no object per row, units converted per series.
        One request (one transaction) per ILP_REQUEST_LINES states, streamed in
        pieces of about ILP_CHUNK_LINES: the next piece is converted (in a thread)
        while QuestDB parses the previous one. Few, large transactions keep
        QuestDB's work low: each one merges into the day partitions it touches and
        triggers an incremental refresh of the 15-minute view over them.
        """
        groups = _history_groups(history, ILP_FIRST_CHUNK_LINES, ILP_CHUNK_LINES)
        if not groups:
            return 0
        await self.questdb.ensure_schema()
        low, high = to_micros(lower), to_micros(upper)
        total = 0
        for request in _requests(history, groups, ILP_REQUEST_LINES):
            stream = _HistoryStream(history, request, low, high, source)
            try:
                await self.questdb.write_ilp(stream)
            finally:
                await stream.close()
            total += stream.rows
        return total


def _history_groups(
    history: Mapping[str, Sequence[Mapping[str, Any]]], first: int, rest: int
) -> list[list[str]]:
    """Entity ids in groups of about `first`, then `rest` states (a streamed piece each).

    A small first group starts the request early; while it is sent the next, larger
    group is converted.
    """
    groups: list[list[str]] = []
    size = limit = first
    for entity_id, states in history.items():
        if size >= limit:
            limit = first if not groups else rest
            groups.append([])
            size = 0
        groups[-1].append(entity_id)
        size += len(states)
    return groups


def _requests(
    history: Mapping[str, Sequence[Mapping[str, Any]]],
    groups: list[list[str]],
    max_lines: int,
) -> list[list[list[str]]]:
    """Groups in requests of at most about `max_lines` states."""
    requests: list[list[list[str]]] = []
    size = max_lines
    for group in groups:
        if size >= max_lines:
            requests.append([])
            size = 0
        requests[-1].append(group)
        size += sum(len(history[entity_id]) for entity_id in group)
    return requests


class _HistoryStream:
    """The ILP text of some groups as an async iterator of pieces (one request body).

    The next group is converted in a thread while the current piece is sent.
    """

    def __init__(
        self,
        history: Mapping[str, Sequence[Mapping[str, Any]]],
        groups: list[list[str]],
        lower: int,
        upper: int,
        source: str,
    ) -> None:
        self._convert = functools.partial(
            _history_body, history, lower=lower, upper=upper, source=source
        )
        self._groups = groups
        self._next = 0
        self._pending: asyncio.Future[tuple[bytes, int]] | None = None
        self.rows = 0

    def _start(self) -> None:
        if self._next < len(self._groups):
            group = self._groups[self._next]
            self._next += 1
            self._pending = asyncio.ensure_future(
                asyncio.to_thread(self._convert, group)
            )
        else:
            self._pending = None

    def __aiter__(self) -> _HistoryStream:
        return self

    async def __anext__(self) -> bytes:
        if self._pending is None and self._next == 0:
            self._start()
        while self._pending is not None:
            body, rows = await self._pending
            self._start()
            self.rows += rows
            if body:
                return body
        raise StopAsyncIteration

    async def close(self) -> None:
        """Wait for a conversion still running (a failed request)."""
        if self._pending is not None:
            with contextlib.suppress(Exception):
                await self._pending
            self._pending = None


def _history_body(
    history: Mapping[str, Sequence[Mapping[str, Any]]],
    entity_ids: Sequence[str],
    lower: int,
    upper: int,
    source: str,
) -> tuple[bytes, int]:
    """ILP text of HA's compressed history within [lower, upper) µs, and its rows.

    A series is cut into runs at every attribute change ("a"), each with its own
    symbols and unit factor. All runs of the group are parsed together by numpy
    (a day of 200 meters is ~200 runs of ~150 states, where numpy's per-call cost
    would dominate); a group numpy cannot take whole goes run by run (numpy's
    still, else `_run_rows`).
    """
    runs: list[_Run] = []
    for entity_id in entity_ids:
        states = history[entity_id]
        if not states:
            continue
        starts = [index for index, item in enumerate(states) if "a" in item]
        if not starts or starts[0]:
            starts.insert(0, 0)
        attributes: Mapping[str, Any] = {}
        for begin, end in zip(starts, [*starts[1:], len(states)], strict=True):
            attributes = states[begin].get("a") or attributes
            symbols, factor = ilp.reading_symbols(entity_id, attributes, source)
            runs.append((symbols, factor, states[begin:end]))
    if not runs:
        return b"", 0
    whole = _runs_series(runs, lower, upper)
    if whole is None:
        # A run numpy cannot take whole (a missing key, an odd type) goes row by
        # row through `_run_rows`, which defines the semantics.
        whole = []
        for run in runs:
            whole += _runs_series([run], lower, upper) or _run_rows(run, lower, upper)
    rows = sum(len(nanos) for _, _, nanos in whole)
    if not rows:
        return b"", rows
    # Never split into lines (no spool here): doubles go in binary.
    return serialise_series_frame(whole, protocol_version=2), rows


def _runs_series(
    runs: Sequence[_Run], lower: int, upper: int
) -> list[FrameSeries] | None:
    """Runs parsed, converted and filtered in one numpy pass: symbols, values, nanoseconds.

    None when numpy cannot take them whole.
    """
    try:
        stamps = np.array(
            [item.get("lu") or item["lc"] for _, _, run in runs for item in run]
        )
        texts = [item["s"] for _, _, run in runs for item in run]
    except (KeyError, TypeError):
        return None
    if stamps.dtype.kind not in "fiu":
        return None
    parsed = _parse_values(texts)
    if parsed is None:
        return None
    values, gaps = parsed
    lengths = [len(run) for _, _, run in runs]
    factors = [factor for _, factor, _ in runs]
    if any(factor != 1.0 for factor in factors):
        values *= np.repeat(np.array(factors, dtype=np.float64), lengths)
    return _kept_series(
        runs, lengths, stamps=stamps, values=values, gaps=gaps, lower=lower, upper=upper
    )


def _kept_series(
    runs: Sequence[_Run],
    lengths: list[int],
    *,
    stamps: np.ndarray[Any, Any],
    values: np.ndarray[Any, np.dtype[np.float64]],
    gaps: np.ndarray[Any, np.dtype[np.bool_]] | None,
    lower: int,
    upper: int,
) -> list[FrameSeries]:
    """Each run's symbols with its rows inside the window: values and nanoseconds."""
    keep, micros = _window(stamps.astype(np.float64), values, gaps, lower, upper)
    # Rows stay in run order: each run's kept rows are the next slice.
    kept_per_run = np.add.reduceat(
        keep, np.cumsum([0, *lengths[:-1]]), dtype=np.int64
    ).tolist()
    kept_values = values[keep]
    kept_nanos = micros * 1000
    series: list[FrameSeries] = []
    offset = 0
    for (symbols, _, _), kept in zip(runs, kept_per_run, strict=True):
        if kept:
            series.append(
                (
                    symbols,
                    kept_values[offset : offset + kept],
                    kept_nanos[offset : offset + kept],
                )
            )
            offset += kept
    return series


def _parse_values(
    texts: list[Any],
) -> (
    tuple[
        np.ndarray[Any, np.dtype[np.float64]],
        np.ndarray[Any, np.dtype[np.bool_]] | None,
    ]
    | None
):
    """States as float64 and which are gaps (NaN; None: no gap); None if numpy can't."""
    try:
        return np.array(texts, dtype=np.float64), None
    except (TypeError, ValueError):
        pass
    try:
        gaps = np.fromiter(
            (text in units.NO_VALUE_STATES for text in texts),
            dtype=np.bool_,
            count=len(texts),
        )
        values = np.array(
            ["nan" if text in _NOT_NUMBERS else text for text in texts],
            dtype=np.float64,
        )
    except (TypeError, ValueError):
        return None
    return values, gaps


def _window(
    stamps: np.ndarray[Any, np.dtype[np.float64]],
    values: np.ndarray[Any, np.dtype[np.float64]],
    gaps: np.ndarray[Any, np.dtype[np.bool_]] | None,
    lower: int,
    upper: int,
) -> tuple[np.ndarray[Any, np.dtype[np.bool_]], np.ndarray[Any, np.dtype[np.int64]]]:
    """Which rows to write (finite value or a gap, time in [lower, upper) µs) and their µs."""
    # Seconds well outside the window are dropped before the int64 conversion.
    keep = (stamps > lower / 1e6 - 1.0) & (stamps < upper / 1e6 + 1.0)
    keep &= np.isfinite(values) if gaps is None else np.isfinite(values) | gaps
    # Rounded to µs as the live path rounds: the same dedup keys.
    micros = ilp.timestamp_micros(stamps[keep])
    inside = (micros >= lower) & (micros < upper)
    keep[keep] = inside
    return keep, micros[inside]


def _run_rows(run: _Run, lower: int, upper: int) -> list[FrameSeries]:
    """One run parsed row by row, for runs numpy cannot parse whole.

    The semantics: a number is written converted, a gap (unknown / unavailable)
    as NaN (NULL), anything else, or a state without a usable time, not at all.
    """
    _, factor, states = run
    stamps: list[float] = []
    values: list[float] = []
    gaps: list[bool] = []
    for item in states:
        try:
            stamp = item.get("lu") or item["lc"]
            if not isinstance(stamp, int | float):
                continue
            gap = item["s"] in units.NO_VALUE_STATES
            value = math.nan if gap else float(item["s"]) * factor
        except (KeyError, TypeError, ValueError, OverflowError):
            continue  # not a number, nor a gap
        stamps.append(float(stamp))
        values.append(value)
        gaps.append(gap)
    if not stamps:
        return []
    return _kept_series(
        [run],
        [len(stamps)],
        stamps=np.array(stamps, dtype=np.float64),
        values=np.array(values, dtype=np.float64),
        gaps=np.array(gaps, dtype=np.bool_),
        lower=lower,
        upper=upper,
    )
