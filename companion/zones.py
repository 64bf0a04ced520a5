"""Home Assistant's time zone: what "a day" is everywhere in the companion.

The companion has no time zone of its own. A day is one of HA's days, in the zone HA
reports in `get_config`; `HomeAssistantLink.time_zone` (hub.py) is the one place that
decides which zone that is, and this module holds what it answers with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import functools
import re
from typing import Final, Literal
from zoneinfo import ZoneInfo, available_timezones

_TZ_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")

# Where the zone in use comes from: HA itself in this process, the zone HA reported
# last (kept in MongoDB), or ENERGY_TRACKER_TIME_ZONE, which states HA's zone for a
# companion that has never reached HA.
type TimeZoneSource = Literal["home_assistant", "stored", "environment"]
TIME_ZONE_SOURCES: Final = ("home_assistant", "stored", "environment")


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())  # scans the tz database: once


def valid_time_zone(name: object) -> str | None:
    """The name when it is an IANA time zone (and so safe to put in SQL), else None."""
    if isinstance(name, str) and _TZ_NAME.match(name) and name in _time_zones():
        return name
    return None


def checked_time_zone(name: str) -> str:
    """The name when it is an IANA time zone; ValueError otherwise (never UTC instead)."""
    checked = valid_time_zone(name)
    if checked is None:
        raise ValueError(f"not an IANA time zone: {name!r}")
    return checked


@dataclass(frozen=True, slots=True)
class HomeTimeZone:
    """HA's time zone as the companion knows it, and where that knowledge comes from."""

    name: str
    source: TimeZoneSource
    learnt_at: datetime | None = None

    @property
    def info(self) -> ZoneInfo:
        """The zone itself."""
        return ZoneInfo(self.name)
