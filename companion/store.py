"""QuestDB queries of the API (parameterised, PG wire) and idempotent ILP writes.

User input only ever reaches SQL as bind parameters ($1…). What is formatted into
the text is constants of this module, an int limit, and a time zone name checked
against the IANA database (`zones.checked_time_zone`); hence the file-wide S608 exemption.
"""

# ruff: noqa: S608

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import functools
import math
import re
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from .config import CompanionConfig
from .questdb import QuestDB
from .shared import schema, units
from .zones import checked_time_zone

R: Final = schema.READINGS_TABLE
S: Final = schema.STATISTICS_TABLE

# SAMPLE BY strides per statistics period (fixed literals, never user text).
# Lines per ILP request (about 10 MB of text).
ILP_CHUNK_LINES: Final = 100_000
# The backfill's first request of a call: small, so that sending starts early.
ILP_FIRST_CHUNK_LINES: Final = 10_000
# The backfill's most states in one request (one transaction), streamed in chunks.
ILP_REQUEST_LINES: Final = 2_000_000
# HA's states that are never numbers, parsed as NaN: the gaps (units.NO_VALUE_STATES)
# are kept as rows without a value, the others dropped.
_NOT_NUMBERS: Final = frozenset({*units.NO_VALUE_STATES, "", "None", "none"})
_FIXED_STRIDE_MICROS: Final = {"5minute": 300_000_000, "hour": 3_600_000_000}
_MAX_FALLBACK_SPANS: Final = 4
_STRIDE: Final = {"5minute": "5m", "hour": "1h", "day": "1d", "month": "1M"}
CUMULATIVE_CLASSES: Final = frozenset({"total", "total_increasing"})
# What may be formatted into SQL text for the /exec fast path, and what a JSON
# column of text may hold (plain quoted words or null; number columns are checked
# by their type, see QuestDB.fetch_column_json).
_SAFE_ENTITY_ID = re.compile(r"^[a-z0-9_]{1,64}\.[a-z0-9_]{1,191}$")
# (bytes.translate deletes them: what is left over is not allowed; ~1 ms a MB.)
_QUOTED_WORD_BYTES: Final = (
    b'"_,0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
)


@dataclass(frozen=True, slots=True)
class Reading:
    """One raw reading in the stored unit; value None: a gap (unknown / unavailable)."""

    ts: datetime
    entity_id: str
    value: float | None
    unit: str | None
    device_class: str | None
    state_class: str | None
    source: str


@dataclass(frozen=True, slots=True)
class StatisticRow:
    """One long-term statistics row (period start, stored unit)."""

    ts: datetime
    entity_id: str
    period: str
    state: float | None
    sum: float | None
    mean: float | None
    min: float | None
    max: float | None
    last_reset: datetime | None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _iso_micros(moment: datetime) -> str:
    """A QuestDB timestamp literal (UTC, microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _naive_utc(moment: datetime) -> datetime:
    """Return naive UTC, which is what asyncpg sends to QuestDB."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _ts(moment: datetime) -> datetime:
    """Return a designated timestamp from asyncpg as aware UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True, slots=True)
class ReadingColumns:
    """Readings as parallel columns, each the inside of a JSON array (no brackets)."""

    count: int
    ts: bytes
    value: bytes
    source: bytes

    def json_parts(self) -> tuple[bytes, ...]:
        """The columns as one JSON object, in pieces (joined once by the caller)."""
        return (
            b'{"ts":[',
            self.ts,
            b'],"value":[',
            self.value,
            b'],"source":[',
            self.source,
            b"]}",
        )


class Store:
    """Reads and writes of energy_readings and energy_statistics."""

    def __init__(self, questdb: QuestDB, config: CompanionConfig) -> None:
        """Use the companion's QuestDB client (SQL over PG wire, ILP and /exec over HTTP)."""
        self.questdb = questdb
        self.config = config

    # -- reads -----------------------------------------------------------------

    async def readings(
        self, entity_id: str, since: datetime, until: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Raw readings in [since, until), newest first, at most `limit`."""
        # Timestamps travel as epoch microseconds: decoding 86,400 PG timestamps
        # costs several times more than the integers.
        rows = await self.questdb.fetch(
            f"SELECT cast(ts AS long), value, unit, source FROM {R} "
            f"WHERE entity_id = $1 AND ts >= $2 AND ts < $3 "
            f"ORDER BY ts DESC LIMIT {int(limit)}",
            entity_id,
            _naive_utc(since),
            _naive_utc(until),
        )
        iso = _IsoFormatter()
        return [
            {"ts": iso(row[0]), "value": row[1], "unit": row[2], "source": row[3]}
            for row in rows
        ]

    async def readings_columns(
        self, entity_id: str, since: datetime, until: datetime, limit: int
    ) -> ReadingColumns:
        """Raw readings as columns (ts in epoch ms), newest first: the fast path for charts.

        The ts and value columns each come from their own /exec query as QuestDB's
        JSON, joined without parsing (decoding 86,400 rows in Python costs several
        times more). The source column is nearly always one value for the whole
        window: a third query counts the rows per source, and a single source is
        repeated here instead of being serialised 86,400 times by QuestDB; only a
        window that mixes sources fetches it row by row. The queries run at once;
        when a concurrent write makes them disagree (row counts differ, or the
        limit cut the window) the PG-wire path answers instead.
        """
        if _SAFE_ENTITY_ID.match(entity_id):
            where = (
                f"FROM {R} WHERE entity_id = '{entity_id}' "
                f"AND ts >= '{_iso_micros(since)}' AND ts < '{_iso_micros(until)}' "
                f"ORDER BY ts DESC LIMIT {int(limit)}"
            )
            (ts, n_ts), (value, n_value), per_source = await asyncio.gather(
                self.questdb.fetch_column_json(
                    f"SELECT cast(ts AS long) / 1000 {where}", numeric=True
                ),
                self.questdb.fetch_column_json(f"SELECT value {where}", numeric=True),
                self.questdb.execute(
                    f"SELECT source, count() FROM (SELECT source {where})"
                ),
            )
            source = await self._source_column(where, per_source["dataset"], n_ts)
            if (
                source is not None
                and ts is not None
                and value is not None
                and n_ts == n_value < limit
            ):
                return ReadingColumns(n_ts, ts, value, source)
        rows = await self.questdb.fetch(
            f"SELECT cast(ts AS long) / 1000, value, source FROM {R} "
            f"WHERE entity_id = $1 AND ts >= $2 AND ts < $3 "
            f"ORDER BY ts DESC LIMIT {int(limit)}",
            entity_id,
            _naive_utc(since),
            _naive_utc(until),
        )
        if not rows:
            return ReadingColumns(0, b"", b"", b"")
        columns = zip(*rows, strict=True)
        ts, value, source = (orjson.dumps(list(column))[1:-1] for column in columns)
        return ReadingColumns(len(rows), ts, value, source)

    async def _source_column(
        self, where: str, per_source: Sequence[Sequence[Any]], count: int
    ) -> bytes | None:
        """The source column (inside of a JSON array) of `count` rows; None if unsure."""
        if not per_source:
            return b"" if count == 0 else None
        if len(per_source) == 1:
            name, rows = per_source[0]
            if rows != count or not isinstance(name, str):
                return None
            # orjson escapes the name; repeated without a trailing comma (bytes
            # repetition: a copy, 20x faster than joining `count` references).
            item = orjson.dumps(name)
            return (item + b",") * (count - 1) + item if count else b""
        source, n_source = await self.questdb.fetch_column_json(
            f"SELECT source {where}"
        )
        if (
            source is None
            or n_source != count
            or source.translate(None, _QUOTED_WORD_BYTES)
        ):
            return None
        return source

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
            f"FROM {S} WHERE entity_id = $1 AND period = $2 AND ts >= $3 AND ts < $4",
            entity_id,
            period,
            _naive_utc(start),
            _naive_utc(end),
        )

        def fallback_query(low: datetime, high: datetime) -> Any:
            return self.questdb.fetch(
                f"SELECT cast(ts AS long), last(value), avg(value), min(value), max(value) "
                f"FROM {R} WHERE entity_id = $1 AND ts >= $2 AND ts < $3 "
                f"SAMPLE BY {_STRIDE[period]}{align}",
                entity_id,
                _naive_utc(low),
                _naive_utc(high),
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
            first_bucket = _micros(start) // stride * stride
            last_bucket = (_micros(end) - 1) // stride * stride
            edges = [last_bucket]
            if first_bucket < min(_micros(start), last_bucket):
                edges.append(first_bucket)
            stored, *edge_answers = await asyncio.gather(
                stored_query,
                *(
                    fallback_query(
                        max(start, _from_micros(bucket)),
                        min(end, _from_micros(bucket + stride)),
                    )
                    for bucket in edges
                ),
            )
            covered = {row[0] for row in stored}
            spans = _missing_spans(
                covered.union(edges), _micros(start), last_bucket, stride
            )
            answers = [
                *edge_answers,
                *await asyncio.gather(
                    *(
                        fallback_query(
                            max(start, _from_micros(first)),
                            min(end, _from_micros(last + stride)),
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
                _micros(_period_end(_from_micros(micros), period, zone))
                for micros in starts
            ]
        start_texts, end_texts = _iso_column(starts), _iso_column(ends)
        iso = _IsoFormatter()
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
            f"SELECT ts, value, lag(value) OVER (ORDER BY ts) prev FROM {R} "
            "WHERE entity_id = $1 AND ts >= $2 AND ts < $3)) TIMESTAMP(ts) "
            f"SAMPLE BY {_bucket(zone, first, last_end)}",
            entity_id,
            _naive_utc(first),
            _naive_utc(last_end),
        )
        baseline_query = self.questdb.fetch(
            f"SELECT value FROM {R} WHERE entity_id = $1 AND ts < $2 "
            "ORDER BY ts DESC LIMIT 1",
            entity_id,
            _naive_utc(first),
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
                    "start_time": _iso(day_start),
                    "end_time": _iso(day_end),
                    "hours": hours,
                    "total": total,
                    "avg_power": avg_power,
                    "peak": day["peak"] if day else None,
                    "peak_time": _iso(day["peak_ts"]) if day else None,
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
                f"SELECT ts, sum, state FROM {S} WHERE entity_id = $1 "
                "AND period = 'hour' AND ts >= $2 AND ts < $3 AND sum != null "
                "ORDER BY ts",
                entity_id,
                _naive_utc(first),
                _naive_utc(last_end),
            ),
            self.questdb.fetch(
                f"SELECT ts, sum, state FROM {S} WHERE entity_id = $1 "
                "AND period = 'hour' AND ts < $2 AND sum != null "
                "ORDER BY ts DESC LIMIT 1",
                entity_id,
                _naive_utc(first),
            ),
        )
        end_state: dict[int, float] = {}
        # Index -1: the day before the range, when its statistics reach `first`.
        if (
            before
            and before[0][2] is not None
            and _ts(before[0][0]) + timedelta(hours=1) >= first
        ):
            end_state[-1] = float(before[0][2])
        if not rows:
            return {}, end_state
        previous = float(before[0][1]) if before else 0.0
        last_sum: dict[int, float] = {}
        for row in rows:
            ts = _ts(row[0])
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

    async def reading_count_since(self, since: datetime) -> int:
        """How many readings were stored since `since`."""
        rows = await self.questdb.fetch(
            f"SELECT count() FROM {R} WHERE ts >= $1", _naive_utc(since)
        )
        return int(rows[0][0]) if rows else 0

    # -- writes (ILP text over HTTP; idempotent thanks to DEDUP keys) ------------
    #
    # Lines are formatted from a per-series prefix and posted in large chunks: a
    # retried chunk is harmless (DEDUP UPSERT), and QuestDB sorts each WAL commit
    # natively, faster than sorting the rows in Python first.

    async def write_readings(self, readings: Iterable[Reading]) -> int:
        """Write readings; returns how many rows were sent."""
        prefixes: dict[tuple[str, str | None, str | None, str | None, str], str] = {}
        lines = []
        for item in readings:
            key = (
                item.entity_id,
                item.unit,
                item.device_class,
                item.state_class,
                item.source,
            )
            prefix = prefixes.get(key)
            if prefix is None:
                prefix = prefixes[key] = _readings_prefix(*key)
            value = "NaN" if item.value is None else repr(item.value)
            lines.append(f"{prefix}{value} {_nanos(item.ts)}\n")
        await self._post_lines(lines)
        return len(lines)

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
        low, high = _micros(lower), _micros(upper)
        total = 0
        for request in _requests(history, groups, ILP_REQUEST_LINES):
            stream = _HistoryStream(history, request, low, high, source)
            try:
                await self.questdb.write_ilp(stream)
            finally:
                await stream.close()
            total += stream.rows
        return total

    async def write_statistics(self, rows: Iterable[StatisticRow]) -> int:
        """Write statistics rows; returns how many rows were sent."""
        prefixes: dict[tuple[str, str], str] = {}
        lines = []
        for item in rows:
            prefix = prefixes.get((item.entity_id, item.period))
            if prefix is None:
                prefix = prefixes[(item.entity_id, item.period)] = (
                    f"{S},entity_id={_tag(item.entity_id)},period={_tag(item.period)} "
                )
            fields = [
                f"{name}={value!r}"
                for name, value in (
                    ("state", item.state),
                    ("sum", item.sum),
                    ("mean", item.mean),
                    ("min", item.min),
                    ("max", item.max),
                )
                if value is not None
            ]
            if item.last_reset is not None:
                fields.append(f"last_reset={_micros(item.last_reset)}t")
            if fields:
                lines.append(f"{prefix}{','.join(fields)} {_nanos(item.ts)}\n")
        await self._post_lines(lines)
        return len(lines)

    async def _post_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        await self.questdb.ensure_schema()
        for index in range(0, len(lines), ILP_CHUNK_LINES):
            body = "".join(lines[index : index + ILP_CHUNK_LINES]).encode()
            await self.questdb.write_ilp(body)


def _tag(value: str) -> str:
    """Escape an ILP symbol value."""
    return (
        value.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace("=", "\\=")
        .replace(" ", "\\ ")
        .replace("\n", "\\n")
    )


def _readings_prefix(
    entity_id: str,
    unit: str | None,
    device_class: str | None,
    state_class: str | None,
    source: str,
) -> str:
    """`energy_readings,<symbols> value=` for one series (empty symbols left out)."""
    symbols = "".join(
        f",{name}={_tag(value)}"
        for name, value in (
            ("entity_id", entity_id),
            ("unit", unit),
            ("device_class", device_class),
            ("state_class", state_class),
            ("source", source),
        )
        if value
    )
    return f"{R}{symbols} value="


def _series(
    entity_id: str, attributes: Mapping[str, Any], source: str
) -> tuple[str, float]:
    """The ILP line prefix of a series and the factor to its stored unit."""
    device_class = attributes.get("device_class")
    unit, factor = units.stored_unit(
        device_class, attributes.get("unit_of_measurement")
    )
    prefix = _readings_prefix(
        entity_id, unit, device_class, attributes.get("state_class"), source
    )
    return prefix, factor


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
    prefix and unit factor. All runs of the group are converted together by numpy
    (one parse, one print: a day of 200 meters is ~200 runs of ~150 states, where
    numpy's per-call cost would dominate); a group numpy cannot take whole goes
    run by run through `_run_text`.
    """
    runs: list[tuple[str, float, Sequence[Mapping[str, Any]]]] = []
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
            prefix, factor = _series(entity_id, attributes, source)
            runs.append((prefix, factor, states[begin:end]))
    if not runs:
        return b"", 0
    whole = _runs_text(runs, lower, upper)
    if whole is not None:
        return whole
    parts: list[bytes] = []
    rows = 0
    for prefix, factor, run in runs:
        text, count = _run_text(prefix, factor, run, lower, upper)
        parts.append(text)
        rows += count
    return b"".join(parts), rows


def _runs_text(
    runs: Sequence[tuple[str, float, Sequence[Mapping[str, Any]]]],
    lower: int,
    upper: int,
) -> tuple[bytes, int] | None:
    """`_run_text` of several runs in one numpy pass; None when numpy cannot take them."""
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
    keep, micros = _window(stamps.astype(np.float64), values, gaps, lower, upper)
    count = len(micros)
    if not count:
        return b"", 0
    # Rows stay in run order, so each run's prefix repeats for its kept rows.
    kept_per_run = np.add.reduceat(
        keep, np.cumsum([0, *lengths[:-1]]), dtype=np.int64
    ).tolist()
    prefixes: list[bytes] = []
    for (prefix, _, _), kept in zip(runs, kept_per_run, strict=True):
        if kept:
            prefixes += [prefix.encode()] * kept
    return _lines(prefixes, values[keep], micros), count


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
    fraction, whole = np.modf(stamps[keep])
    # Rounded to µs as datetime.fromtimestamp rounds, half to even (the live path's keys).
    micros = whole.astype(np.int64) * 1_000_000 + np.rint(fraction * 1e6).astype(
        np.int64
    )
    inside = (micros >= lower) & (micros < upper)
    keep[keep] = inside
    return keep, micros[inside]


def _lines(
    prefixes: list[bytes],
    values: np.ndarray[Any, np.dtype[np.float64]],
    micros: np.ndarray[Any, np.dtype[np.int64]],
) -> bytes:
    """ILP lines `prefix value nanos`, interleaved by list slicing.

    Numbers are printed by orjson: the shortest round trip, like repr. A gap's
    NaN (orjson's null) is ILP's NaN, which QuestDB stores as NULL.
    """
    count = len(micros)
    # bytes.replace hands back the same object when there is nothing to replace.
    value_text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY).replace(
        b"null", b"NaN"
    )
    nanos_text = orjson.dumps(micros * 1000, option=orjson.OPT_SERIALIZE_NUMPY)
    parts: list[bytes] = [b""] * (5 * count)
    parts[0::5] = prefixes
    parts[1::5] = value_text[1:-1].split(b",")
    parts[2::5] = [b" "] * count
    parts[3::5] = nanos_text[1:-1].split(b",")
    parts[4::5] = [b"\n"] * count
    return b"".join(parts)


def _run_text(
    prefix: str,
    factor: float,
    run: Sequence[Mapping[str, Any]],
    lower: int,
    upper: int,
) -> tuple[bytes, int]:
    """ILP lines of one run of states sharing a prefix; numbers only.

    Parsed, converted and filtered by numpy, printed by `_lines`. A run numpy
    cannot take whole (a missing key, an odd type) goes through `_run_lines`,
    row by row, which defines the semantics.
    """
    whole = _runs_text([(prefix, factor, run)], lower, upper)
    if whole is None:
        return _run_lines(prefix, factor, run, lower, upper)
    return whole


def _run_lines(
    prefix: str,
    factor: float,
    run: Sequence[Mapping[str, Any]],
    lower: int,
    upper: int,
) -> tuple[bytes, int]:
    """`_run_text` row by row, for runs numpy cannot parse whole.

    The semantics: a number is written converted, a gap (unknown / unavailable)
    as NaN (NULL), anything else, or a state without a usable time, not at all.
    """
    lines: list[str] = []
    append = lines.append
    modf = math.modf
    for item in run:
        try:
            fraction, whole = modf(item.get("lu") or item["lc"])
            micros = int(whole) * 1_000_000 + round(fraction * 1e6)
            if item["s"] in units.NO_VALUE_STATES:
                text = "NaN"
            else:
                value = float(item["s"]) * factor
                # value - value is 0.0 only for finite numbers.
                if value - value != 0.0:
                    continue
                text = repr(value)
        except (KeyError, TypeError, ValueError, OverflowError):
            continue  # not a number, nor a gap; nor is an endless time
        if lower <= micros < upper:
            append(f"{prefix}{text} {micros}000\n")
    return "".join(lines).encode(), len(lines)


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
        ts = _ts(row[0])
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
            hour_peak, hour_peak_ts = increase, _aware(ts)
        else:
            hour_peak, hour_peak_ts = row[4], _aware(row[5])
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


# "HH:MM:00Z" for every 5-minute step of a day.
_CLOCK_TIMES: Final = tuple(
    f"{step // 12:02d}:{step % 12 * 5:02d}:00Z" for step in range(288)
)


class _IsoFormatter:
    """Format epoch microseconds as ISO 8601 UTC quickly (the date part is cached)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, micros: int) -> str:
        day, rest = divmod(micros, 86_400_000_000)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (
                datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)
            ).strftime("%Y-%m-%dT")
        if not rest % 300_000_000:  # whole 5 minutes: statistics buckets
            return prefix + _CLOCK_TIMES[rest // 300_000_000]
        seconds, fraction = divmod(rest, 1_000_000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        if fraction:
            return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}.{fraction:06d}Z"
        return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def _iso_column(column: list[int]) -> list[str]:
    """Epoch µs as `_IsoFormatter` writes them; whole seconds in one numpy call."""
    if any(micros % 1_000_000 for micros in column):
        iso = _IsoFormatter()
        return [iso(micros) for micros in column]
    texts = np.datetime_as_string(
        np.array(column, dtype="datetime64[us]"), unit="s", timezone="UTC"
    )
    return cast("list[str]", texts.tolist())


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


def _from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _micros(moment: datetime) -> int:
    return _nanos(moment) // 1000


def _nanos(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + (
        delta.microseconds * 1000
    )


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
