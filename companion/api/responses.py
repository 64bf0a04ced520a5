"""What the API answers: the shape of every success body, as typed dictionaries.

The handlers build these (the type checker holds them to it) and the OpenAPI document
describes them; typed dictionaries cost nothing per row of a large answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import Field, WithJsonSchema

from .models import Period

# zones.TimeZoneSource, spelt out: a type alias would be a reference in the schema.
TimeZoneSource = Literal["home_assistant", "stored", "environment"]
# A time as the API writes it: ISO 8601 in UTC, ending in Z.
IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
DatabaseState = Literal["connected", "unavailable"]
RowSource = Literal["statistics", "readings"]


class TimeZoneFields(TypedDict):
    """What every answer that mentions HA's time zone says about it.

    The companion has no zone of its own: a day is one of HA's days, in the zone HA
    reported.
    """

    time_zone: Annotated[
        str | None,
        Field(
            description="Home Assistant's IANA time zone, which decides what a day "
            "is; null when the companion has never learnt it (it never reached Home "
            "Assistant and ENERGY_TRACKER_TIME_ZONE is unset). Never UTC in its place."
        ),
    ]
    time_zone_known: Annotated[
        bool,
        Field(
            description="false when the zone was never learnt: answers made of days "
            "(daily totals, day and month statistics) are then refused with 409 "
            "time_zone_unknown; connect Home Assistant on the Settings page."
        ),
    ]
    time_zone_source: Annotated[
        TimeZoneSource | None,
        Field(
            description="home_assistant: HA answered this process; stored: the zone "
            "HA reported last, kept in MongoDB (HA is not answering now); "
            "environment: ENERGY_TRACKER_TIME_ZONE (HA was never reached); null: "
            "unknown."
        ),
    ]


# -- status -------------------------------------------------------------------------


class HomeAssistantState(TypedDict):
    """The companion's link to HA."""

    configured: bool
    connected: bool
    url: str | None
    version: str | None
    error: str | None


class Databases(TypedDict):
    """Whether each database answers."""

    questdb: DatabaseState
    mongodb: DatabaseState


class Forwarder(TypedDict):
    """One HA instance's integration, as its heartbeat document tells."""

    instance: str
    status: str | None
    heartbeat_at: IsoTime | None
    heartbeat_age_seconds: float | None
    stale: bool
    last_event_at: IsoTime | None
    spool_rows: int | None


class EventRecorder(TypedDict):
    """The freshest forwarder's state."""

    status: Annotated[str, Field(description="stale, unknown, or the forwarder's own")]
    heartbeat_age_seconds: float | None
    last_event_at: NotRequired[IsoTime | None]


class EntityCounts(TypedDict):
    """How many entities are known and tracked; null when MongoDB is down."""

    known: int | None
    tracked: int | None


class SyncState(TypedDict):
    """The reconciliation job."""

    last_reconciliation: IsoTime | None
    next_reconciliation: IsoTime | None
    open_gaps: int | None


class StatusAnswer(TimeZoneFields):
    """Health of HA, the databases, the forwarders and the jobs."""

    time: IsoTime
    home_assistant: HomeAssistantState
    databases: Databases
    forwarders: list[Forwarder]
    event_recorder: EventRecorder
    entities: EntityCounts
    events_today: Annotated[
        int | None,
        Field(
            description="readings since midnight in HA's time zone; null when "
            "QuestDB is down or the zone is unknown"
        ),
    ]
    sync: SyncState


# -- entities -----------------------------------------------------------------------


class Entity(TypedDict):
    """A known entity with its last value."""

    entity_id: str
    friendly_name: str
    state: float | None
    last_value: float | None
    last_value_at: IsoTime | None
    unit_of_measurement: str | None
    device_class: str | None
    state_class: str | None
    is_tracked: bool
    is_active: bool
    first_seen: IsoTime | None
    last_seen: IsoTime | None


class EntitiesAnswer(TypedDict):
    """Known entities."""

    entities: list[Entity]
    count: int


class DiscoveredAnswer(TypedDict):
    """The energy-related entities found in HA, each with its current state."""

    discovered: int
    entities: list[dict[str, Any]]


class TrackedAnswer(TypedDict):
    """The entities now tracked."""

    success: bool
    tracked: int
    entity_ids: list[str]


# -- statistics and readings --------------------------------------------------------


class Statistic(TypedDict):
    """One bucket: stored statistics, else aggregated from raw readings."""

    entity_id: str
    period: Period
    start_time: IsoTime
    end_time: IsoTime
    state: float | None
    sum: float | None
    mean: float | None
    min: float | None
    max: float | None
    last_reset: IsoTime | None
    source: RowSource


class StatisticsAnswer(TypedDict):
    """Statistics of one entity."""

    entity_id: str
    period: Period
    start_time: IsoTime
    end_time: IsoTime
    time_zone: Annotated[
        str | None,
        Field(
            description="HA's time zone, which day and month buckets follow; null "
            "for 5minute and hour, which follow none"
        ),
    ]
    time_zone_source: TimeZoneSource | None
    unit_of_measurement: str | None
    data: list[Statistic]


class DailySummary(TypedDict):
    """One of HA's days."""

    date: Annotated[str, Field(json_schema_extra={"format": "date"})]
    start_time: IsoTime
    end_time: IsoTime
    hours: float
    total: float | None
    avg_power: float | None
    peak: float | None
    peak_time: IsoTime | None
    readings: int
    source: RowSource


class DailyAnswer(TypedDict):
    """Per local day in HA's time zone."""

    entity_id: str
    time_zone: Annotated[str, Field(description="HA's time zone: the days' zone")]
    time_zone_known: Literal[True]
    time_zone_source: TimeZoneSource
    unit_of_measurement: str | None
    data: list[DailySummary]


class Reading(TypedDict):
    """One raw reading."""

    ts: IsoTime
    value: float | None
    unit: str | None
    source: str | None


class ReadingsHead(TypedDict):
    """What every readings answer says about itself."""

    entity_id: str
    since: IsoTime
    until: IsoTime
    limit: int
    count: int
    unit_of_measurement: str | None


class ReadingObjects(ReadingsHead):
    """Readings as objects with ISO times (format=objects)."""

    readings: list[Reading]


class ReadingColumns(TypedDict):
    """Parallel columns of readings."""

    ts: Annotated[list[int], Field(description="epoch milliseconds")]
    value: list[float | None]
    source: list[str | None]


class ReadingColumnsAnswer(ReadingsHead):
    """Readings as parallel columns (format=columns)."""

    columns: ReadingColumns


# -- jobs ---------------------------------------------------------------------------


class JobAccepted(TypedDict):
    """A job started in the background."""

    job_id: str
    status: str
    status_url: str


class JobAnswer(TypedDict):
    """Progress (phase, done, total, rows) and result of a job."""

    job_id: str
    kind: str | None
    status: str | None
    params: dict[str, Any] | None
    created_at: IsoTime | None
    started_at: IsoTime | None
    finished_at: IsoTime | None
    progress: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None


class SyncRun(TypedDict):
    """One reconciliation, backfill or recovery run."""

    id: str
    kind: str | None
    started_at: IsoTime | None
    finished_at: IsoTime | None
    window_start: IsoTime | None
    window_end: IsoTime | None
    entity_count: int | None
    rows: int | None
    outcome: Annotated[str | None, Field(description="ok or failed")]
    error: str | None


class SyncLogAnswer(TypedDict):
    """Recent runs, newest first."""

    limit: int
    runs: list[SyncRun]


# -- settings -----------------------------------------------------------------------


class HomeAssistantSettings(TypedDict):
    """Where HA is; never the token."""

    url: str | None
    token_set: bool
    source: str | None
    connected: bool


class JobSettings(TypedDict):
    """The jobs' intervals."""

    enabled: bool
    heartbeat_interval_seconds: float
    heartbeat_stale_after_seconds: float
    reconcile_interval_seconds: float


class SettingsAnswer(TimeZoneFields):
    """The companion's settings."""

    home_assistant: HomeAssistantSettings
    api_token_required: bool
    jobs: JobSettings


class SavedAnswer(TypedDict):
    """HA's address and token passed the test and are stored."""

    success: bool
    url: str
    ha_version: str | None
