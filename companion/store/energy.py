"""Energy per hour of many meters at once, for the overview: statistics, else readings.

An hour's energy is HA's own figure where the hourly statistics hold it: the `sum`
difference to the hour before, which is reset-aware and exactly what HA's Energy
page shows. Hours after the last statistic (HA writes one after its hour ends)
and meters without statistics take the reset-aware increase of their raw
readings, as the daily totals do.

User input only ever reaches SQL as bind parameters ($1…). What is formatted into
the text is table names, placeholders, strides chosen here, an epoch integer and a
time zone checked against the IANA database; hence the file-wide S608 exemption.
"""

# ruff: noqa: S608

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from companion.core import schema
from companion.questdb import QuestDB
from companion.timestamps import from_micros, naive_utc, to_micros
from companion.zones import checked_time_zone

HOUR_MICROS: Final = 3_600_000_000
type Stride = Literal["hour", "day", "month", "all"]
_SAMPLE: Final = {"day": "1d", "month": "1M"}
BASELINE_MARGIN: Final = timedelta(days=1)
QUARTER_MICROS: Final = 900_000_000


@dataclass(slots=True)
class Energy:
    """Per meter and bucket start (epoch µs): the energy of that bucket.

    `from_statistics` holds HA's figures per stride, in the unit of its statistics;
    `from_readings` the readings' increases per hour, in the unit they are stored in.
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


def _statistics_sql(
    count: int, stride: Stride, time_zone: str
) -> tuple[str, Callable[[datetime], list[Any]]]:
    """The query of `count` meters' last sums per stride, and its extra parameters.

    $1 and $2 are the margin and the end; one bucket needs the window's start too.
    """
    extra = 1 if stride == "all" else 0
    where = (
        f"FROM {schema.STATISTICS_TABLE} WHERE period = 'hour' AND ts >= $1 AND ts < $2 "
        f"AND entity_id IN ({_placeholders(count, 3 + extra)})"
    )
    if stride == "hour":
        sql = (
            "SELECT entity_id, cast(ts AS long) bucket, sum, cast(ts AS long) latest "
            f"{where} ORDER BY ts"
        )
    elif stride == "all":
        sql = (
            "SELECT entity_id, CASE WHEN ts < $3 THEN 0 ELSE 1 END bucket, "
            f"last(sum), cast(max(ts) AS long) latest {where} ORDER BY latest"
        )
    else:
        zone = checked_time_zone(time_zone)
        sql = (
            "SELECT entity_id, cast(ts AS long), total, cast(latest AS long) FROM ("
            f"SELECT entity_id, ts, last(sum) total, max(ts) latest {where} "
            f"SAMPLE BY {_SAMPLE[stride]} ALIGN TO CALENDAR TIME ZONE '{zone}') ORDER BY 2"
        )
    return sql, lambda start: [naive_utc(start)] if extra else []


class EnergyQueries:
    """The `Store`'s energy per hour of many meters (the overview's figures)."""

    questdb: QuestDB

    async def energy(
        self,
        statistic_ids: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        stride: Stride = "hour",
        time_zone: str = "UTC",
    ) -> Energy:
        """Energy of [start, end) (hour-aligned) per meter: per hour, day, month or all.

        HA's figures come per `stride` (days and months in `time_zone`, HA's), so a
        year by day reads 365 rows a meter, not 8,760; the readings' always per hour.
        """
        energy = Energy()
        if not statistic_ids:
            return energy
        ids = list(statistic_ids)
        last_hour = await self._statistics_changes(
            energy, ids, start, end, stride, time_zone
        )
        # Readings where statistics end: from the hour after each meter's last one.
        groups: dict[int, list[str]] = defaultdict(list)
        for stat in ids:
            first = (
                last_hour[stat] + HOUR_MICROS if stat in last_hour else to_micros(start)
            )
            if first < to_micros(end):
                groups[first].append(stat)
        # Usually two groups: meters with statistics up to the last hour or two,
        # and those without any; each group reads its own span only.
        answers = await asyncio.gather(
            *(
                self._hourly_increases(stats, from_micros(first), end)
                for first, stats in groups.items()
            )
        )
        for increases in answers:
            energy.from_readings.update(increases)
        return energy

    async def _statistics_changes(  # noqa: PLR0917 - one private call site
        self,
        energy: Energy,
        ids: list[str],
        start: datetime,
        end: datetime,
        stride: Stride,
        time_zone: str,
    ) -> dict[str, int]:
        """HA's changes per stride into `energy`; returns each meter's last hour (µs)."""
        # The window is read from a day earlier: the last sum before it (the
        # baseline of its first change) nearly always lies in that day, so it
        # comes with the window's rows instead of from a scan of all history.
        margin = start - BASELINE_MARGIN
        sql, params = _statistics_sql(len(ids), stride, time_zone)
        rows = await self.questdb.fetch(
            sql, naive_utc(margin), naive_utc(end), *params(start), *ids
        )
        first = to_micros(start)
        # HA's `change`: the last sum less the one before; 0 before a meter's first.
        previous: dict[str, float] = {}
        last_hour: dict[str, int] = {}
        inside: list[tuple[str, int, float]] = []
        for entity_id, bucket, total, latest in rows:
            if total is None:
                continue
            if latest < first:
                previous[entity_id] = total
            else:
                # One bucket for the whole window: it starts where the window does.
                inside.append((entity_id, first if stride == "all" else bucket, total))
                last_hour[entity_id] = latest
        if unanchored := sorted({row[0] for row in inside} - previous.keys()):
            # last(): rows are scanned in time order. Not LATEST ON: QuestDB keeps
            # the symbols of a LATEST ON with a bound IN list in its query cache,
            # and a later run with other ids answers the first run's rows.
            before = await self.questdb.fetch(
                f"SELECT entity_id, last(sum) FROM {schema.STATISTICS_TABLE} WHERE "
                f"period = 'hour' AND ts < $1 AND entity_id IN ({_placeholders(len(unanchored), 2)})",
                naive_utc(margin),
                *unanchored,
            )
            previous |= {
                str(e): float(total) for e, total in before if total is not None
            }
        for entity_id, bucket, total in inside:
            energy.from_statistics[entity_id][bucket] = total - previous.get(
                entity_id, 0.0
            )
            previous[entity_id] = total
        return last_hour

    async def _hourly_increases(
        self, entity_ids: list[str], start: datetime, end: datetime
    ) -> dict[str, dict[int, float]]:
        """Reset-aware increases of the readings per hour (a drop starts a new cycle)."""
        hourly = await self.questdb.fetch(
            "SELECT entity_id, cast(ts AS long), sum(inc), first(value) FROM ("
            "SELECT ts, entity_id, value, CASE WHEN prev IS NULL THEN 0.0 "
            "WHEN value >= prev THEN value - prev ELSE value END inc FROM ("
            "SELECT ts, entity_id, value, lag(value) OVER (PARTITION BY entity_id ORDER BY ts) prev "
            # Gaps (unknown, unavailable) are left out: the step across one is
            # measured from the reading before it.
            f"FROM {schema.READINGS_TABLE} WHERE ts >= $1 AND ts < $2 AND value != null "
            f"AND entity_id IN ({_placeholders(len(entity_ids), 3)}))"
            ") TIMESTAMP(ts) SAMPLE BY 1h ORDER BY 2",
            naive_utc(start),
            naive_utc(end),
            *entity_ids,
        )
        increases: dict[str, dict[int, float]] = defaultdict(dict)
        first_value: dict[str, tuple[int, float]] = {}
        for entity_id, hour, total, first in hourly:
            if first is not None:
                first_value.setdefault(entity_id, (hour, first))
            increases[entity_id][hour] = total or 0.0
        # The step from the last reading before the span to the first in it, for
        # the meters that have readings in it: one indexed lookup each.
        present = list(first_value)
        before = await asyncio.gather(
            *(
                self.questdb.fetch(
                    f"SELECT value FROM {schema.READINGS_TABLE} WHERE entity_id = $1 "
                    "AND ts < $2 AND value != null ORDER BY ts DESC LIMIT 1",
                    entity_id,
                    naive_utc(start),
                )
                for entity_id in present
            )
        )
        for entity_id, rows in zip(present, before, strict=True):
            if rows and (prior := rows[0][0]) is not None:
                hour, first = first_value[entity_id]
                increases[entity_id][hour] += first - prior if first >= prior else first
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
            if value is None:  # a quarter of gaps only
                last.pop(entity_id, None)
                continue
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
