"""Readings and statistics as ILP rows, serialised by the questdb client's Buffer.

Protocol version 1 keeps every row one text line, so the spool and the dead-letter
file can split payloads by line. These functions block: run them in an executor or
a thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import math
import threading
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
from questdb import Protocol as IlpProtocol, Sender, TimestampMicros, TimestampNanos

from .schema import READINGS_TABLE, STATISTICS_TABLE
from .units import NO_VALUE_STATES, stored_unit

_EMPTY: Mapping[str, Any] = {}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_NAN: Final = math.nan
# States parsed per C call; a slice holding a non-number is parsed one by one.
_PARSE_SLICE: Final = 2048
_BUFFER_SIZE: Final = 1 << 20
_STATISTICS_COLUMNS: Final = ("state", "sum", "mean", "min", "max")

type Latest = dict[str, tuple[str, float, Mapping[str, Any]]]
"""Per entity: its latest state, timestamp and attributes."""

type Symbols = dict[str, str | None]
"""The symbols of a series' rows; one that is None is left out of the row."""


class ReadingColumns(Protocol):
    """Readings column by column; attributes only at rows where an entity's changed."""

    @property
    def entity_ids(self) -> Sequence[str]:
        """The entity of each reading."""

    @property
    def states(self) -> Sequence[str]:
        """The state of each reading, as HA holds it."""

    @property
    def timestamps(self) -> Sequence[float]:
        """The POSIX time of each reading (HA's last_updated)."""

    @property
    def attributes(self) -> Mapping[int, Mapping[str, Any]]:
        """Per row where an entity's attributes changed, its new attributes."""


@dataclass(slots=True)
class Batch:
    """ILP payloads (each at most `max_rows` lines) and what went into them."""

    payloads: list[tuple[bytes, int]] = field(default_factory=list)
    rows: int = 0
    skipped: int = 0
    latest: Latest = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatisticRow:
    """One long-term statistics row (period start, values in the stored unit)."""

    ts: datetime
    entity_id: str
    period: str
    state: float | None
    sum: float | None
    mean: float | None
    min: float | None
    max: float | None
    last_reset: datetime | None


_SENDERS: dict[int, Sender] = {}
_SENDER_LOCK: Final = threading.Lock()


def new_buffer(protocol_version: int = 1) -> Any:
    """Return an empty ILP buffer of a protocol version (1: text, one row a line).

    Buffers are made by a Sender, the client's public way to one: an ILP/HTTP
    sender with a fixed protocol version asks the server nothing when
    established, and this one is never flushed.
    """
    sender = _SENDERS.get(protocol_version)
    if sender is None:
        with _SENDER_LOCK:  # serialisers run in several executor threads
            sender = _SENDERS.get(protocol_version)
            if sender is None:
                sender = Sender(
                    IlpProtocol.Http,
                    "localhost",
                    9000,
                    protocol_version=protocol_version,
                    init_buf_size=_BUFFER_SIZE,
                    auto_flush=False,
                )
                sender.establish()  # type: ignore[no-untyped-call]  # unannotated in the stub
                _SENDERS[protocol_version] = sender
    return sender.new_buffer()


def timestamp_micros(
    timestamps: Sequence[float] | npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """Return the microsecond of each POSIX timestamp, as datetime.fromtimestamp rounds it.

    The dedup key of a row is (ts, entity_id): the live path, a replay and a
    backfill of the same state must land on the same microsecond (modf, then
    round half to even, as datetime does).
    """
    fraction, whole = np.modf(np.asarray(timestamps, dtype=np.float64))
    return whole.astype(np.int64) * 1_000_000 + np.rint(fraction * 1e6).astype(np.int64)


def datetime_nanos(moment: datetime) -> int:
    """Return the epoch nanoseconds of a datetime (naive: UTC), exactly."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND * 1000


def reading_value(raw: str) -> float | None:
    """Return one state as the number to store, NaN for a gap, None to skip it.

    `unknown`/`unavailable` become NaN (QuestDB stores NULL, so the gap is
    visible); other non-numeric or non-finite states are not readings.
    """
    try:
        value = float(raw)
    except ValueError:
        return _NAN if raw in NO_VALUE_STATES else None
    # float() accepts "nan" and "inf"; those are not readings.
    return value if math.isfinite(value) else None


def reading_values(raws: Sequence[str]) -> list[float | None]:
    """Return reading_value of every state: a slice of numbers parsed in one C call.

    A slice holding anything that is not a number is parsed one state at a time.
    """
    values = np.zeros(len(raws), dtype=np.float64)
    parsed_alone: list[int] = []
    for offset in range(0, len(raws), _PARSE_SLICE):
        part = raws[offset : offset + _PARSE_SLICE]
        try:
            values[offset : offset + len(part)] = np.fromiter(
                map(float, part), dtype=np.float64, count=len(part)
            )
        except ValueError:
            parsed_alone.extend(range(offset, offset + len(part)))
    result: list[float | None] = list(values.tolist())
    # Rows of the C path that float() read as "nan" or "inf".
    for row in np.flatnonzero(~np.isfinite(values)).tolist():
        result[row] = None
    for row in parsed_alone:
        result[row] = reading_value(raws[row])
    return result


def _text(value: Any) -> str | None:
    """Return an attribute as a plain str; None and "" are no symbol."""
    if value is None or value == "":
        return None
    return str.__str__(value) if isinstance(value, str) else str(value)


def reading_symbols(
    entity_id: str, attributes: Mapping[str, Any], source: str
) -> tuple[Symbols, float]:
    """Return the symbols of an entity's rows and the factor to its stored unit."""
    # Integrations set these attributes as StrEnum members (SensorDeviceClass,
    # SensorStateClass) or other objects; the ILP client takes plain str only.
    device_class = _text(attributes.get("device_class"))
    unit, factor = stored_unit(
        device_class, _text(attributes.get("unit_of_measurement"))
    )
    return (
        {
            "entity_id": entity_id,
            "unit": _text(unit),
            "device_class": device_class,
            "state_class": _text(attributes.get("state_class")),
            "source": source,
        },
        factor,
    )


def serialise_readings(
    readings: ReadingColumns,
    source: str,
    max_rows: int,
    attributes_of: dict[str, Mapping[str, Any]] | None = None,
) -> Batch:
    """Turn readings into `energy_readings` rows, at most `max_rows` a payload.

    `attributes_of` holds each entity's attributes as of its last reading (kept by
    the caller across batches); a reading without attributes uses them. States
    and timestamps are converted a column at a time; the symbols and unit
    conversion of an entity are worked out again only at the rows where its
    attributes change, usually once per entity and batch.
    """
    if attributes_of is None:
        attributes_of = {}
    batch = Batch()
    entity_ids = readings.entity_ids
    if not entity_ids:
        return batch
    values = reading_values(readings.states)
    nanos = (timestamp_micros(readings.timestamps) * 1000).tolist()
    with_attributes = readings.attributes
    # Per entity: its symbols and conversion factor under its current attributes.
    symbols_of: dict[str, tuple[Symbols, float]] = {}
    last_row: dict[str, int] = {}
    buffer = new_buffer()
    write_row = buffer.row
    in_buffer = 0
    for row, entity_id in enumerate(entity_ids):
        last_row[entity_id] = row
        attributes = with_attributes.get(row)
        if attributes is not None:
            attributes_of[entity_id] = attributes
            symbols_of.pop(entity_id, None)
        symbols = symbols_of.get(entity_id)
        if symbols is None:
            symbols = symbols_of[entity_id] = reading_symbols(
                entity_id, attributes_of.get(entity_id, _EMPTY), source
            )
        value = values[row]
        if value is None:
            batch.skipped += 1
            continue
        write_row(
            READINGS_TABLE,
            symbols=symbols[0],
            columns={"value": value * symbols[1]},
            at=TimestampNanos(nanos[row]),
        )
        in_buffer += 1
        if in_buffer == max_rows:
            batch.payloads.append((bytes(buffer), in_buffer))
            batch.rows += in_buffer
            buffer = new_buffer()
            write_row = buffer.row
            in_buffer = 0
    if in_buffer:
        batch.payloads.append((bytes(buffer), in_buffer))
        batch.rows += in_buffer
    states, timestamps = readings.states, readings.timestamps
    for entity_id, row in last_row.items():
        batch.latest[entity_id] = (
            states[row],
            timestamps[row],
            attributes_of.get(entity_id, _EMPTY),
        )
    return batch


def serialise_statistics(rows: Iterable[StatisticRow]) -> tuple[bytes, int]:
    """Turn statistics rows into `energy_statistics` rows; return them and their count.

    A value that is None or not finite is left out (NULL); a row with no value at
    all is not written.
    """
    buffer = new_buffer()
    count = 0
    symbols_of: dict[tuple[str, str], Symbols] = {}
    for item in rows:
        columns: dict[str, Any] = {}
        for name, value in zip(
            _STATISTICS_COLUMNS,
            (item.state, item.sum, item.mean, item.min, item.max),
            strict=True,
        ):
            if value is not None and math.isfinite(value):
                columns[name] = float(value)
        if item.last_reset is not None:
            columns["last_reset"] = TimestampMicros(
                datetime_nanos(item.last_reset) // 1000
            )
        if not columns:
            continue
        key = (item.entity_id, item.period)
        symbols = symbols_of.get(key)
        if symbols is None:
            symbols = symbols_of[key] = {
                "entity_id": item.entity_id,
                "period": item.period,
            }
        buffer.row(
            STATISTICS_TABLE,
            symbols=symbols,
            columns=columns,
            at=TimestampNanos(datetime_nanos(item.ts)),
        )
        count += 1
    return bytes(buffer), count


def recorder_statistics(
    entity_id: str,
    period: str,
    rows: Sequence[Mapping[str, Any]],
    device_class: str | None,
    unit: str | None,
) -> list[StatisticRow]:
    """Turn HA recorder statistics rows (POSIX start and last_reset) into stored rows."""
    factor = stored_unit(device_class, unit)[1]

    def stored(stat: Mapping[str, Any], name: str) -> float | None:
        value = stat.get(name)
        return None if value is None else float(value) * factor

    return [
        StatisticRow(
            ts=datetime.fromtimestamp(stat["start"], UTC),
            entity_id=entity_id,
            period=period,
            state=stored(stat, "state"),
            sum=stored(stat, "sum"),
            mean=stored(stat, "mean"),
            min=stored(stat, "min"),
            max=stored(stat, "max"),
            last_reset=None
            if stat.get("last_reset") is None
            else datetime.fromtimestamp(stat["last_reset"], UTC),
        )
        for stat in rows
    ]


def split_lines(payload: bytes) -> list[bytes]:
    """Split a payload into its lines (each keeps its newline)."""
    return payload.splitlines(keepends=True)
