"""Serialisation of readings and statistics to ILP lines with the questdb client's Buffer.

Protocol version 1 keeps every row one text line, so the spool and the dead-letter
file can split batches by line. These functions block: run them in an executor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import math
from math import modf
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import State
from questdb import TimestampNanos
from questdb._client import Buffer  # questdb.ingress re-exports it but is deprecated

from .schema import READINGS_TABLE, STATISTICS_TABLE
from .units import conversion_for

_NO_VALUE = frozenset({STATE_UNKNOWN, STATE_UNAVAILABLE})
_EMPTY: Mapping[str, Any] = {}


type Reading = tuple[str, str, float] | tuple[str, str, float, Mapping[str, Any]]
"""(entity_id, state, last_updated timestamp[, attributes]) as captured on the loop.

The attributes come only when they differ from the entity's previous reading, so
the buffer holds few GC-tracked objects; `AttributeTracker` restores them in order.
"""


@dataclass(slots=True)
class Batch:
    """ILP payloads (each at most `max_rows` lines) and what went into them."""

    payloads: list[tuple[bytes, int]] = field(default_factory=list)
    rows: int = 0
    skipped: int = 0
    latest: dict[str, tuple[str, float, Mapping[str, Any]]] = field(
        default_factory=dict
    )


def _new_buffer() -> Buffer:
    return Buffer(protocol_version=1, init_buf_size=1 << 20)


def readings_from_states(states: Iterable[State]) -> list[Reading]:
    """Turn State objects (e.g. from the recorder) into readings with attributes."""
    return [
        (s.entity_id, s.state, s.last_updated_timestamp, s.attributes) for s in states
    ]


def _number(raw: str) -> float | None:
    """Return a finite number, or None for anything else."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _text(value: Any) -> str | None:
    """Return an attribute as a plain str (None stays None)."""
    if value is None:
        return None
    return str.__str__(value) if isinstance(value, str) else str(value)


def _symbols(
    entity_id: str, attributes: Mapping[str, Any], source: str
) -> tuple[dict[str, str | None], float]:
    """Return the symbols of an entity's rows and its conversion factor."""
    # Integrations set these attributes as StrEnum members (SensorDeviceClass,
    # SensorStateClass) or other objects; the ILP client takes plain str only.
    device_class = _text(attributes.get("device_class"))
    unit = _text(attributes.get("unit_of_measurement"))
    conversion = conversion_for(device_class, unit)
    return (
        {
            "entity_id": entity_id,
            "unit": unit if conversion is None else conversion.unit,
            "device_class": device_class,
            "state_class": _text(attributes.get("state_class")),
            "source": source,
        },
        1.0 if conversion is None else conversion.factor,
    )


def serialise_readings(
    readings: Iterable[Reading],
    source: str,
    max_rows: int,
    attributes_of: dict[str, Mapping[str, Any]] | None = None,
) -> Batch:
    """Turn readings into `energy_readings` rows.

    `attributes_of` holds each entity's attributes as of its last reading (kept by
    the caller across batches); a reading without attributes uses them.
    `unknown`/`unavailable` become a row without a value (NULL), so the gap is
    visible; other non-numeric or non-finite states are skipped and counted.
    """
    if attributes_of is None:
        attributes_of = {}
    batch = Batch()
    buffer = _new_buffer()
    rows_in_buffer = 0
    # Per (entity, attributes object): the symbols and the conversion factor. The
    # attributes are referenced from `attributes_of`/`readings` meanwhile, so their
    # id() cannot be reused while this runs.
    meta: dict[tuple[str, int], tuple[dict[str, str | None], float]] = {}
    latest = batch.latest
    row = buffer.row
    columns: dict[str, Any] = {"value": None}
    for reading in readings:
        entity_id = reading[0]
        if len(reading) == 4:
            attributes = reading[3]
            attributes_of[entity_id] = attributes
        else:
            attributes = attributes_of.get(entity_id, _EMPTY)
        raw = reading[1]
        timestamp = reading[2]
        latest[entity_id] = (raw, timestamp, attributes)
        key = (entity_id, id(attributes))
        found = meta.get(key)
        if found is None:
            found = meta[key] = _symbols(entity_id, attributes, source)
        symbols, factor = found
        if raw in _NO_VALUE:
            columns["value"] = None
        else:
            value = _number(raw)
            if value is None:
                batch.skipped += 1
                continue
            columns["value"] = value * factor if factor != 1.0 else value
        # The microsecond of HA's last_updated: rounded the way datetime does it.
        fraction, whole = modf(timestamp)
        row(
            READINGS_TABLE,
            symbols=symbols,
            columns=columns,
            at=TimestampNanos((int(whole) * 1_000_000 + round(fraction * 1e6)) * 1000),
        )
        rows_in_buffer += 1
        if rows_in_buffer >= max_rows:
            batch.payloads.append((bytes(buffer), rows_in_buffer))
            batch.rows += rows_in_buffer
            buffer.clear()  # type: ignore[no-untyped-call]
            rows_in_buffer = 0
    if rows_in_buffer:
        batch.payloads.append((bytes(buffer), rows_in_buffer))
        batch.rows += rows_in_buffer
    return batch


def serialise_statistics(
    entity_id: str,
    period: str,
    rows: Sequence[Mapping[str, Any]],
    device_class: str | None,
    unit: str | None,
) -> tuple[bytes, int]:
    """Turn recorder statistics rows into `energy_statistics` rows (stored unit)."""
    conversion = conversion_for(device_class, unit)
    factor = 1.0 if conversion is None else conversion.factor
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
