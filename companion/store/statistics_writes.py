"""Long-term statistics rows written to energy_statistics."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import batched
from typing import TYPE_CHECKING, Final

from companion.core import ilp
from companion.questdb import QuestDB

if TYPE_CHECKING:
    from . import StatisticRow

# Rows per ILP request (one transaction each).
STATISTICS_REQUEST_ROWS: Final = 100_000


class StatisticsWrites:
    """The `Store`'s writes of statistics rows."""

    questdb: QuestDB

    async def write_statistics(self, rows: Iterable[StatisticRow]) -> int:
        """Write statistics rows; returns how many rows were sent."""
        sent = 0
        schema_ready = False
        for part in batched(rows, STATISTICS_REQUEST_ROWS, strict=False):
            payload, count = ilp.serialise_statistics(part)
            if not count:
                continue
            if not schema_ready:
                await self.questdb.ensure_schema()
                schema_ready = True
            await self.questdb.write_ilp(payload)
            sent += count
        return sent
