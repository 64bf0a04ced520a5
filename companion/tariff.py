"""The tariff set in the companion: what grid energy costs where HA's settings name no price.

A flow's tariff is a fixed price, time-of-use windows, or both (the price outside
every window). Windows are in HA's time zone; an hour is priced at its middle, so
a window from 07:00 to 23:00 prices the hours 07:00 to 22:00. A window whose end is
not after its start runs past midnight (22:00 to 06:00).
"""

from __future__ import annotations

from datetime import datetime
import re
from typing import Annotated, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from companion.core import schema
from companion.mongo import Mongo

TARIFF_ID: Final = "tariff"
MAX_WINDOWS: Final = 48
WEEKEND: Final = frozenset({5, 6})  # Saturday, Sunday

Price = Annotated[
    float, Field(ge=0, description="per kWh, in HA's currency", allow_inf_nan=False)
]
_TIME_OF_DAY: Final = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _time_of_day(text: str) -> str:
    if not _TIME_OF_DAY.match(text):
        raise ValueError(f"{text!r} is no time of day: write HH:MM, 00:00 to 24:00")
    return text


TimeOfDay = Annotated[
    str,
    AfterValidator(_time_of_day),
    WithJsonSchema({"type": "string", "pattern": _TIME_OF_DAY.pattern}),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class TimeWindow(_Model):
    """A price for some hours of some days."""

    days: Annotated[
        Literal["all", "weekdays", "weekend"],
        Field(description="weekdays: Monday to Friday"),
    ] = "all"
    start: TimeOfDay
    end: Annotated[
        TimeOfDay, Field(description="HH:MM; not after start: past midnight")
    ]
    price: Price

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if (
            _minutes(self.start) == _minutes(self.end) % (24 * 60)
            and self.end != "24:00"
        ):
            raise ValueError("a window's start and end must differ")
        return self

    def holds(self, moment: datetime) -> bool:
        """Whether local `moment` falls in this window."""
        weekend = moment.weekday() in WEEKEND
        if (self.days == "weekdays" and weekend) or (
            self.days == "weekend" and not weekend
        ):
            return False
        minute = moment.hour * 60 + moment.minute
        start, end = _minutes(self.start), _minutes(self.end)
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end


class FlowTariff(_Model):
    """One flow's tariff: windows first, the fixed price outside them."""

    price: Annotated[Price | None, Field(description="outside every window")] = None
    windows: Annotated[list[TimeWindow], Field(max_length=MAX_WINDOWS)] = []

    @model_validator(mode="after")
    def _priced(self) -> Self:
        if self.price is None and not self.windows:
            raise ValueError("a tariff needs a price or a window")
        return self

    def price_at(self, moment: datetime) -> float | None:
        """The price at local `moment`: its first window's, else the fixed one."""
        for window in self.windows:
            if window.holds(moment):
                return window.price
        return self.price


class Tariff(_Model):
    """What grid import costs and grid export earns, where HA's settings say nothing."""

    grid_import: FlowTariff | None = None
    grid_export: FlowTariff | None = None


class Tariffs:
    """The tariff kept in MongoDB's settings collection."""

    def __init__(self, mongo: Mongo) -> None:
        """Keep it in `mongo`."""
        self._mongo = mongo

    async def stored(self) -> Tariff:
        """The tariff saved last (an empty one before the first)."""
        document = await self._mongo.db[schema.SETTINGS].find_one(
            {"_id": TARIFF_ID}, {"_id": 0}
        )
        return Tariff.model_validate(document or {})

    async def save(self, tariff: Tariff) -> None:
        """Keep `tariff` in place of the one before."""
        await self._mongo.db[schema.SETTINGS].replace_one(
            {"_id": TARIFF_ID},
            {"_id": TARIFF_ID, **tariff.model_dump()},
            upsert=True,
        )
