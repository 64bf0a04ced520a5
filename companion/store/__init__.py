"""QuestDB reads of the API (parameterised SQL, PG wire and /exec) and idempotent ILP writes.

`Store` gathers them, one module a job: `readings` (raw readings and their chart
columns), `statistics` (statistics per period, raw readings where they miss),
`daily` (daily totals), `energy` (energy per hour of many meters), `statistics_writes` and `history_writes` (ILP rows,
serialised by the core's `ilp`).
"""

from __future__ import annotations

from companion.config import CompanionConfig
from companion.core import ilp
from companion.questdb import QuestDB

from .daily import DailyQueries
from .energy import EnergyQueries
from .history_writes import HistoryWrites
from .readings import ReadingQueries
from .statistics import StatisticsQueries
from .statistics_writes import StatisticsWrites

StatisticRow = ilp.StatisticRow
"""One long-term statistics row (period start, stored unit)."""


class Store(
    ReadingQueries,
    StatisticsQueries,
    DailyQueries,
    EnergyQueries,
    StatisticsWrites,
    HistoryWrites,
):
    """Reads and writes of energy_readings and energy_statistics."""

    def __init__(self, questdb: QuestDB, config: CompanionConfig) -> None:
        """Use the companion's QuestDB client (SQL over PG wire, ILP and /exec over HTTP)."""
        self.questdb = questdb
        self.config = config
