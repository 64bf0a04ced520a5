"""Settings of the companion, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import os
from urllib.parse import urlsplit

from .zones import valid_time_zone


class ConfigError(ValueError):
    """An environment variable holds a value the companion cannot use."""


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{name}={port} is outside 1-65535")
    return port


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if not 0 < seconds <= 120:
        raise ConfigError(f"{name}={raw} must be more than 0 and at most 120 seconds")
    return seconds


@dataclass(frozen=True, slots=True)
class CompanionConfig:
    """Where the companion listens and which databases it uses."""

    host: str = "127.0.0.1"
    port: int = 8099
    base_path: str = ""
    questdb_http_url: str = "http://127.0.0.1:9000"
    questdb_pg_host: str = "127.0.0.1"
    questdb_pg_port: int = 8812
    questdb_user: str = "admin"
    questdb_password: str = "quest"  # noqa: S105 - QuestDB's documented default, overridable
    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_database: str = "energy_tracker"
    api_token: str | None = None
    ha_url: str | None = None
    ha_token: str | None = None
    # HA's time zone as stated by the operator, for a companion that has never
    # reached HA (HA's own answer, and the zone it reported last, come first).
    time_zone: str | None = None
    jobs_enabled: bool = True
    heartbeat_interval: float = 300.0
    heartbeat_stale_after: float = 120.0
    reconcile_interval: float = 3600.0
    reconcile_hours: int = 3
    recovery_days: int = 7
    # How long Settings' "Test and save" waits for HA (DNS, connect and answer).
    ha_check_timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CompanionConfig:
        """Build the settings from ENERGY_TRACKER_* (and the shared *_PORT) variables."""
        env = os.environ if env is None else env
        questdb_http_port = _port(env, "QUESTDB_HTTP_PORT", 9000)
        base_path = env.get("ENERGY_TRACKER_BASE_PATH", "").strip().rstrip("/")
        if base_path and not base_path.startswith("/"):
            raise ConfigError(
                f"ENERGY_TRACKER_BASE_PATH={base_path!r} must start with '/'"
            )
        questdb_http_url = env.get(
            "ENERGY_TRACKER_QUESTDB_URL", f"http://127.0.0.1:{questdb_http_port}"
        ).rstrip("/")
        if urlsplit(questdb_http_url).scheme not in ("http", "https"):
            raise ConfigError(
                "ENERGY_TRACKER_QUESTDB_URL must be an http:// or https:// URL"
            )
        mongodb_uri = env.get(
            "ENERGY_TRACKER_MONGODB_URI",
            f"mongodb://127.0.0.1:{_port(env, 'MONGODB_PORT', 27017)}/",
        )
        if not mongodb_uri.startswith(("mongodb://", "mongodb+srv://")):
            raise ConfigError(
                "ENERGY_TRACKER_MONGODB_URI must start with mongodb:// or mongodb+srv://"
            )
        time_zone = env.get("ENERGY_TRACKER_TIME_ZONE") or None
        if time_zone is not None and valid_time_zone(time_zone) is None:
            raise ConfigError(
                f"ENERGY_TRACKER_TIME_ZONE={time_zone!r} is not an IANA time zone "
                "(e.g. Europe/Amsterdam); leave it unset to use Home Assistant's"
            )
        return cls(
            host=env.get("ENERGY_TRACKER_HOST", "127.0.0.1"),
            port=_port(env, "COMPANION_PORT", 8099),
            base_path=base_path,
            questdb_http_url=questdb_http_url,
            questdb_pg_host=env.get("ENERGY_TRACKER_QUESTDB_PG_HOST", "127.0.0.1"),
            questdb_pg_port=_port(env, "QUESTDB_PG_PORT", 8812),
            questdb_user=env.get("ENERGY_TRACKER_QUESTDB_USER", "admin"),
            questdb_password=env.get("ENERGY_TRACKER_QUESTDB_PASSWORD", "quest"),
            mongodb_uri=mongodb_uri,
            mongodb_database=env.get(
                "ENERGY_TRACKER_MONGODB_DATABASE", "energy_tracker"
            ),
            api_token=env.get("ENERGY_TRACKER_API_TOKEN") or None,
            ha_url=env.get("ENERGY_TRACKER_HA_URL") or None,
            ha_token=env.get("ENERGY_TRACKER_HA_TOKEN") or None,
            time_zone=time_zone,
            jobs_enabled=env.get("ENERGY_TRACKER_JOBS", "1").lower()
            not in ("0", "false", "no", "off"),
            ha_check_timeout=_seconds(env, "ENERGY_TRACKER_HA_CHECK_TIMEOUT", 10.0),
        )

    def __repr__(self) -> str:
        """Show the settings without secrets."""
        return (
            f"CompanionConfig(host={self.host!r}, port={self.port}, base_path={self.base_path!r}, "
            f"questdb_http_url={self.questdb_http_url!r}, questdb_pg={self.questdb_pg_host}:{self.questdb_pg_port}, "
            f"mongodb_database={self.mongodb_database!r}, api_token={'set' if self.api_token else 'unset'})"
        )
