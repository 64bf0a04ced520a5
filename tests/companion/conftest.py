"""Fixtures of the companion tests: a real Home Assistant process, shared per session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
import os
from pathlib import Path
from typing import Any

import pytest
import pytest_socket  # type: ignore[import-untyped]

from tests.servers import Servers
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
                    "unit_of_measurement": unit,
                },
                "stats": [{k: iso(v) for k, v in row.items()} for row in rows],
            }
        )


@pytest.fixture(scope="session")
def home_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    """Start one real HA process for the whole session (it takes several seconds)."""
    port = int(os.environ.get("ENERGY_TRACKER_TEST_HA_PORT", "8223"))
    config_dir: Path = tmp_path_factory.mktemp("hass")
    process = HomeAssistantProcess(config_dir, port)
    # Session fixtures run while pytest-socket blocks sockets: allow them for start-up.
    pytest_socket.enable_socket()
    try:
        token = process.start()
    except Exception as err:  # noqa: BLE001 - reported as a test failure
        process.stop()
        pytest.fail(f"Home Assistant did not start: {err}", pytrace=False)
    finally:
        pytest_socket.socket_allow_hosts(["127.0.0.1"])
        pytest_socket.disable_socket(allow_unix_socket=True)
    yield HomeAssistant(process, token)
    process.stop()


@pytest.fixture
def hass_server(home_assistant: HomeAssistant, servers: Servers) -> HomeAssistant:
    """The HA process, with sockets enabled for the test body."""
    return home_assistant


def hour(moment: datetime) -> datetime:
    """Truncate to the hour (UTC)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
