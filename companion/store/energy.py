"""Energy per hour of many meters at once, for the overview: statistics, else readings.

An hour's energy is HA's own figure where the hourly statistics hold it: the `sum`
difference to the hour before, which is reset-aware and exactly what HA's Energy
page shows. Hours after the last statistic (HA writes one after its hour ends)
and meters without statistics take the reset-aware increase of their raw
readings, as the daily totals do.

User input only ever reaches SQL as bind parameters ($1…). What is formatted into
the text is table names and placeholders; hence the file-wide S608 exemption.
"""

# ruff: noqa: S608

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from companion.core import schema
from companion.questdb import QuestDB
from companion.timestamps import from_micros, naive_utc, to_micros

HOUR_MICROS: Final = 3_600_000_000
QUARTER_MICROS: Final = 900_000_000


@dataclass(slots=True)
class HourlyEnergy:
    """Per meter and hour start (epoch µs): the energy of that hour.

    `from_statistics` holds HA's figures, in the unit of its statistics;
    `from_readings` the readings' increases, in the unit they are stored in.
    """

    from_statistics: dict[str, dict[int, float]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    from_readings: dict[str, dict[int, float]] = field(
        default_factory=lambda: defaultdict(dict)
    )


def _placeholders(count: int, first: int = 1) -> str:
    """Bind parameters of an IN list, typed: untyped ones fail on a view's symbols."""
    return ", ".join(f"${index}::varchar" for index in range(first, first + count))


class EnergyQueries:
    """The `Store`'s energy per hour of many meters (the overview's figures)."""

    questdb: QuestDB

    async def hourly_energy(
        self, statistic_ids: Sequence[str], start: datetime, end: datetime
    ) -> HourlyEnergy:
        """Energy per hour of [start, end) for each id (hour-aligned bounds)."""
        energy = HourlyEnergy()
        if not statistic_ids:
            return energy
        ids = list(statistic_ids)
        names = _placeholders(len(ids), 3)
        rows, before = await asyncio.gather(
            self.questdb.fetch(
                f"SELECT entity_id, cast(ts AS long), sum FROM {schema.STATISTICS_TABLE} "
                f"WHERE period = 'hour' AND ts >= $1 AND ts < $2 AND entity_id IN ({names}) "
                "ORDER BY ts",
                naive_utc(start),
                naive_utc(end),
                *ids,
            ),
            # last(): rows are scanned in time order. Not LATEST ON: QuestDB keeps
            # the symbols of a LATEST ON with a bound IN list in its query cache,
            # and a later run with other ids answers the first run's rows.
            self.questdb.fetch(
                f"SELECT entity_id, last(sum) FROM {schema.STATISTICS_TABLE} "
                f"WHERE period = 'hour' AND ts < $1 AND entity_id IN ({_placeholders(len(ids), 2)})",
                naive_utc(start),
                *ids,
            ),
        )
        # HA's `change`: the sum less the one before; 0 before a meter's first row.
        previous: dict[str, float] = {
            str(entity_id): float(total)
            for entity_id, total in before
            if total is not None
        }
        last_hour: dict[str, int] = {}
        for entity_id, hour, total in rows:
            if total is None:
                continue
            energy.from_statistics[entity_id][hour] = total - previous.get(
                entity_id, 0.0
            )
            previous[entity_id] = total
            last_hour[entity_id] = hour
        # Readings where statistics end: from the hour after each meter's last one.
        fallback_from = {
            stat: last_hour[stat] + HOUR_MICROS
            if stat in last_hour
            else to_micros(start)
            for stat in ids
        }
        pending = [
            stat for stat, first in fallback_from.items() if first < to_micros(end)
        ]
        if pending:
            lower = from_micros(min(fallback_from[stat] for stat in pending))
            increases = await self._hourly_increases(pending, lower, end)
            for stat, hours in increases.items():
                first = fallback_from[stat]
                energy.from_readings[stat] = {
                    hour: value for hour, value in hours.items() if hour >= first
                }
        return energy

    async def _hourly_increases(
        self, entity_ids: list[str], start: datetime, end: datetime
    ) -> dict[str, dict[int, float]]:
        """Reset-aware increases of the readings per hour (a drop starts a new cycle)."""
        names = _placeholders(len(entity_ids), 3)
        hourly, before = await asyncio.gather(
            self.questdb.fetch(
                "SELECT entity_id, cast(ts AS long), sum(inc), first(value) FROM ("
                "SELECT ts, entity_id, value, CASE WHEN prev IS NULL THEN 0.0 "
                "WHEN value >= prev THEN value - prev ELSE value END inc FROM ("
                "SELECT ts, entity_id, value, lag(value) OVER (PARTITION BY entity_id ORDER BY ts) prev "
                f"FROM {schema.READINGS_TABLE} WHERE ts >= $1 AND ts < $2 AND entity_id IN ({names}))"
                ") TIMESTAMP(ts) SAMPLE BY 1h ORDER BY 2",
                naive_utc(start),
                naive_utc(end),
                *entity_ids,
            ),
            # The last reading before the window, one indexed lookup per meter.
            asyncio.gather(
                *(
                    self.questdb.fetch(
                        f"SELECT value FROM {schema.READINGS_TABLE} WHERE entity_id = $1 "
                        "AND ts < $2 ORDER BY ts DESC LIMIT 1",
                        entity_id,
                        naive_utc(start),
                    )
                    for entity_id in entity_ids
                )
            ),
        )
        baseline = {
            entity_id: rows[0][0]
            for entity_id, rows in zip(entity_ids, before, strict=True)
            if rows
        }
        increases: dict[str, dict[int, float]] = defaultdict(dict)
        for entity_id, hour, total, first_value in hourly:
            hours = increases[entity_id]
            if not hours and (prior := baseline.get(entity_id)) is not None:
                # The step from the last reading before the window to the first in it.
                total += first_value - prior if first_value >= prior else first_value
            hours[hour] = total
        return increases

    async def quarter_mean_power(
        self, entity_id: str, start: datetime, end: datetime
    ) -> dict[int, float]:
        """Mean power per 15 minutes (quarter start µs → mean) of one power sensor."""
        rows = await self.questdb.fetch(
            "SELECT cast(ts AS long), avg(value) FROM "
            f"{schema.READINGS_TABLE} WHERE entity_id = $1 AND ts >= $2 AND ts < $3 "
            "SAMPLE BY 15m",
            entity_id,
            naive_utc(start),
            naive_utc(end),
        )
        return {quarter: mean for quarter, mean in rows if mean is not None}

    async def quarter_increases(
        self, entity_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, dict[int, float]]:
        """Per meter, its increase per 15 minutes, from the 15-minute view.

        A quarter counts only when the quarter before it has a reading too: the
        increase is then exactly that quarter's, never several quarters' at once.
        """
        if not entity_ids:
            return {}
        ids = list(entity_ids)
        rows = await self.questdb.fetch(
            f"SELECT entity_id, cast(ts AS long), last_value FROM {schema.READINGS_15M_VIEW} "
            f"WHERE ts >= $1 AND ts < $2 AND entity_id IN ({_placeholders(len(ids), 3)}) "
            "ORDER BY ts",
            naive_utc(start - timedelta(minutes=15)),
            naive_utc(end),
            *ids,
        )
        last: dict[str, tuple[int, float]] = {}
        increases: dict[str, dict[int, float]] = defaultdict(dict)
        for entity_id, quarter, value in rows:
            prior = last.get(entity_id)
            last[entity_id] = (quarter, value)
            if prior is None or prior[0] != quarter - QUARTER_MICROS:
                continue
            increases[entity_id][quarter] = (
                value - prior[1] if value >= prior[1] else value
            )
        return increases

    async def price_steps(
        self, entity_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[int, float]]]:
        """Per price entity, its readings (µs, price) in [start, end), and the one before."""

        async def steps(entity_id: str) -> list[tuple[int, float]]:
            before, inside = await asyncio.gather(
                self.questdb.fetch(
                    f"SELECT cast(ts AS long), value FROM {schema.READINGS_TABLE} "
                    "WHERE entity_id = $1 AND ts < $2 ORDER BY ts DESC LIMIT 1",
                    entity_id,
                    naive_utc(start),
                ),
                self.questdb.fetch(
                    f"SELECT cast(ts AS long), value FROM {schema.READINGS_TABLE} "
                    "WHERE entity_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts",
                    entity_id,
                    naive_utc(start),
                    naive_utc(end),
                ),
            )
            return [
                (moment, value)
                for moment, value in (*before, *inside)
                if value is not None
            ]

        answers = await asyncio.gather(*(steps(entity) for entity in entity_ids))
        return dict(zip(entity_ids, answers, strict=True))
