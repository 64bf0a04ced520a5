"""What the energy endpoints answer: HA's Energy settings and the whole-home overview."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired, TypedDict

from pydantic import Field

from companion.core import energy_setup

from .responses import IsoTime, TimeZoneSource


class EnergySettingsAnswer(TypedDict):
    """HA's Energy settings as the companion read them last."""

    configured: bool
    synced_at: IsoTime
    home_assistant_url: str | None
    currency: Annotated[str | None, Field(description="HA's currency (ISO 4217)")]
    setup: energy_setup.EnergySetup


class Quantity(TypedDict):
    """A volume or energy in the unit of HA's statistics."""

    value: float
    unit: str


class OverviewFigures(TypedDict):
    """The whole home over a span; what HA's Energy settings do not name is absent."""

    grid_import_kwh: NotRequired[float]
    grid_export_kwh: NotRequired[float]
    solar_kwh: NotRequired[float]
    battery_in_kwh: NotRequired[float]
    battery_out_kwh: NotRequired[float]
    home_kwh: Annotated[
        float,
        Field(
            description="grid import + solar + battery out - grid export - battery in"
        ),
    ]
    gas: NotRequired[Quantity]
    water: NotRequired[Quantity]
    devices: NotRequired[
        Annotated[dict[str, float], Field(description="kWh per device HA names")]
    ]
    untracked_kwh: NotRequired[
        Annotated[
            float, Field(description="home - the top-level devices, never negative")
        ]
    ]
    over_reported_kwh: NotRequired[
        Annotated[float, Field(description="the top-level devices beyond home")]
    ]
    cost: NotRequired[
        Annotated[float, Field(description="grid import, gas and water, HA's currency")]
    ]
    compensation: NotRequired[
        Annotated[float, Field(description="what the grid export earned")]
    ]
    self_consumption: Annotated[
        float | None, Field(description="(solar - export) / solar; null without solar")
    ]
    self_sufficiency: Annotated[
        float | None, Field(description="1 - grid import / home; null without use")
    ]
    base_load_w: NotRequired[
        Annotated[
            float | None,
            Field(
                description="mean of the days' standby power (day buckets and longer)"
            ),
        ]
    ]


class OverviewBucket(OverviewFigures):
    """One bucket: an hour, or a local day, week or month."""

    start: IsoTime
    end: IsoTime


class BaseLoadDay(TypedDict):
    """A local day's standby power: its lowest 15-minute mean power."""

    date: Annotated[str, Field(description="local date, YYYY-MM-DD")]
    w: float


class OverviewAnswer(TypedDict):
    """The whole home per bucket, with totals and the spans before to compare with."""

    time_zone: str
    time_zone_source: TimeZoneSource
    currency: str | None
    period: Literal["hour", "day", "week", "month"]
    start_time: IsoTime
    end_time: IsoTime
    base_load_source: Annotated[
        Literal["home_power", "meters"] | None,
        Field(
            description="home_power: the power sensor HA's settings name; meters: "
            "derived from the energy meters; null: hourly buckets (none computed)"
        ),
    ]
    price_sources: Annotated[
        dict[str, Literal["statistic", "number", "entity", "tariff"] | None],
        Field(
            description="per grid, gas and water flow, where its cost comes from: "
            "HA's cost statistic, the fixed price or price entity HA's settings name, "
            "the companion's tariff; null: no price"
        ),
    ]
    buckets: list[OverviewBucket]
    totals: OverviewFigures
    previous: Annotated[
        OverviewFigures, Field(description="the span just before, of the same length")
    ]
    previous_year: Annotated[
        OverviewFigures, Field(description="the same span a year earlier")
    ]
    base_load_w: list[BaseLoadDay]
