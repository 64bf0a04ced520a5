"""The whole Energy Tracker system as real processes: the demo and the system test.

QuestDB and the MongoDB-wire server through `scripts/services`, a real Home Assistant
through `tools.hass_runner` with this integration linked into its `custom_components/`
and set up through HA's own config-flow API (as a user clicking through the UI), and
the companion as `python -m companion`. Every port comes from `StackPorts`, so a test
stack never touches the servers of the test suite or of the demo.

A `tools.reaper` child watches over every stack: when the process owning the stack dies
without stopping it (a test run killed from outside), the reaper stops all of it.

`demo_stack()` is the stack of `make demo`: `Stack.start_demo()` furnishes its Home
Assistant with the demo home of `tools.demo_home` (a month of hourly statistics, Energy
settings naming every meter, readings every few seconds) and has the companion copy
the statistics, so that its overview shows the whole home from the start.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
import os
from pathlib import Path
import subprocess
import sys
import threading
import time
from typing import Any, Self
import urllib.error
import urllib.parse
import urllib.request

from tools.demo_home import (
    DEVICES,
    GAS,
    METERS,
    WATER,
    DemoHome,
    Meter,
    floor_hour,
    sensor_states,
)
from tools.hass_runner import (
    DEFAULT_TIME_ZONE,
    HomeAssistantError,
    HomeAssistantProcess,
)

REPO = Path(__file__).resolve().parent.parent
INTEGRATION = REPO / "custom_components" / "energy_tracker"
DOMAIN = "energy_tracker"

DEMO_DAYS = 31
"""Days of hourly statistics the demo home starts with."""
DEMO_READING_INTERVAL = 5.0
"""Seconds between two readings of the demo home's meters."""
# The overview's figures the demo home gives a value, besides one per device.
DEMO_TOTALS = (
    "grid_import_kwh",
    "grid_export_kwh",
    "solar_kwh",
    "battery_in_kwh",
    "battery_out_kwh",
)


@dataclass(frozen=True, slots=True)
class StackPorts:
    """Loopback ports of every process of one stack."""

    questdb_http: int = 9000
    questdb_pg: int = 8812
    mongodb: int = 27017
    home_assistant: int = 8123
    companion: int = 8099

    @classmethod
    def from_env(cls) -> Self:
        """Read the same variables as scripts/services, with the same defaults."""
        env = os.environ
        return cls(
            questdb_http=int(env.get("QUESTDB_HTTP_PORT", "9000")),
            questdb_pg=int(env.get("QUESTDB_PG_PORT", "8812")),
            mongodb=int(env.get("MONGODB_PORT", "27017")),
            home_assistant=int(env.get("HA_PORT", "8123")),
            companion=int(env.get("COMPANION_PORT", "8099")),
        )

    def env(self) -> dict[str, str]:
        """The variables that point scripts/services and the companion at these ports."""
        return {
            "QUESTDB_HTTP_PORT": str(self.questdb_http),
            "QUESTDB_PG_PORT": str(self.questdb_pg),
            "MONGODB_PORT": str(self.mongodb),
            "HA_PORT": str(self.home_assistant),
            "COMPANION_PORT": str(self.companion),
        }


class HTTPStatusError(OSError):
    """A loopback HTTP request was answered with an error status (the body says why)."""


def http_json(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    timeout: float = 10,
) -> Any:
    """Send one JSON request to a loopback URL and decode the answer."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            raw = response.read()
    except urllib.error.HTTPError as err:
        raise HTTPStatusError(
            f"{method} {url} -> {err.code}: {err.read()[:500]!r}"
        ) from None
    return json.loads(raw) if raw else None


@dataclass
class Stack:
    """One set of real processes: servers, Home Assistant, the companion."""

    run_dir: Path
    ports: StackPorts = field(default_factory=StackPorts.from_env)
    ha_extra_config: str = ""
    time_zone: str = DEFAULT_TIME_ZONE
    companion_env: dict[str, str] = field(default_factory=dict)
    hass: HomeAssistantProcess = field(init=False)
    companion: subprocess.Popen[bytes] | None = field(default=None, init=False)
    demo_home: DemoHomeFeed | None = field(default=None, init=False)
    _companion_started: float = field(default=0.0, init=False, repr=False)
    _reaper: subprocess.Popen[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        """Prepare Home Assistant's configuration folder."""
        self.hass = HomeAssistantProcess(
            config_dir=self.run_dir / "homeassistant",
            port=self.ports.home_assistant,
            extra_config=self.ha_extra_config,
            time_zone=self.time_zone,
            on_spawn=self._watch,
        )

    # --- the reaper ------------------------------------------------------------------

    def _start_reaper(self) -> subprocess.Popen[str]:
        if self._reaper is None:
            (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
            with (self.run_dir / "logs" / "reaper.log").open("a") as log:
                self._reaper = subprocess.Popen(
                    [sys.executable, "-m", "tools.reaper"],
                    cwd=REPO,
                    env=self.env,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                    # Not in the owner's process group: a signal to the group (Ctrl-C,
                    # a CI runner stopping the job) must leave the reaper to clean up.
                    start_new_session=True,
                )
        return self._reaper

    def _tell_reaper(self, message: str) -> None:
        stdin = self._start_reaper().stdin
        if stdin is None:
            raise RuntimeError("the reaper has no stdin")
        stdin.write(message + "\n")
        stdin.flush()

    def _watch(self, pid: int) -> None:
        """Have the reaper stop this process group should the owner die."""
        self._tell_reaper(f"group {pid}")

    def _forget(self, pid: int | None) -> None:
        if pid is not None and self._reaper is not None:
            self._tell_reaper(f"forget {pid}")

    def _dismiss_reaper(self) -> None:
        """Everything is stopped: the reaper has nothing left to do."""
        reaper, self._reaper = self._reaper, None
        if reaper is None or reaper.stdin is None:
            return
        try:
            reaper.stdin.write("done\n")
            reaper.stdin.close()
        except BrokenPipeError:
            pass
        reaper.wait(timeout=10)

    @property
    def env(self) -> dict[str, str]:
        """Environment for child processes: this stack's ports and run folder."""
        return {
            **os.environ,
            **self.ports.env(),
            "ENERGY_TRACKER_RUN": str(self.run_dir),
        }

    @property
    def companion_url(self) -> str:
        """Base URL of the companion."""
        return f"http://127.0.0.1:{self.ports.companion}"

    @property
    def questdb_url(self) -> str:
        """Base URL of QuestDB's HTTP server."""
        return f"http://127.0.0.1:{self.ports.questdb_http}"

    @property
    def mongodb_uri(self) -> str:
        """MongoDB URI of this stack."""
        return f"mongodb://127.0.0.1:{self.ports.mongodb}/"

    # --- servers ---------------------------------------------------------------

    def services(self, command: str, *names: str) -> None:
        """Run scripts/services for this stack's ports."""
        if command == "start":
            self._start_reaper()
        subprocess.run(  # noqa: S603 - fixed script path
            [str(REPO / "scripts" / "services"), command, *names],
            check=True,
            env=self.env,
        )

    # --- Home Assistant --------------------------------------------------------

    def link_integration(self) -> None:
        """Install the integration into HA's custom_components as a link to the working tree."""
        target = self.hass.config_dir / "custom_components" / DOMAIN
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            if target.resolve() == INTEGRATION.resolve():
                return
            target.unlink()
        target.symlink_to(INTEGRATION, target_is_directory=True)

    def start_home_assistant(self) -> str:
        """Start HA with the integration linked in; return its long-lived token."""
        self.link_integration()
        return self.hass.start()

    def ha_api(self, method: str, path: str, body: Any = None) -> Any:
        """Call HA's REST API with the long-lived token."""
        return http_json(
            f"{self.hass.url}{path}", method=method, body=body, token=self.hass.token
        )

    def ha_command(self, payload: dict[str, Any]) -> Any:
        """Run one command over HA's WebSocket API and return its result."""
        return self.hass.websocket_command(payload)

    def forget_home_assistant_history(self) -> None:
        """Delete HA's recorder database (HA must be stopped).

        The demo home starts afresh at each start: HA sums a sensor's statistics
        from the first state it records, so a recorder holding an earlier run's
        would not carry on from the month imported now.
        """
        if self.hass.running:
            raise HomeAssistantError("Home Assistant is running")
        for path in self.hass.config_dir.glob("home-assistant_v2.db*"):
            path.unlink()

    def add_integration(self, mongodb_database: str = "energy_tracker") -> str:
        """Set the integration up through HA's config-flow API; return the entry id.

        Idempotent: when the same QuestDB + MongoDB pair is configured already, the
        flow aborts with `already_configured` and the existing entry is returned.
        """
        flow = self.ha_api(
            "POST",
            "/api/config/config_entries/flow",
            {"handler": DOMAIN, "show_advanced_options": False},
        )
        if flow["type"] == "form":
            flow = self.ha_api(
                "POST",
                f"/api/config/config_entries/flow/{flow['flow_id']}",
                {
                    "questdb_url": self.questdb_url,
                    "verify_ssl": True,
                    "mongodb_uri": self.mongodb_uri,
                    "mongodb_database": mongodb_database,
                },
            )
        if flow["type"] == "create_entry":
            return str(flow["result"]["entry_id"])
        if flow["type"] == "abort" and flow.get("reason") == "already_configured":
            entries = self.ha_api(
                "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
            )
            return str(entries[0]["entry_id"])
        raise HomeAssistantError(f"the config flow did not create an entry: {flow}")

    def set_integration_options(self, entry_id: str, **options: Any) -> dict[str, Any]:
        """Change the entry's options through HA's options-flow API (as the Configure dialog does)."""
        flow = self.ha_api(
            "POST", "/api/config/config_entries/options/flow", {"handler": entry_id}
        )
        if flow["type"] != "form":
            raise HomeAssistantError(f"the options flow did not open: {flow}")
        # Submit the form as a user would: every field as shown, with the changes made.
        shown: dict[str, Any] = {}
        for field_schema in flow.get("data_schema", []):
            value = field_schema.get(
                "default",
                (field_schema.get("description") or {}).get("suggested_value"),
            )
            if value is not None:
                shown[field_schema["name"]] = value
        result: dict[str, Any] = self.ha_api(
            "POST",
            f"/api/config/config_entries/options/flow/{flow['flow_id']}",
            {**shown, **options},
        )
        if result["type"] != "create_entry":
            raise HomeAssistantError(f"the options flow refused {options}: {result}")
        return result

    def stop_home_assistant(self) -> None:
        """Stop HA gracefully."""
        pid = self.hass.pid
        self.hass.stop()
        self._forget(pid)

    def restart_home_assistant(self) -> None:
        """Stop HA gracefully and start it again on the same configuration."""
        self.stop_home_assistant()
        self.hass.start()

    # --- companion ---------------------------------------------------------------

    def start_companion(self, timeout: float = 60) -> dict[str, Any]:
        """Start `python -m companion` and wait until /api/status answers."""
        self.spawn_companion()
        return self.wait_for_companion(timeout)

    def spawn_companion(self) -> None:
        """Start `python -m companion` (`wait_for_companion` waits until it answers)."""
        if self.companion is not None and self.companion.poll() is None:
            raise RuntimeError("the companion is running already")
        env = {
            **self.env,
            "ENERGY_TRACKER_HA_URL": self.hass.url,
            "ENERGY_TRACKER_HA_TOKEN": self.hass.token or "",
            **self.companion_env,
        }
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        with (self.run_dir / "logs" / f"companion-{self.ports.companion}.log").open(
            "ab"
        ) as log:
            self.companion = subprocess.Popen(
                [sys.executable, "-m", "companion"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._watch(self.companion.pid)
        self._companion_started = time.monotonic()

    def wait_for_companion(self, timeout: float = 60) -> dict[str, Any]:
        """Wait until the companion spawned answers /api/status (`timeout` from its start)."""
        if self.companion is None:
            raise RuntimeError("the companion is not started")
        deadline = self._companion_started + timeout
        while True:
            try:
                status: dict[str, Any] = http_json(
                    f"{self.companion_url}/api/status", timeout=3
                )
            except (urllib.error.URLError, OSError, ValueError):
                if self.companion.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the companion did not start; see {self.run_dir / 'logs'}"
                    ) from None
                time.sleep(0.3)
            else:
                return status

    def companion_api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the companion's API (`path` starts with /api)."""
        return http_json(f"{self.companion_url}{path}", method=method, body=body)

    def companion_job(
        self, path: str, body: dict[str, Any], timeout: float = 120
    ) -> dict[str, Any]:
        """Start a companion job (backfill, statistics sync) and wait for its result."""
        accepted = self.companion_api("POST", path, body)
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.companion_api("GET", accepted["status_url"])
            if job.get("status") == "succeeded":
                result: dict[str, Any] = job.get("result") or {}
                return result
            if job.get("status") == "failed":
                raise RuntimeError(f"the companion's job {path} failed: {job}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the companion's job {path} is not done: {job}")
            time.sleep(0.3)

    def stop_companion(self) -> None:
        """Stop the companion gracefully (SIGTERM, then SIGKILL)."""
        process, self.companion = self.companion, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._forget(process.pid)

    # --- everything ----------------------------------------------------------------

    def start(self) -> None:
        """Servers, Home Assistant with the integration set up, the companion."""
        self.services("start")
        self.start_home_assistant()
        self.add_integration()
        self.start_companion()

    def start_demo(self, days: int = DEMO_DAYS) -> dict[str, Any]:
        """`make demo`: everything, with the demo home in HA and in the companion.

        Returns the companion's status; the overview shows every meter of the home
        by then (else `demo_home.overview_problem` says what it lacks). What can
        run meanwhile does: the month of statistics is computed while the servers
        and HA start; the integration is set up and the companion starts while
        HA's recorder applies the import.
        """
        feed = DemoHomeFeed(self, DemoHome(self.time_zone))
        self.demo_home = feed
        with ThreadPoolExecutor(max_workers=1) as pool:
            planned = pool.submit(feed.plan, days)
            self.services("start")
            self.forget_home_assistant_history()
            self.start_home_assistant()
            planned.result()
        feed.furnish()
        entry_id = self.add_integration()
        # The Configure dialog's sidebar option: the dashboard as HA's "Energy" panel.
        self.set_integration_options(entry_id, dashboard_url=f"{self.companion_url}/")
        self.spawn_companion()
        feed.wait_for_statistics()
        status = self.wait_for_companion()
        feed.sync_companion()
        try:
            feed.wait_for_overview()
        except RuntimeError as err:  # the demo is of use all the same
            feed.overview_problem = str(err)
        return status

    def stop(self) -> None:
        """Stop every process this stack started, in reverse order."""
        if self.demo_home is not None:
            self.demo_home.stop()
        try:
            self.stop_companion()
        finally:
            try:
                self.stop_home_assistant()
            finally:
                try:
                    self.services("stop")
                finally:
                    self._dismiss_reaper()


def demo_stack(run_dir: Path, ports: StackPorts | None = None) -> Stack:
    """The stack of `make demo`: HA with its frontend (the demo home comes with `start_demo`)."""
    return Stack(
        run_dir=run_dir,
        ports=ports if ports is not None else StackPorts.from_env(),
        ha_extra_config="frontend:\n",
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class DemoHomeFeed:
    """The demo home in one stack's HA: its statistics, settings and live readings.

    HA sums a sensor's statistics from 0 at the first state it records; once it has
    compiled its first five minutes of them, their sums are moved up to carry on
    from the imported month (`recorder/adjust_sum_statistics`), so HA's hours after
    the month follow on from it.
    """

    stack: Stack
    home: DemoHome
    interval: float = DEMO_READING_INTERVAL
    imported_from: datetime | None = None
    imported_until: datetime | None = None
    readings_sent: int = 0
    overview_problem: str | None = None
    """Why the overview lacked a figure of the home at start, if it did."""
    _planned: dict[Meter, list[dict[str, Any]]] = field(
        default_factory=dict, repr=False
    )
    _sums: dict[Meter, float] = field(default_factory=dict, repr=False)
    _first: dict[Meter, datetime] = field(default_factory=dict, repr=False)
    """Per meter, the moment of the first reading HA showed."""
    _carried_on: set[Meter] = field(default_factory=set, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    # --- Home Assistant --------------------------------------------------------

    def send_readings(self, moment: datetime) -> dict[str, float]:
        """Every meter's reading at `moment`, as the states of its sensor in HA."""
        values = self.home.readings(moment)
        for entity_id, state in sensor_states(values).items():
            self.stack.ha_api("POST", f"/api/states/{entity_id}", state)
        self.readings_sent += 1
        return values

    def plan(self, days: int = DEMO_DAYS) -> None:
        """Compute the hourly statistics of the `days` before this hour."""
        until = floor_hour(datetime.now(UTC))
        since = until - timedelta(days=days)
        self._planned = self.home.hourly_statistics(since, until)
        self.imported_from, self.imported_until = since, until

    def furnish(self) -> None:
        """Readings going, the statistics planned imported, Energy settings saved.

        HA's recorder applies the import in its own thread: `wait_for_statistics`.
        """
        if not self._planned:
            self.plan()
        self._wait_for_sensors()
        for meter, rows in self._planned.items():
            self.stack.ha_command(
                {
                    "type": "recorder/import_statistics",
                    "metadata": {
                        "mean_type": 0,  # none: a meter has a sum, no mean
                        "has_sum": True,
                        "name": None,
                        "source": "recorder",
                        "statistic_id": meter.entity_id,
                        "unit_class": meter.unit_class,
                        "unit_of_measurement": meter.unit,
                    },
                    "stats": rows,
                }
            )
            self._sums[meter] = float(rows[-1]["sum"]) if rows else 0.0
        self._planned = {}
        self.stack.ha_command({"type": "energy/save_prefs", **self.home.energy_prefs()})
        self._thread = threading.Thread(
            target=self._run, name="demo-home-readings", daemon=True
        )
        self._thread.start()

    def _wait_for_sensors(self, timeout: float = 60) -> None:
        """Send readings until every sensor shows one; note when each showed its first.

        HA's sums of a sensor start at the first state it records.
        """
        sent: list[tuple[datetime, dict[str, float]]] = []
        deadline = time.monotonic() + timeout
        while True:
            moment = datetime.now(UTC)
            sent.append((moment, self.send_readings(moment)))
            missing: list[str] = []
            for meter in METERS:
                if meter in self._first:
                    continue
                try:
                    state = self.stack.ha_api("GET", f"/api/states/{meter.entity_id}")
                    value = float(state["state"])
                except (HTTPStatusError, KeyError, TypeError, ValueError):
                    missing.append(meter.entity_id)
                    continue
                self._first[meter] = next(
                    (at for at, values in sent if values[meter.key] == value), moment
                )
            if not missing:
                return
            if time.monotonic() > deadline:
                raise HomeAssistantError(
                    f"the demo home's sensors show no reading: {missing}"
                )
            time.sleep(0.5)

    def wait_for_statistics(self, timeout: float = 60) -> None:
        """HA's recorder applies imports in its own thread: wait for the last hour."""
        if self.imported_until is None:
            return
        last = self.imported_until - timedelta(hours=1)
        deadline = time.monotonic() + timeout
        ids = [meter.entity_id for meter in METERS]
        while True:
            found = self.stack.ha_command(
                {
                    "type": "recorder/statistics_during_period",
                    "start_time": last.isoformat(),
                    "end_time": self.imported_until.isoformat(),
                    "statistic_ids": ids,
                    "period": "hour",
                    "types": ["sum"],
                }
            )
            if all(found.get(stat) for stat in ids):
                return
            if time.monotonic() > deadline:
                raise HomeAssistantError(f"HA did not apply the statistics: {found}")
            time.sleep(0.3)

    def carry_sums_on(self) -> bool:
        """Move HA's own sums up to follow the imported ones; True when all are."""
        if self.imported_until is None:
            return False
        pending = [meter for meter in METERS if meter not in self._carried_on]
        if not pending:
            return True
        compiled = self.stack.ha_command(
            {
                "type": "recorder/statistics_during_period",
                "start_time": self.imported_until.isoformat(),
                "statistic_ids": [meter.entity_id for meter in pending],
                "period": "5minute",
                "types": ["sum"],
            }
        )
        for meter in pending:
            if meter not in self._first or not compiled.get(meter.entity_id):
                continue  # HA has not compiled five minutes of it yet
            adjustment = self.home.sum_adjustment(
                meter, self._sums[meter], self.imported_until, self._first[meter]
            )
            self.stack.ha_command(
                {
                    "type": "recorder/adjust_sum_statistics",
                    "statistic_id": meter.entity_id,
                    "start_time": self.imported_until.isoformat(),
                    "adjustment": round(adjustment, 6),
                    "adjustment_unit_of_measurement": meter.unit,
                }
            )
            self._carried_on.add(meter)
        return len(self._carried_on) == len(METERS)

    def _run(self) -> None:
        next_check = time.monotonic() + 10
        carried_on = False
        while not self._stop.wait(self.interval):
            try:
                self.send_readings(datetime.now(UTC))
                if not carried_on and time.monotonic() >= next_check:
                    next_check = time.monotonic() + 15
                    carried_on = self.carry_sums_on()
            except (OSError, HomeAssistantError, ValueError):
                continue  # HA restarting or busy: the next reading carries on

    def stop(self) -> None:
        """Stop sending readings."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    # --- the companion ---------------------------------------------------------

    def sync_companion(self) -> dict[str, Any]:
        """Have the companion follow the Energy settings and copy their statistics."""
        if self.imported_from is None:
            raise RuntimeError("the demo home is not furnished")
        self.stack.companion_api("GET", "/api/energy/settings?refresh=true")
        return self.stack.companion_job(
            "/api/statistics/sync",
            {
                "start_time": _iso(self.imported_from),
                "end_time": _iso(datetime.now(UTC)),
            },
        )

    def overview(self, days: int = 30, period: str = "day") -> dict[str, Any]:
        """The companion's overview of the last `days`."""
        end = datetime.now(UTC)
        query = urllib.parse.urlencode(
            {
                "start_time": _iso(end - timedelta(days=days)),
                "end_time": _iso(end),
                "period": period,
            }
        )
        answer: dict[str, Any] = self.stack.companion_api(
            "GET", f"/api/energy/overview?{query}"
        )
        return answer

    @staticmethod
    def missing_figures(overview: dict[str, Any]) -> list[str]:
        """The home's figures the overview's totals lack (none or zero)."""
        totals = overview.get("totals") or {}
        missing = [name for name in DEMO_TOTALS if not totals.get(name)]
        for meter, name in ((GAS, "gas"), (WATER, "water")):
            if not (totals.get(name) or {}).get("value"):
                missing.append(f"{name}.value ({meter.entity_id})")
        devices = totals.get("devices") or {}
        missing += [
            f"devices[{device.entity_id}]"
            for device in DEVICES
            if not devices.get(device.entity_id)
        ]
        return missing

    def wait_for_overview(self, timeout: float = 60) -> dict[str, Any]:
        """Wait until the overview of the last 30 days has every figure of the home.

        QuestDB applies the copied rows in the background; this takes a moment.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                overview = self.overview()
            except (HTTPStatusError, OSError) as err:
                problem = str(err)
            else:
                missing = self.missing_figures(overview)
                if not missing:
                    return overview
                problem = f"the overview lacks {missing}"
            if time.monotonic() > deadline:
                raise RuntimeError(problem)
            time.sleep(0.5)
