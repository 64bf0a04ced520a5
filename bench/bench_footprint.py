"""Benchmark of what Energy Tracker adds to Home Assistant's process: memory, start time, imports.

Run (servers from scripts/services, ports from the environment):

    python -m bench.bench_footprint [--states 300] [--settle 10] [--starts 3]

Prints, each beside a baseline measured in the same run:
- resident memory (VmRSS, VmHWM, PSS and USS) of a real `hass` process with an
  Energy Tracker entry set up through the config flow against the running QuestDB
  and MongoDB, after it forwarded a few hundred states and settled, beside the same
  HA without the entry; for reference, the same with `import pandas` forced into HA
  (when pandas is installed at all), and the packages the entry adds to sys.modules;
- start time (spawn → HTTP API answers → entry loaded, and HA's own "initialized
  in" figure) of a HA that already has the entry, alternating with one without;
- the import time of the integration inside HA's Python (modules a running HA has
  not loaded yet), and the RSS each heavy third-party package adds.

Every HA runs on a free port in a folder under .run/bench-footprint/, deleted at
the end (keep it with `--keep`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
import json
from operator import attrgetter
import os
from pathlib import Path
import re
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any
import uuid

from pymongo import MongoClient

from tests.servers import Servers, free_port, questdb_rows
from tools.stack import DOMAIN, REPO, Stack, StackPorts

RUN_DIR = REPO / ".run" / "bench-footprint"
PROBE_ROOT = RUN_DIR / "probe"
PROBE = "bench_probe"
MODULES_FILE = "bench-modules.json"
MARK = "BENCH-FOOTPRINT-MARK"
INTEGRATION_MODULE = "custom_components.energy_tracker"
HA_PRELOAD = ("homeassistant.core", "homeassistant.config_entries")
ENERGY = {
    "device_class": "energy",
    "unit_of_measurement": "kWh",
    "state_class": "total_increasing",
}
MIB = 1024.0

# hass_runner writes `logger:\n  default: warning\n` right before extra_config, so
# these indented lines extend its logger block: HA logs "initialized in" at INFO.
LOG_BOOTSTRAP = "  logs:\n    homeassistant.bootstrap: info\n"
INITIALIZED = re.compile(r"Home Assistant initialized in ([0-9.]+)\s*s")

# A custom component in both HAs (so it costs both the same): its `dump` service
# writes sys.modules of the HA process, and `import:` forces one module into HA.
PROBE_MANIFEST = {
    "domain": PROBE,
    "name": "Footprint bench probe",
    "codeowners": [],
    "documentation": "https://example.invalid",
    "iot_class": "local_push",
    "requirements": [],
    "version": "0.0.1",
}
PROBE_SOURCE = '''\
"""Footprint bench probe: dumps sys.modules on request, optionally imports one module."""

import importlib
import json
from pathlib import Path
import sys

DOMAIN = "bench_probe"


async def async_setup(hass, config):
    """Import the configured module in the executor and register `dump`."""
    module = (config.get(DOMAIN) or {}).get("import")
    if module:
        await hass.async_add_executor_job(importlib.import_module, module)
    target = Path(hass.config.path("bench-modules.json"))

    async def dump(call):
        names = sorted(sys.modules)  # one C-level copy under the GIL: no thread races it
        await hass.async_add_executor_job(target.write_text, json.dumps(names))

    hass.services.async_register(DOMAIN, "dump", dump)
    return True
'''

# Run in `.venv/bin/python -X importtime`: HA first, then the integration alone.
IMPORTTIME_SCRIPT = f"""\
import sys
{"".join(f"import {name}\n" for name in HA_PRELOAD)}\
sys.stderr.write("{MARK}\\n")
sys.stderr.flush()
import {INTEGRATION_MODULE}
import json
print(json.dumps(sorted(sys.modules)))
"""

# Preload what a running HA holds, then import each package in turn, with RSS.
RSS_SCRIPT = """\
import importlib, json, sys, time

def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

plan = json.loads(sys.argv[1])
for name in plan["preload"]:
    try:
        importlib.import_module(name)
    except Exception:
        pass
steps = [["", 0.0, rss()]]
for name in plan["steps"]:
    started = time.perf_counter()
    importlib.import_module(name)
    steps.append([name, time.perf_counter() - started, rss()])
print(json.dumps(steps))
"""


@dataclass(frozen=True, slots=True)
class Memory:
    """Memory figures of one process, in kB."""

    rss: int
    hwm: int
    pss: int | None
    uss: int | None


@dataclass(frozen=True, slots=True)
class HassRun:
    """What one measured HA process showed after its states and the settle time."""

    memory: Memory
    modules: frozenset[str]
    forwarded: int


@dataclass(frozen=True, slots=True)
class StartRun:
    """One timed start of HA on a configuration folder it has started on before."""

    http_up: float
    ready: float
    initialized: float | None
    rss: int


@dataclass(frozen=True, slots=True)
class ImportLine:
    """One line of `-X importtime`: self and cumulative µs, nesting depth, module."""

    self_us: int
    cumulative_us: int
    depth: int
    name: str


def read_memory(pid: int) -> Memory:
    """Read VmRSS/VmHWM from /proc/PID/status and PSS/USS from smaps_rollup."""
    status: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            status[key] = int(value.split()[0])
    rollup: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="utf-8")
    except OSError:  # older kernels, or no permission: PSS/USS are then not shown
        text = ""
    for line in text.splitlines()[1:]:
        key, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            rollup[key] = int(value.split()[0])
    uss = (
        rollup["Private_Clean"] + rollup["Private_Dirty"]
        if "Private_Clean" in rollup and "Private_Dirty" in rollup
        else None
    )
    return Memory(status["VmRSS"], status["VmHWM"], rollup.get("Pss"), uss)


def hass_pid(stack: Stack) -> int:
    """The pid of the stack's `hass` process (hass_runner keeps it private)."""
    process = stack.hass._process  # noqa: SLF001 - the runner exposes no pid
    if process is None:
        raise RuntimeError("Home Assistant is not running")
    return process.pid


def make_stack(name: str, probe_import: str | None = None) -> Stack:
    """A stack on a free HA port whose configuration sets the probe up."""
    ports = replace(StackPorts.from_env(), home_assistant=free_port())
    probe = f"{PROBE}:\n" + (f"  import: {probe_import}\n" if probe_import else "")
    return Stack(
        run_dir=RUN_DIR / name, ports=ports, ha_extra_config=LOG_BOOTSTRAP + probe
    )


# HA imports `custom_components` with the config folder on sys.path only for that
# moment; the editable install keeps the repository on sys.path, so the namespace
# package then resolves to the repository's folder alone and a component in the
# config folder is never found (energy_tracker itself is found in the repository,
# by every HA of this venv). A folder on PYTHONPATH stays on sys.path.
@contextmanager
def probe_on_path() -> Iterator[None]:
    """Put the probe on PYTHONPATH for every HA started meanwhile."""
    folder = PROBE_ROOT / "custom_components" / PROBE
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(PROBE_MANIFEST), encoding="utf-8")
    (folder / "__init__.py").write_text(PROBE_SOURCE, encoding="utf-8")
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROBE_ROOT), previous])
    )
    try:
        yield
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous


def wait_for(
    what: str, check: Callable[[], bool], timeout: float, interval: float = 0.05
) -> None:
    """Poll `check` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def entry_loaded(stack: Stack) -> bool:
    """Whether HA reports an energy_tracker entry in state `loaded`."""
    entries = stack.ha_api("GET", f"/api/config/config_entries/entry?domain={DOMAIN}")
    return any(entry.get("state") == "loaded" for entry in entries)


def post_states(stack: Stack, tag: str, count: int) -> list[str]:
    """Post `count` kWh readings over a few sensors; return their entity ids."""
    entity_ids = [f"sensor.bench_footprint_{tag}_{index}" for index in range(6)]
    for index in range(count):
        entity_id = entity_ids[index % len(entity_ids)]
        stack.hass.post_state(entity_id, round(100 + index * 0.01, 3), ENERGY)
    return entity_ids


def questdb_count(servers: Servers, entity_ids: Sequence[str]) -> int:
    """Rows QuestDB shows for these entities (0 while the table does not exist)."""
    names = ", ".join(f"'{entity_id}'" for entity_id in entity_ids)
    try:
        rows = questdb_rows(
            servers,
            f"SELECT count() FROM energy_readings WHERE entity_id IN ({names})",  # noqa: S608 - our own ids
        )
    except (AssertionError, OSError):
        return 0
    return int(rows[0][0]) if rows else 0


def dump_modules(stack: Stack) -> frozenset[str]:
    """sys.modules of the HA process, through the probe's service."""
    stack.ha_api("POST", f"/api/services/{PROBE}/dump", {})
    names: list[str] = json.loads(
        (stack.hass.config_dir / MODULES_FILE).read_text(encoding="utf-8")
    )
    return frozenset(names)


def measure_hass(
    stack: Stack, *, with_entry: bool, states: int, settle: float, database: str
) -> HassRun:
    """Start HA (setting the entry up through its config flow), feed it, settle, measure."""
    if with_entry:
        stack.link_integration()
    stack.hass.start()
    if with_entry:
        stack.add_integration(mongodb_database=database)
        wait_for("the entry loaded", lambda: entry_loaded(stack), 60, 0.2)
    tag = uuid.uuid4().hex[:8]
    entity_ids = post_states(stack, tag, states)
    forwarded = 0
    if with_entry:
        servers = Servers(
            stack.ports.questdb_http, stack.ports.questdb_pg, stack.ports.mongodb
        )
        wait_for(
            f"{states} rows in QuestDB",
            lambda: questdb_count(servers, entity_ids) >= states,
            60,
            0.5,
        )
        forwarded = questdb_count(servers, entity_ids)
    time.sleep(settle)
    modules = dump_modules(stack)
    return HassRun(read_memory(hass_pid(stack)), modules, forwarded)


def initialized_in(config_dir: Path, timeout: float = 5.0) -> float | None:
    """HA's own "initialized in X s" from this start's log (HA rotates it at start)."""
    log = config_dir / "home-assistant.log"
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        found = INITIALIZED.findall(text)
        if found:
            return float(found[-1])
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def timed_start(stack: Stack, *, with_entry: bool) -> StartRun:
    """Start HA on its folder again and time it until it answers (and the entry is loaded)."""
    started = time.monotonic()
    stack.hass.start()
    http_up = time.monotonic() - started
    try:
        if with_entry:
            wait_for("the entry loaded", lambda: entry_loaded(stack), 60)
        ready = time.monotonic() - started
        initialized = initialized_in(stack.hass.config_dir)
        rss = read_memory(hass_pid(stack)).rss
    finally:
        stack.hass.stop()
    return StartRun(http_up, ready, initialized, rss)


def module_available(name: str) -> bool:
    """Whether the benchmark's interpreter can import `name` (in a subprocess)."""
    return (
        subprocess.run(
            [sys.executable, "-c", f"import {name}"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


def plain_import_cost(name: str) -> tuple[float, int]:
    """Seconds and kB of RSS one `import name` costs a bare interpreter."""
    plan = json.dumps({"preload": [], "steps": [name]})
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, plan],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    steps = json.loads(out)
    return float(steps[1][1]), int(steps[1][2]) - int(steps[0][2])


def parse_importtime(text: str) -> list[ImportLine]:
    """The `import time:` lines of some -X importtime output."""
    lines: list[ImportLine] = []
    for raw in text.splitlines():
        if not raw.startswith("import time:") or "self [us]" in raw:
            continue
        self_us, cumulative_us, name = raw.removeprefix("import time:").split("|")
        stripped = name.lstrip(" ")
        lines.append(
            ImportLine(
                int(self_us),
                int(cumulative_us),
                (len(name) - len(stripped) - 1) // 2,
                stripped.strip(),
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class ImportSample:
    """One -X importtime run: HA's lines, the integration's lines, sys.modules after."""

    home_assistant: list[ImportLine]
    integration: list[ImportLine]
    loaded: frozenset[str]


def run_importtime() -> ImportSample:
    """`python -X importtime` of homeassistant.core + config_entries, then the integration."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTTIME_SCRIPT],
        capture_output=True,
        check=True,
        text=True,
        cwd=REPO,
    )
    before, _, after = done.stderr.partition(MARK)
    return ImportSample(
        parse_importtime(before),
        parse_importtime(after),
        frozenset(json.loads(done.stdout)),
    )


def run_rss_steps(preload: Sequence[str], steps: Sequence[str]) -> list[Any]:
    """RSS (kB) and seconds after preloading and after each further import."""
    plan = json.dumps({"preload": [*HA_PRELOAD, *preload], "steps": list(steps)})
    done = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, plan],
        capture_output=True,
        check=True,
        text=True,
        cwd=REPO,
    )
    result: list[Any] = json.loads(done.stdout)
    return result


def top_level(name: str) -> str:
    """The top-level package of a module name."""
    return name.partition(".")[0]


def third_party(names: Iterable[str]) -> set[str]:
    """Top-level packages that are neither the standard library, HA nor ours."""
    ours = {"homeassistant", "custom_components", PROBE, "__main__"}
    return {
        top
        for top in map(top_level, names)
        if top not in sys.stdlib_module_names and top not in ours and top
    }


def mib(kb: float | None) -> str:
    """kB as MiB text."""
    return "n/a" if kb is None else f"{kb / MIB:.1f} MiB"


def added_mib(with_kb: float | None, base_kb: float | None) -> str:
    """The difference of two kB figures as signed MiB text."""
    if with_kb is None or base_kb is None:
        return "n/a"
    return f"{(with_kb - base_kb) / MIB:+.1f} MiB"


def seconds_summary(samples: Sequence[float | None]) -> tuple[str, float | None]:
    """Median with range as text, and the median (None when no sample)."""
    values = [sample for sample in samples if sample is not None]
    if not values:
        return "n/a", None
    median = statistics.median(values)
    return f"{median:.2f} s [{min(values):.2f}-{max(values):.2f}]", median


def added_seconds(with_s: float | None, base_s: float | None) -> str:
    """The difference of two medians as signed seconds."""
    if with_s is None or base_s is None:
        return "n/a"
    return f"{with_s - base_s:+.2f} s"


def print_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    """Print rows as a `|` table with aligned columns."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate([header, *rows]):
        print(
            " | ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
        if index == 0:
            print("-+-".join("-" * width for width in widths))


def drop_database(port: int, name: str) -> None:
    """Drop the MongoDB database this run's entry wrote to."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=5000
    )
    try:
        client.drop_database(name)
    finally:
        client.close()


@dataclass(frozen=True, slots=True)
class HassFigures:
    """Everything measured on real HA processes."""

    baseline: HassRun
    tracked: HassRun
    reference: HassRun | None
    baseline_starts: list[StartRun]
    tracked_starts: list[StartRun]
    seconds: float


@dataclass(frozen=True, slots=True)
class ImportFigures:
    """The integration's imports in a plain interpreter, against what HA has loaded."""

    ha_us: list[int]
    totals_us: list[int]
    fresh_totals_us: list[int]
    groups: dict[str, tuple[int, float]]
    preloaded: int
    packages: list[str]
    cumulative_us: dict[str, float]
    rss_base: int
    rss_after: dict[str, int]
    step_seconds: dict[str, float]


OWN = "custom_components.energy_tracker.*"
OTHERS = "other new modules (stdlib, homeassistant.*)"


def run_home_assistants(args: argparse.Namespace, database: str) -> HassFigures:
    """(a), (b), the alternating timed starts and (c), each HA stopped when done."""
    started = time.monotonic()
    baseline = make_stack("baseline")
    tracked = make_stack("energy-tracker")
    measure = partial(
        measure_hass, states=args.states, settle=args.settle, database=database
    )
    reference: HassRun | None = None
    baseline_starts: list[StartRun] = []
    tracked_starts: list[StartRun] = []
    try:
        print(
            f"[footprint] (a) HA without an entry: {args.states} states, {args.settle:.0f} s settle",
            flush=True,
        )
        run_a = measure(baseline, with_entry=False)
        baseline.hass.stop()
        print(
            "[footprint] (b) HA with an Energy Tracker entry set up through the config flow",
            flush=True,
        )
        run_b = measure(tracked, with_entry=True)
        tracked.hass.stop()
        for attempt in range(args.starts):
            print(f"[footprint] timed starts {attempt + 1}/{args.starts}", flush=True)
            baseline_starts.append(timed_start(baseline, with_entry=False))
            tracked_starts.append(timed_start(tracked, with_entry=True))
        if module_available(args.reference_module):
            print(f"[footprint] (c) (b) + import {args.reference_module}", flush=True)
            # The same folder (and entry), HA told to import the module at set-up.
            tracked = make_stack("energy-tracker", probe_import=args.reference_module)
            reference = measure(tracked, with_entry=True)
    finally:
        baseline.hass.stop()
        tracked.hass.stop()
    return HassFigures(
        run_a,
        run_b,
        reference,
        baseline_starts,
        tracked_starts,
        time.monotonic() - started,
    )


def group_of(name: str) -> str:
    """Which row of the package table a module's import time goes to."""
    if name == INTEGRATION_MODULE or name.startswith(f"{INTEGRATION_MODULE}."):
        return OWN
    top = top_level(name)
    return top if third_party([name]) else OTHERS


def depth_zero_us(lines: Iterable[ImportLine]) -> int:
    """Cumulative µs of the top-level imports of a run."""
    return sum(line.cumulative_us for line in lines if line.depth == 0)


def measure_imports(in_ha: frozenset[str]) -> ImportFigures:
    """Import time of the integration (3 runs) and RSS per package, HA's modules preloaded."""
    samples = [run_importtime() for _ in range(3)]
    chain = samples[0].integration
    # Failed optional imports (brotlicffi, …) print lines too: keep what got loaded.
    names = list(
        dict.fromkeys(line.name for line in chain if line.name in samples[0].loaded)
    )
    preload = [name for name in names if name in in_ha]
    fresh = [name for name in names if name not in in_ha]
    # Top-level packages in the order their own line completes: dependencies first.
    packages = [name for name in fresh if "." not in name and third_party([name])]
    cumulative = {
        name: statistics.median(
            next(line.cumulative_us for line in sample.integration if line.name == name)
            for sample in samples
        )
        for name in packages
    }
    groups: dict[str, tuple[int, float]] = {}
    for group in [*packages, OWN, OTHERS]:
        members = {name for name in fresh if group_of(name) == group}
        self_us = statistics.median(
            sum(line.self_us for line in sample.integration if line.name in members)
            for sample in samples
        )
        groups[group] = (len(members), self_us)
    steps = run_rss_steps(preload, [*packages, INTEGRATION_MODULE])
    return ImportFigures(
        ha_us=[depth_zero_us(sample.home_assistant) for sample in samples],
        totals_us=[depth_zero_us(sample.integration) for sample in samples],
        fresh_totals_us=[
            sum(line.self_us for line in sample.integration if line.name not in in_ha)
            for sample in samples
        ],
        groups=groups,
        preloaded=len(preload) + len(HA_PRELOAD),
        packages=packages,
        cumulative_us=cumulative,
        rss_base=int(steps[0][2]),
        rss_after={str(name): int(rss) for name, _, rss in steps[1:]},
        step_seconds={str(name): float(seconds) for name, seconds, _ in steps[1:]},
    )


def start_rows(figures: HassFigures) -> list[list[str]]:
    """Rows of the start-time figures."""
    pickers: tuple[tuple[str, Callable[[StartRun], float | None]], ...] = (
        ("start: spawn → HTTP API answers", attrgetter("http_up")),
        ("start: spawn → answers + entry loaded", attrgetter("ready")),
        ('start: HA log "initialized in"', attrgetter("initialized")),
    )
    count = len(figures.tracked_starts)
    rows: list[list[str]] = []
    for label, pick in pickers:
        with_text, with_median = seconds_summary(
            [pick(run) for run in figures.tracked_starts]
        )
        base_text, base_median = seconds_summary(
            [pick(run) for run in figures.baseline_starts]
        )
        rows.append(
            [
                f"{label} (median [range] of {count})",
                with_text,
                base_text,
                added_seconds(with_median, base_median),
            ]
        )
    with_rss = statistics.median(run.rss for run in figures.tracked_starts)
    base_rss = statistics.median(run.rss for run in figures.baseline_starts)
    rows.append(
        [
            "VmRSS right after a start (median)",
            mib(with_rss),
            mib(base_rss),
            added_mib(with_rss, base_rss),
        ]
    )
    return rows


def import_rows(imports: ImportFigures) -> list[list[str]]:
    """Rows of the import-time and import-RSS figures."""
    ha_text, ha_median = seconds_summary([us / 1e6 for us in imports.ha_us])
    both_text, both_median = seconds_summary(
        [
            (ha + total) / 1e6
            for ha, total in zip(imports.ha_us, imports.totals_us, strict=True)
        ]
    )
    fresh_text, fresh_median = seconds_summary(
        [us / 1e6 for us in imports.fresh_totals_us]
    )
    fresh_modules = len(imports.groups) and sum(
        count for count, _ in imports.groups.values()
    )
    integration_rss = imports.rss_after[INTEGRATION_MODULE]
    return [
        [
            "-X importtime: HA core → + the integration and all it touches (median [range] of 3)",
            both_text,
            ha_text,
            added_seconds(both_median, ha_median),
        ],
        [
            f"  of the added, the {fresh_modules} modules a running HA has not loaded (sum of self)",
            "—",
            "—",
            "—" if fresh_median is None else f"+{fresh_text}",
        ],
        [
            f"python VmRSS: {imports.preloaded} modules a running HA has → + the integration",
            mib(integration_rss),
            mib(imports.rss_base),
            added_mib(integration_rss, imports.rss_base),
        ],
    ]


def package_rows(imports: ImportFigures, in_hass: set[str]) -> list[list[str]]:
    """Rows of the per-package table: time from -X importtime, RSS from the stepwise run."""
    rows: list[list[str]] = []
    previous = imports.rss_base
    for name in imports.packages:
        count, self_us = imports.groups[name]
        rows.append(
            [
                name,
                str(count),
                f"{self_us / 1000:.1f} ms",
                f"{imports.cumulative_us[name] / 1000:.1f} ms",
                f"{imports.step_seconds[name] * 1000:.1f} ms",
                added_mib(imports.rss_after[name], previous),
                "yes" if name in in_hass else "no",
            ]
        )
        previous = imports.rss_after[name]
    for group in (OWN, OTHERS):
        count, self_us = imports.groups[group]
        own = group == OWN
        rows.append(
            [
                group,
                str(count),
                f"{self_us / 1000:.1f} ms",
                "—",
                f"{imports.step_seconds[INTEGRATION_MODULE] * 1000:.1f} ms (both)"
                if own
                else "↑",
                f"{added_mib(imports.rss_after[INTEGRATION_MODULE], previous)} (both)"
                if own
                else "↑",
                "yes" if own else "",
            ]
        )
    return rows


def report(
    args: argparse.Namespace, figures: HassFigures, imports: ImportFigures
) -> None:
    """Print the tables and the notes."""
    run_a, run_b = figures.baseline, figures.tracked
    a, b = run_a.memory, run_b.memory
    rows = [
        [
            f"VmRSS after {args.states} states + {args.settle:.0f} s settle",
            mib(b.rss),
            mib(a.rss),
            added_mib(b.rss, a.rss),
        ],
        ["peak RSS (VmHWM)", mib(b.hwm), mib(a.hwm), added_mib(b.hwm, a.hwm)],
        ["PSS (smaps_rollup)", mib(b.pss), mib(a.pss), added_mib(b.pss, a.pss)],
        [
            "USS (private clean + dirty)",
            mib(b.uss),
            mib(a.uss),
            added_mib(b.uss, a.uss),
        ],
        [
            "modules in HA's sys.modules",
            str(len(run_b.modules)),
            str(len(run_a.modules)),
            f"{len(run_b.modules) - len(run_a.modules):+d}",
        ],
    ]
    if figures.reference is not None:
        forced = figures.reference.memory.rss
        rows.append(
            [
                f"(c) VmRSS of (b) + import {args.reference_module} (baseline: b)",
                mib(forced),
                mib(b.rss),
                added_mib(forced, b.rss),
            ]
        )
    rows.extend(start_rows(figures))
    rows.extend(import_rows(imports))
    print_table(
        f"Energy Tracker's footprint in Home Assistant ({figures.seconds:.0f} s of HA runs)",
        ["figure", "with Energy Tracker", "baseline (same run)", "added"],
        rows,
    )
    in_hass = third_party(run_b.modules)
    print_table(
        "Modules the integration imports that HA without it (a) has not loaded, by package",
        [
            "package",
            "modules",
            "self time, summed",
            "cumulative",
            "import, deps first",
            "RSS added, deps first",
            "in HA (b)",
        ],
        package_rows(imports, in_hass),
    )

    added = sorted(in_hass - third_party(run_a.modules))
    print(
        f"\nthird-party packages in HA's sys.modules with the entry, not without: {', '.join(added) or 'none'}"
    )
    print(
        f"numpy in HA's sys.modules without the entry: {'yes' if 'numpy' in run_a.modules else 'no'}; with it: {'yes' if 'numpy' in run_b.modules else 'no'}"
    )
    print(
        f"readings forwarded to QuestDB by (b): {run_b.forwarded} of {args.states} posted"
    )
    if figures.reference is not None:
        seconds, kb = plain_import_cost(args.reference_module)
        print(
            f"import {args.reference_module} in a bare {Path(sys.executable).name}: {seconds:.2f} s, {added_mib(kb, 0)} RSS"
        )
    elif args.reference_module == "pandas":
        print(
            "(c) skipped: pandas not installed (the integration no longer requires it)"
        )
    else:
        print(f"(c) skipped: {args.reference_module} is not importable")
    imported = "yes" if INTEGRATION_MODULE in run_a.modules else "no"
    print(
        "baseline: the integration is installed (the editable install puts the repository's"
        f" custom_components on every HA's path) but has no entry; HA imported it: {imported}"
    )
    print(
        "PSS/USS count pages shared with other processes as shared: other HA processes"
        " on this host lower them; VmRSS does not depend on them"
    )
    print(
        "start times are second starts of the same folder, alternating without/with; hass_runner polls the API every 0.3 s"
    )


def main() -> int:
    """Measure HA with and without the integration, then the imports alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--states", type=int, default=300, help="states posted to each HA"
    )
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds before measuring"
    )
    parser.add_argument("--starts", type=int, default=3, help="timed starts of each HA")
    parser.add_argument(
        "--reference-module", default="pandas", help="forced into HA for (c)"
    )
    parser.add_argument("--keep", action="store_true", help=f"keep {RUN_DIR}")
    args = parser.parse_args()

    shutil.rmtree(RUN_DIR, ignore_errors=True)
    database = f"energy_tracker_footprint_{uuid.uuid4().hex[:8]}"
    try:
        with probe_on_path():
            figures = run_home_assistants(args, database)
    finally:
        try:
            drop_database(StackPorts.from_env().mongodb, database)
        finally:
            if not args.keep:
                shutil.rmtree(RUN_DIR, ignore_errors=True)
    print("[footprint] imports in HA's Python", flush=True)
    report(args, figures, measure_imports(figures.baseline.modules))
    return 0


if __name__ == "__main__":
    sys.exit(main())
