"""Raw readings from QuestDB: rows of a window, its chart columns, recent counts.

User input only ever reaches SQL as bind parameters ($1…), or, on the /exec fast
path, as an entity id matching `_SAFE_ENTITY_ID`; the rest formatted into the text
is table names and an int limit (hence the file-wide S608 exemption).
"""

# ruff: noqa: S608

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
import re
from typing import Any, Final

import orjson

from companion.core import schema
from companion.questdb import QuestDB
from companion.timestamps import IsoUtcZ, iso_utc_micros, naive_utc

# What may be formatted into SQL text for the /exec fast path, and what a JSON
# column of text may hold (plain quoted words or null; number columns are checked
# by their type, see QuestDB.fetch_column_json).
_SAFE_ENTITY_ID = re.compile(r"^[a-z0-9_]{1,64}\.[a-z0-9_]{1,191}$")
# (bytes.translate deletes them: what is left over is not allowed; ~1 ms a MB.)
_QUOTED_WORD_BYTES: Final = (
    b'"_,0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
)


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


class ReadingQueries:
    """The `Store`'s reads of energy_readings."""

    questdb: QuestDB

    async def readings(
        self, entity_id: str, since: datetime, until: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Raw readings in [since, until), newest first, at most `limit`."""
        # Timestamps travel as epoch microseconds: decoding 86,400 PG timestamps
        # costs several times more than the integers.
        rows = await self.questdb.fetch(
            f"SELECT cast(ts AS long), value, unit, source FROM {schema.READINGS_TABLE} "
            f"WHERE entity_id = $1 AND ts >= $2 AND ts < $3 "
            f"ORDER BY ts DESC LIMIT {int(limit)}",
            entity_id,
            naive_utc(since),
            naive_utc(until),
        )
        iso = IsoUtcZ()
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
                f"FROM {schema.READINGS_TABLE} WHERE entity_id = '{entity_id}' "
                f"AND ts >= '{iso_utc_micros(since)}' AND ts < '{iso_utc_micros(until)}' "
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
            f"SELECT cast(ts AS long) / 1000, value, source FROM {schema.READINGS_TABLE} "
            f"WHERE entity_id = $1 AND ts >= $2 AND ts < $3 "
            f"ORDER BY ts DESC LIMIT {int(limit)}",
            entity_id,
            naive_utc(since),
            naive_utc(until),
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

    async def reading_count_since(self, since: datetime) -> int:
        """How many readings were stored since `since`."""
        rows = await self.questdb.fetch(
            f"SELECT count() FROM {schema.READINGS_TABLE} WHERE ts >= $1",
            naive_utc(since),
        )
        return int(rows[0][0]) if rows else 0
