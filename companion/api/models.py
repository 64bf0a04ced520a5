"""What the API accepts: its path parameters, queries and bodies, as validated models.

Every failure answers 400 (404 for a path) with a stable code: a validator's own
(`PydanticCustomError`), or the one the field's `Invalid` names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import re
from typing import Annotated, ClassVar, Final, Literal, Self, cast, get_args

from pydantic import (
    AfterValidator,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from companion import discovery
from companion.ha_client import FIELD_TOKEN, FIELD_URL
from companion.tariff import Tariff

from .ha_credentials import URL_EXAMPLE, home_assistant_token, home_assistant_url
from .spec import ApiModel, Invalid

# As schema.STATISTICS_PERIODS, spelt out for the type checker (a test compares them).
Period = Literal["5minute", "hour", "day", "month"]
PERIODS: Final[tuple[Period, ...]] = get_args(Period)
MAX_ENTITY_IDS = 1000
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def parse_time(raw: object, name: str) -> datetime:
    """An ISO 8601 time (UTC when no offset is given), within EARLIEST and LATEST."""
    if not isinstance(raw, str) or not 0 < len(raw) <= 64:
        raise PydanticCustomError("bad_time", f"{name} must be an ISO 8601 time")
    text = raw.strip().replace(" ", "T")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError(
            "bad_time", f"{name} must be an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise PydanticCustomError("bad_time", f"{name} is out of range") from None
    if not EARLIEST <= moment <= LATEST:
        raise PydanticCustomError("bad_time", f"{name} is out of range")
    return moment


def _time(raw: object, info: ValidationInfo) -> datetime:
    return parse_time(raw, info.field_name or "the time")


def _limit(cap: int) -> Callable[[object, ValidationInfo], int]:
    """A count given as digits, at least 1; more than `cap` is taken as `cap`."""

    def validate(raw: object, info: ValidationInfo) -> int:
        if (
            not isinstance(raw, str)
            or not (raw.isascii() and raw.isdigit())
            or len(raw) > 12
            or int(raw) < 1
        ):
            raise PydanticCustomError(
                "bad_limit", f"{info.field_name} must be a positive integer"
            )
        return min(int(raw), cap)

    return validate


def _entity_id(raw: object, info: ValidationInfo) -> str:
    if not isinstance(raw, str) or not discovery.ENTITY_ID.match(raw):
        raise PydanticCustomError(
            "bad_parameter", f"{info.field_name} holds an invalid entity id"
        )
    return raw


def _matching(pattern: re.Pattern[str]) -> Callable[[str], str]:
    def validate(raw: str) -> str:
        if not pattern.match(raw):
            raise ValueError("no match")
        return raw

    return validate


Time = Annotated[
    datetime,
    PlainValidator(_time),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
EntityId = Annotated[
    str,
    PlainValidator(_entity_id),
    WithJsonSchema({"type": "string", "pattern": discovery.ENTITY_ID.pattern}),
]
EntityIds = Annotated[list[EntityId], Field(max_length=MAX_ENTITY_IDS)]
ENTITY_IDS_INVALID = Invalid(
    "bad_parameter", f"entity_ids must be a list of at most {MAX_ENTITY_IDS} ids"
)
PeriodField = Annotated[
    Period, Invalid("bad_period", f"period must be one of {', '.join(PERIODS)}")
]


class _Window(ApiModel):
    """A query or body naming a [start, end) window; either end may be left out.

    The end defaults to now and the start to `DEFAULT_SPAN` before the end; a window
    longer than `max_span` is refused.
    """

    NAMES: ClassVar[tuple[str, str]] = ("start_time", "end_time")
    DEFAULT_SPAN: ClassVar[timedelta]
    MAX_SPAN: ClassVar[timedelta]
    _window: tuple[datetime, datetime] = PrivateAttr()

    def max_span(self) -> timedelta:
        """The longest window allowed."""
        return self.MAX_SPAN

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The [start, end) asked for, defaults applied."""
        return self._window

    @model_validator(mode="after")
    def _resolve_window(self) -> Self:
        start_name, end_name = self.NAMES
        start = cast("datetime | None", getattr(self, start_name))
        end = cast("datetime | None", getattr(self, end_name))
        end = end if end is not None else datetime.now(UTC)
        start = start if start is not None else end - self.DEFAULT_SPAN
        if start >= end:
            raise PydanticCustomError(
                "bad_range", f"{start_name} must be before {end_name}"
            )
        max_span = self.max_span()
        if end - start > max_span:
            raise PydanticCustomError(
                "bad_range", f"the range may span at most {max_span.days} days"
            )
        self._window = (start, end)
        return self


# -- paths --------------------------------------------------------------------------


class EntityPath(ApiModel):
    """A path naming one entity; one that cannot be an entity id is unknown (404)."""

    entity_id: Annotated[
        str,
        Field(max_length=256),
        AfterValidator(_matching(discovery.ENTITY_ID)),
        Invalid("unknown_entity", "unknown entity", status=404),
    ]


class JobPath(ApiModel):
    """A path naming one job; one that cannot be a job id is unknown (404)."""

    job_id: Annotated[
        str,
        Field(pattern=JOB_ID.pattern),
        Invalid("unknown_job", "unknown job", status=404),
    ]


# -- queries ------------------------------------------------------------------------


class EntitiesQuery(ApiModel):
    """Which entities to list."""

    tracked: Annotated[
        Literal["true", "false"] | None,
        Field(description="only (un)tracked ones"),
        Invalid("bad_parameter", "tracked must be true or false"),
    ] = None


class EnergySettingsQuery(ApiModel):
    """Whether to ask HA now."""

    refresh: Annotated[
        Literal["true", "false"],
        Field(description="true: ask HA now instead of answering what was read last"),
        Invalid("bad_parameter", "refresh must be true or false"),
    ] = "false"


OverviewPeriod = Literal["hour", "day", "week", "month"]
OVERVIEW_PERIODS: Final[tuple[OverviewPeriod, ...]] = get_args(OverviewPeriod)


class _PeriodWindow(_Window):
    """A window of buckets of a period; the longest window depends on the period."""

    DEFAULT_SPAN = timedelta(days=7)
    # 31 days of 5-minute buckets, 400 days of hours, ten years of days and longer.
    MAX_SPANS: ClassVar[dict[str, timedelta]] = {
        "5minute": timedelta(days=31),
        "hour": timedelta(days=400),
        "day": timedelta(days=3700),
        "week": timedelta(days=3700),
        "month": timedelta(days=3700),
    }
    period: str

    def max_span(self) -> timedelta:
        """The longest window of this period."""
        return self.MAX_SPANS[self.period]


class OverviewQuery(_PeriodWindow):
    """The window and bucket length of the Energy overview."""

    start_time: Annotated[
        Time | None,
        Field(
            description="default: end_time - 7 days; buckets start at the one holding it"
        ),
    ] = None
    end_time: Annotated[
        Time | None,
        Field(description="default: now; buckets end at the end of the one holding it"),
    ] = None
    period: Annotated[
        OverviewPeriod,
        Field(description="default: day; weeks start on Monday, in HA's time zone"),
        Invalid("bad_period", f"period must be one of {', '.join(OVERVIEW_PERIODS)}"),
    ] = "day"


class StatisticsQuery(_PeriodWindow):
    """The window and period of statistics."""

    start_time: Annotated[
        Time | None, Field(description="default: end_time - 7 days")
    ] = None
    end_time: Annotated[Time | None, Field(description="default: now")] = None
    period: Annotated[PeriodField, Field(description="default: hour")] = "hour"


class DailyQuery(_Window):
    """The window of daily summaries."""

    DEFAULT_SPAN = timedelta(days=30)
    MAX_SPAN = timedelta(days=400)

    start_time: Annotated[
        Time | None, Field(description="default: end_time - 30 days")
    ] = None
    end_time: Annotated[Time | None, Field(description="default: now")] = None


class ReadingsQuery(_Window):
    """The window, count and shape of raw readings."""

    NAMES = ("since", "until")
    DEFAULT_SPAN = timedelta(days=1)
    MAX_SPAN = timedelta(days=400)

    since: Annotated[Time | None, Field(description="default: until - 24 h")] = None
    until: Annotated[Time | None, Field(description="default: now")] = None
    limit: Annotated[
        int,
        PlainValidator(_limit(100_000)),
        WithJsonSchema({"type": "integer", "minimum": 1}),
        Field(description="default 1000, capped at 100000"),
    ] = 1000
    format: Annotated[
        Literal["objects", "columns"],
        Field(
            description="objects (default: readings[] with ISO times) or columns "
            "(ts in epoch ms, value, source)"
        ),
        Invalid("bad_parameter", "format must be objects or columns"),
    ] = "objects"


class SyncLogQuery(ApiModel):
    """How many runs to list."""

    limit: Annotated[
        int,
        PlainValidator(_limit(500)),
        WithJsonSchema({"type": "integer", "minimum": 1}),
        Field(description="how many runs (capped at 500)"),
    ] = 50


# -- bodies -------------------------------------------------------------------------


class BackfillBody(_Window):
    """What to back-fill: entities (default: the tracked ones) and a window."""

    DEFAULT_SPAN = timedelta(days=1)
    MAX_SPAN = timedelta(days=366)

    entity_ids: Annotated[EntityIds | None, ENTITY_IDS_INVALID] = None
    start_time: Annotated[
        Time | None, Field(description="default: end_time - 1 day")
    ] = None
    end_time: Annotated[Time | None, Field(description="default: now")] = None


class StatisticsSyncBody(BackfillBody):
    """What to copy of HA's statistics: a backfill's entities and window, and a period."""

    period: Annotated[PeriodField, Field(description="default: hour")] = "hour"


class HomeAssistantBody(ApiModel):
    """Home Assistant's address and a long-lived access token to test and store."""

    url: Annotated[
        str,
        AfterValidator(home_assistant_url),
        Field(description="http(s)://host[:port]"),
        Invalid("bad_url", f"Enter Home Assistant's address, {URL_EXAMPLE}", FIELD_URL),
    ]
    token: Annotated[
        Annotated[str, AfterValidator(home_assistant_token)] | None,
        Field(
            description="a long-lived access token; left out or empty: keep the "
            "saved one"
        ),
        Invalid("bad_token", "The token must be text", FIELD_TOKEN),
    ] = None


class TrackedEntitiesBody(ApiModel):
    """The entities to track: exactly these, every other one untracked."""

    entity_ids: Annotated[EntityIds, ENTITY_IDS_INVALID]


class TariffBody(Tariff, ApiModel):
    """The tariff to keep: grid import and export, each a price and/or windows."""
