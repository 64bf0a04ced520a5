"""The real Home Assistant process the tests share: one per test session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools.hass_runner import HomeAssistantProcess


@dataclass(frozen=True, slots=True)
class HomeAssistant:
    """The running HA process the tests talk to."""

    process: HomeAssistantProcess
    token: str = field(repr=False)

    @property
    def url(self) -> str:
        """HTTP base URL."""
        return self.process.url

    def post_state(
        self, entity_id: str, state: str | float, attributes: dict[str, Any]
    ) -> None:
        """Set a state (HA records it in its history)."""
        self.process.post_state(entity_id, state, attributes)

    def command(self, payload: dict[str, Any]) -> Any:
        """Run one WebSocket command directly (blocking)."""
        return self.process.websocket_command(payload)

    def import_statistics(
        self,
        statistic_id: str,
        unit: str,
        rows: list[dict[str, Any]],
        *,
        has_sum: bool = True,
        has_mean: bool = False,
        unit_class: str = "energy",
    ) -> None:
        """Write long-term statistics into HA's recorder (source: recorder)."""

        def iso(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else value

        self.command(
            {
                "type": "recorder/import_statistics",
                "metadata": {
                    "has_mean": has_mean,
                    "has_sum": has_sum,
                    "name": None,
                    "source": "recorder",
                    "statistic_id": statistic_id,
                    "unit_class": unit_class,
                    "unit_of_measurement": unit,
                },
                "stats": [{k: iso(v) for k, v in row.items()} for row in rows],
            }
        )


def deprecation_report(message: str) -> bool:
    """Return whether a log line is HA reporting this integration's use of an API.

    HA's frame helper writes "Detected that custom integration 'energy_tracker'
    …" when the integration calls something deprecated, or removed in a
    version it names.
    """
    return "custom integration 'energy_tracker'" in message
