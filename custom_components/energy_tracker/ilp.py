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
from questdb._client import Buffer  # questdb.ingress re-exports it but is deprecated

from .schema import READINGS_TABLE, STATISTICS_TABLE
from .units import conversion_for

_NO_VALUE = frozenset({STATE_UNKNOWN, STATE_UNAVAILABLE})


@dataclass(slots=True)
class Batch:
    """ILP payloads (each at most `max_rows` lines) and what went into them."""

    payloads: list[tuple[bytes, int]] = field(default_factory=list)
    rows: int = 0
    skipped: int = 0
    latest: dict[str, State] = field(default_factory=dict)


def _new_buffer() -> Buffer:
    return Buffer(protocol_version=1, init_buf_size=1 << 20)


def serialise_states(
    states: Iterable[State | None], source: str, max_rows: int
) -> Batch:
    """Turn states into `energy_readings` rows.

    `unknown`/`unavailable` become a row without a value (NULL), so the gap is
    visible; other non-numeric or non-finite states are skipped and counted.
    """
    batch = Batch()
    buffer = _new_buffer()
    rows_in_buffer = 0
    # Per (entity, attributes object): the symbols and the conversion factor. Every
    # state of the batch is alive while this runs, so id() cannot be reused meanwhile.
    meta: dict[tuple[str, int], tuple[dict[str, str | None], float]] = {}
    latest = batch.latest
    row = buffer.row
    columns: dict[str, Any] = {"value": None}
    for state in states:
        if state is None:
            continue
        entity_id = state.entity_id
        latest[entity_id] = state
        attributes = state.attributes
        key = (entity_id, id(attributes))
        found = meta.get(key)
        if found is None:
            device_class = attributes.get("device_class")
            unit = attributes.get("unit_of_measurement")
            conversion = conversion_for(device_class, unit)
            found = (
                {
                    "entity_id": entity_id,
                    "unit": unit if conversion is None else conversion.unit,
                    "device_class": device_class,
                    "state_class": attributes.get("state_class"),
                    "source": source,
                },
                1.0 if conversion is None else conversion.factor,
            )
            meta[key] = found
        symbols, factor = found
        raw = state.state
        value: float | None
        if raw in _NO_VALUE:
            value = None
        else:
            try:
                value = float(raw)
            except ValueError:
                batch.skipped += 1
                continue
            if not math.isfinite(value):
                batch.skipped += 1
                continue
            if factor != 1.0:
                value *= factor
        columns["value"] = value
        row(READINGS_TABLE, symbols=symbols, columns=columns, at=state.last_updated)
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
