"""Serialisation of readings and statistics to ILP lines with the questdb client's Buffer.

Protocol version 1 keeps every row one text line, so the spool and the dead-letter
file can split batches by line. These functions block: run them in an executor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import math
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import State
import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in HA
from questdb._client import Buffer  # questdb.ingress re-exports it but is deprecated

from .schema import READINGS_TABLE, STATISTICS_TABLE
from .units import conversion_for

_NO_VALUE = frozenset({STATE_UNKNOWN, STATE_UNAVAILABLE})
_SYMBOLS = ["entity_id", "unit", "device_class", "state_class", "source"]
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
    `unknown`/`unavailable` become a row without a value (NaN, which QuestDB stores
    as NULL), so the gap is visible; other non-numeric or non-finite states are
    skipped and counted.

    One pass in Python collects the columns; the questdb client's DataFrame path
    (`Buffer.dataframe`) then writes the lines in C, about 4x faster than a
    `Buffer.row` call per row.
    """
    if attributes_of is None:
        attributes_of = {}
    batch = Batch()
    # Per (entity, attributes object): an index into `metas`. The attributes are
    # referenced from `attributes_of`/`readings` meanwhile, so their id() cannot be
    # reused while this runs.
    meta_index: dict[tuple[str, int], int] = {}
    metas: list[tuple[dict[str, str | None], float]] = []
    latest = batch.latest
    meta_of: list[int] = []
    values: list[float] = []
    timestamps: list[float] = []
    add_meta = meta_of.append
    add_value = values.append
    add_timestamp = timestamps.append
    nan = math.nan
    isfinite = math.isfinite
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
        index = meta_index.get(key)
        if index is None:
            index = meta_index[key] = len(metas)
            metas.append(_symbols(entity_id, attributes, source))
        if raw in _NO_VALUE:
            value = nan
        else:
            try:
                value = float(raw)
            except ValueError:
                batch.skipped += 1
                continue
            if not isfinite(value):
                batch.skipped += 1
                continue
        add_meta(index)
        add_value(value)
        add_timestamp(timestamp)
    if values:
        _write_frame(
            batch, source_columns(metas, meta_of), values, timestamps, max_rows
        )
    return batch


def source_columns(
    metas: list[tuple[dict[str, str | None], float]], meta_of: list[int]
) -> tuple[dict[str, Any], Any]:
    """Return the symbol columns and each row's conversion factor."""
    which = np.fromiter(meta_of, dtype=np.intp, count=len(meta_of))
    used = np.bincount(which, minlength=len(metas)) > 0
    columns: dict[str, Any] = {}
    for name in _SYMBOLS:
        names = [m[0][name] for m in metas]
        # A column of None only has no type the client accepts; leave it out.
        if all(n is None for n, u in zip(names, used, strict=True) if u):
            continue
        per_meta = np.empty(len(metas), dtype=object)
        per_meta[:] = names
        columns[name] = per_meta[which]
    factors = np.fromiter((m[1] for m in metas), dtype=np.float64, count=len(metas))
    return columns, factors[which]


def _write_frame(
    batch: Batch,
    symbols: tuple[dict[str, Any], Any],
    values: list[float],
    timestamps: list[float],
    max_rows: int,
) -> None:
    """Write the rows with the client's DataFrame path, at most `max_rows` a payload."""
    rows = len(values)
    columns, factors = symbols
    columns["value"] = np.fromiter(values, dtype=np.float64, count=rows) * factors
    # The microsecond of HA's last_updated, rounded the way datetime does it
    # (modf, then round half to even, as Python's round()).
    fraction, whole = np.modf(np.fromiter(timestamps, dtype=np.float64, count=rows))
    nanos = (
        whole.astype(np.int64) * 1_000_000 + np.round(fraction * 1e6).astype(np.int64)
    ) * 1000
    columns["ts"] = nanos.view("datetime64[ns]")
    frame = pd.DataFrame(columns, copy=False)
    for offset in range(0, rows, max_rows):
        part = frame.iloc[offset : offset + max_rows]
        buffer = _new_buffer()
        buffer.dataframe(
            part,
            table_name=READINGS_TABLE,
            symbols=[name for name in _SYMBOLS if name in columns],
            at="ts",
        )
        batch.payloads.append((bytes(buffer), len(part)))
    batch.rows = rows


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
