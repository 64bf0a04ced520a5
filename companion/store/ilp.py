"""ILP text shared by the writes: symbol escaping, a series' prefix, chunked posts.

Writes are idempotent thanks to the tables' DEDUP keys: a retried chunk is
harmless (DEDUP UPSERT), and QuestDB sorts each WAL commit natively, faster than
sorting the rows in Python first.
"""

from __future__ import annotations

from typing import Final

from companion.questdb import QuestDB
from companion.core import schema

# Lines per ILP request (about 10 MB of text).
ILP_CHUNK_LINES: Final = 100_000


def ilp_tag(value: str) -> str:
    """Escape an ILP symbol value."""
    return (
        value.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace("=", "\\=")
        .replace(" ", "\\ ")
        .replace("\n", "\\n")
    )


def readings_prefix(
    entity_id: str,
    unit: str | None,
    device_class: str | None,
    state_class: str | None,
    source: str,
) -> str:
    """`energy_readings,<symbols> value=` for one series (empty symbols left out)."""
    symbols = "".join(
        f",{name}={ilp_tag(value)}"
        for name, value in (
            ("entity_id", entity_id),
            ("unit", unit),
            ("device_class", device_class),
            ("state_class", state_class),
            ("source", source),
        )
        if value
    )
    return f"{schema.READINGS_TABLE}{symbols} value="


async def post_lines(questdb: QuestDB, lines: list[str]) -> None:
    """Send ILP lines in requests of ILP_CHUNK_LINES (the schema created first)."""
    if not lines:
        return
    await questdb.ensure_schema()
    for index in range(0, len(lines), ILP_CHUNK_LINES):
        body = "".join(lines[index : index + ILP_CHUNK_LINES]).encode()
        await questdb.write_ilp(body)
