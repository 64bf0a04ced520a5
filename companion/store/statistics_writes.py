"""Long-term statistics rows written to energy_statistics as ILP text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from companion.questdb import QuestDB
from companion.core import schema
from companion.timestamps import to_micros, to_nanos

from .ilp import ilp_tag, post_lines

if TYPE_CHECKING:
    from . import StatisticRow


class StatisticsWrites:
    """The `Store`'s writes of statistics rows."""

    questdb: QuestDB

    async def write_statistics(self, rows: Iterable[StatisticRow]) -> int:
        """Write statistics rows; returns how many rows were sent."""
        prefixes: dict[tuple[str, str], str] = {}
        lines = []
        for item in rows:
            prefix = prefixes.get((item.entity_id, item.period))
            if prefix is None:
                prefix = prefixes[(item.entity_id, item.period)] = (
                    f"{schema.STATISTICS_TABLE},entity_id={ilp_tag(item.entity_id)},"
                    f"period={ilp_tag(item.period)} "
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
                fields.append(f"last_reset={to_micros(item.last_reset)}t")
            if fields:
                lines.append(f"{prefix}{','.join(fields)} {to_nanos(item.ts)}\n")
        await post_lines(self.questdb, lines)
        return len(lines)
