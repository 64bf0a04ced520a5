"""Serialisation of readings and statistics to ILP lines with the questdb client's Buffer.

Protocol version 1 keeps every row one text line, so the spool and the dead-letter
file can split batches by line. These functions block: run them in an executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import math
from typing import Any

import numpy as np
import numpy.typing as npt
from questdb._client import (  # questdb.ingress re-exports them but is deprecated
    Buffer,
    TimestampNanos,
)

from .capture import Readings
from .core.schema import READINGS_TABLE, STATISTICS_TABLE
from .core.units import NO_VALUE_STATES, stored_unit

_EMPTY: Mapping[str, Any] = {}
_NAN = math.nan
# States parsed per C call; a slice holding a non-number is parsed one by one.
_PARSE_SLICE = 2048


type Latest = dict[str, tuple[str, float, Mapping[str, Any]]]
"""Per entity: its latest state, timestamp and attributes."""


@dataclass(slots=True)
class Batch:
    """ILP payloads (each at most `max_rows` lines) and what went into them."""

    payloads: list[tuple[bytes, int]] = field(default_factory=list)
    rows: int = 0
    skipped: int = 0
    latest: Latest = field(default_factory=dict)


def _new_buffer() -> Buffer:
    return Buffer(protocol_version=1, init_buf_size=1 << 20)


def _text(value: Any) -> str | None:
    """Return an attribute as a plain str (None stays None)."""
    if value is None:
        return None
    return str.__str__(value) if isinstance(value, str) else str(value)


def _symbols(
    entity_id: str, attributes: Mapping[str, Any], source: str
) -> tuple[dict[str, str | None], float]:
    """Return the symbols of an entity's rows and its conversion factor.

    A symbol that is None is left out of the row.
    """
    # Integrations set these attributes as StrEnum members (SensorDeviceClass,
    # SensorStateClass) or other objects; the ILP client takes plain str only.
    device_class = _text(attributes.get("device_class"))
    unit, factor = stored_unit(
        device_class, _text(attributes.get("unit_of_measurement"))
    )
    return (
        {
            "entity_id": entity_id,
            "unit": unit,
            "device_class": device_class,
            "state_class": _text(attributes.get("state_class")),
            "source": source,
        },
        factor,
    )


def timestamp_micros(
    timestamps: Sequence[float] | npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """Return the microsecond of each POSIX timestamp, as datetime.fromtimestamp rounds it.

    The dedup key of a row is (ts, entity_id): the live path, a replay and a
    backfill of the same state must land on the same microsecond (modf, then
    round half to even, as datetime does).
    """
    fraction, whole = np.modf(np.asarray(timestamps, dtype=np.float64))
    return whole.astype(np.int64) * 1_000_000 + np.round(fraction * 1e6).astype(
        np.int64
    )


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


def reading_values(raws: list[str]) -> list[float | None]:
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


def serialise_readings(
    readings: Readings,
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
    symbols_of: dict[str, tuple[dict[str, str | None], float]] = {}
    last_row: dict[str, int] = {}
    buffer = _new_buffer()
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
            symbols = symbols_of[entity_id] = _symbols(
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
            buffer = _new_buffer()
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


def serialise_statistics(
    entity_id: str,
    period: str,
    rows: Sequence[Mapping[str, Any]],
    device_class: str | None,
    unit: str | None,
) -> tuple[bytes, int]:
    """Turn recorder statistics rows into `energy_statistics` rows (stored unit)."""
    factor = stored_unit(device_class, unit)[1]
    buffer = _new_buffer()
    count = 0
    for stat in rows:
        columns: dict[str, Any] = {}
        for name in ("state", "sum", "mean", "min", "max"):
            value = stat.get(name)
            if value is not None and math.isfinite(value):
                columns[name] = float(value) * factor
        last_reset = stat.get("last_reset")
        if last_reset is not None:
            columns["last_reset"] = datetime.fromtimestamp(last_reset, UTC)
        buffer.row(
            STATISTICS_TABLE,
            symbols={"entity_id": entity_id, "period": period},
            columns=columns,
            at=datetime.fromtimestamp(stat["start"], UTC),
        )
        count += 1
    return bytes(buffer), count


def split_lines(payload: bytes) -> list[bytes]:
    """Split a payload into its lines (each keeps its newline)."""
    return payload.splitlines(keepends=True)
