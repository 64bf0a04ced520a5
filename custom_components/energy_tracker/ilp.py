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

from homeassistant.core import State
import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in HA
from questdb._client import Buffer  # questdb.ingress re-exports it but is deprecated

from .schema import READINGS_TABLE, STATISTICS_TABLE
from .units import NO_VALUE_STATES, stored_unit

_SYMBOLS = ["entity_id", "unit", "device_class", "state_class", "source"]
_EMPTY: Mapping[str, Any] = {}
# States parsed per C call; a slice holding a non-number is parsed one by one.
_PARSE_SLICE = 2048
# Rows per Buffer.dataframe call: about 10 ms of holding the GIL on this machine;
# smaller slices cost more per row (each call plans the frame again).
_FRAME_SLICE = 8192


@dataclass(slots=True)
class Readings:
    """Readings column by column: (entity_id, state, last_updated timestamp) per row.

    The listener fills them with one list append per column, str and float only:
    capturing allocates no object the garbage collector tracks (a tuple or a
    State kept per reading would add to HA's collections), and what a flush
    frees is only the states and timestamps it held, half the objects a tuple
    per reading needs (the forwarder frees them in the executor). Attributes
    are kept only at the rows where an entity's attributes differ from its
    previous reading.
    """

    entity_ids: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    attributes: dict[int, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_states(cls, states: Iterable[State]) -> Readings:
        """Take State objects (e.g. from the recorder), each row with its attributes."""
        readings = cls()
        for row, state in enumerate(states):
            readings.entity_ids.append(state.entity_id)
            readings.states.append(state.state)
            readings.timestamps.append(state.last_updated_timestamp)
            readings.attributes[row] = state.attributes
        return readings

    def __len__(self) -> int:
        """Return the number of readings."""
        return len(self.entity_ids)

    def take(self) -> Readings:
        """Return every reading, moving the lists out (nothing copied); leave new empty ones.

        Whoever appends to the lists must bind the new ones (the forwarder's
        listener does, through its take).
        """
        taken = Readings(self.entity_ids, self.states, self.timestamps, self.attributes)
        self.entity_ids = []
        self.states = []
        self.timestamps = []
        self.attributes = {}
        return taken

    def clear(self) -> None:
        """Drop every reading (in the executor: most are the last references)."""
        self.entity_ids.clear()
        self.states.clear()
        self.timestamps.clear()
        self.attributes.clear()

    def split(self, size: int) -> list[Readings]:
        """Return the readings in consecutive parts of at most `size`."""
        if len(self) <= size:
            return [self] if len(self) else []
        parts = []
        for offset in range(0, len(self), size):
            end = offset + size
            parts.append(
                Readings(
                    self.entity_ids[offset:end],
                    self.states[offset:end],
                    self.timestamps[offset:end],
                    {
                        row - offset: attributes
                        for row, attributes in self.attributes.items()
                        if offset <= row < end
                    },
                )
            )
        return parts

    def prepend(self, *earlier: Readings) -> None:
        """Put readings in front of these, in place (the listener holds the lists)."""
        moved = sum(len(readings) for readings in earlier)
        if not moved:
            return
        attributes: dict[int, Mapping[str, Any]] = {}
        offset = 0
        for readings in earlier:
            attributes.update(
                (row + offset, value) for row, value in readings.attributes.items()
            )
            offset += len(readings)
        attributes.update(
            (row + moved, value) for row, value in self.attributes.items()
        )
        self.entity_ids[:0] = [e for readings in earlier for e in readings.entity_ids]
        self.states[:0] = [s for readings in earlier for s in readings.states]
        self.timestamps[:0] = [t for readings in earlier for t in readings.timestamps]
        self.attributes.clear()
        self.attributes.update(attributes)


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


def _values(raws: list[str]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Parse the states as numbers; return the values and which rows to skip.

    `unknown`/`unavailable` become NaN (QuestDB stores NULL, so the gap is
    visible); other non-numeric or non-finite states are skipped. The fast path
    parses a whole slice in C and only falls back to a loop for the slices that
    hold a state that is not a number.
    """
    count = len(raws)
    values = np.empty(count, dtype=np.float64)
    skip = np.zeros(count, dtype=np.bool_)
    nan = math.nan
    for offset in range(0, count, _PARSE_SLICE):
        part = raws[offset : offset + _PARSE_SLICE]
        try:
            values[offset : offset + len(part)] = np.fromiter(
                map(float, part), dtype=np.float64, count=len(part)
            )
        except ValueError:
            for index, raw in enumerate(part, offset):
                if raw in NO_VALUE_STATES:
                    values[index] = nan
                    continue
                try:
                    values[index] = float(raw)
                except ValueError:
                    skip[index] = True
    # float() accepts "nan" and "inf"; those are not readings.
    for row in np.flatnonzero(~np.isfinite(values)):
        if raws[row] not in NO_VALUE_STATES:
            skip[row] = True
    return values, skip


def serialise_readings(
    readings: Readings,
    source: str,
    max_rows: int,
    attributes_of: dict[str, Mapping[str, Any]] | None = None,
) -> Batch:
    """Turn readings into `energy_readings` rows, column at a time.

    `attributes_of` holds each entity's attributes as of its last reading (kept by
    the caller across batches); a reading without attributes uses them.
    List comprehensions take the fields, numpy and pandas parse, group and
    convert, and the questdb client's DataFrame path (`Buffer.dataframe`) writes
    the lines in C. Only the distinct (entity, attributes) pairs of a batch,
    usually one per entity, are looked at one by one, for their symbols and unit
    conversion.
    """
    if attributes_of is None:
        attributes_of = {}
    batch = Batch()
    count = len(readings)
    if not count:
        return batch
    entity_ids = readings.entity_ids
    raws = readings.states
    timestamps = np.array(readings.timestamps, dtype=np.float64)
    with_attributes = np.zeros(count, dtype=np.bool_)
    with_attributes[list(readings.attributes)] = True
    entity_codes = pd.factorize(np.array(entity_ids, dtype=object))[0]
    # An entity's attributes version at each row: how many readings with new
    # attributes it had so far in this batch (0: those it came in with).
    versions = (
        pd.Series(with_attributes.astype(np.int64))
        .groupby(entity_codes)
        .cumsum()
        .to_numpy()
    )
    meta_of = pd.factorize(
        entity_codes.astype(np.int64) * (int(with_attributes.sum()) + 1) + versions
    )[0]
    # A version's first row is the one that brought its attributes (version 0:
    # none did, the entity's attributes from earlier batches apply).
    meta_attributes: list[Mapping[str, Any]] = []
    metas = []
    for row in np.unique(meta_of, return_index=True)[1].tolist():
        entity_id = entity_ids[row]
        attributes = readings.attributes.get(row)
        if attributes is None:
            attributes = attributes_of.get(entity_id, _EMPTY)
        meta_attributes.append(attributes)
        metas.append(_symbols(entity_id, attributes, source))
    latest = batch.latest
    last_rows = count - 1 - np.unique(entity_codes[::-1], return_index=True)[1]
    for row in last_rows.tolist():
        entity_id = entity_ids[row]
        attributes = meta_attributes[meta_of[row]]
        attributes_of[entity_id] = attributes
        latest[entity_id] = (raws[row], float(timestamps[row]), attributes)
    values, skip = _values(raws)
    batch.skipped = int(skip.sum())
    if batch.skipped:
        keep = ~skip
        values, timestamps, meta_of = values[keep], timestamps[keep], meta_of[keep]
    if len(values):
        _write_frame(
            batch, _source_columns(metas, meta_of), values, timestamps, max_rows
        )
    return batch


def _source_columns(
    metas: list[tuple[dict[str, str | None], float]], which: npt.NDArray[np.intp]
) -> tuple[dict[str, Any], npt.NDArray[np.float64]]:
    """Return the symbol columns and each row's conversion factor."""
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
    symbols: tuple[dict[str, Any], npt.NDArray[np.float64]],
    values: npt.NDArray[np.float64],
    timestamps: npt.NDArray[np.float64],
    max_rows: int,
) -> None:
    """Write the rows with the client's DataFrame path, at most `max_rows` a payload."""
    rows = len(values)
    columns, factors = symbols
    columns["value"] = values * factors
    # The microsecond of HA's last_updated, rounded the way datetime does it
    # (modf, then round half to even, as Python's round()).
    fraction, whole = np.modf(timestamps)
    nanos = (
        whole.astype(np.int64) * 1_000_000 + np.round(fraction * 1e6).astype(np.int64)
    ) * 1000
    columns["ts"] = nanos.view("datetime64[ns]")
    frame = pd.DataFrame(columns, copy=False)
    symbol_names = [name for name in _SYMBOLS if name in columns]
    for offset in range(0, rows, max_rows):
        end = min(offset + max_rows, rows)
        buffer = _new_buffer()
        # The client holds the GIL while it writes str columns: slices keep each
        # hold short, so HA's loop thread gets its turn between them.
        for start in range(offset, end, _FRAME_SLICE):
            buffer.dataframe(
                frame.iloc[start : min(start + _FRAME_SLICE, end)],
                table_name=READINGS_TABLE,
                symbols=symbol_names,
                at="ts",
            )
        batch.payloads.append((bytes(buffer), end - offset))
    batch.rows = rows


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
