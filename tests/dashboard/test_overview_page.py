"""The Overview page and the Energy settings panel in real Chromium, with seeded homes.

HA's Energy settings go straight into MongoDB (as the companion keeps them after
reading them from HA), HA's hourly statistics into QuestDB; the figures the page
must show are computed here from the same hours, per local day of HA's zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect
import pytest

from tests.energy_settings import LEGACY
from tests.ha import HomeAssistant
from tests.servers import Servers
from tools.hass_runner import DEFAULT_TIME_ZONE

from .conftest import (
    DESKTOP,
    PHONE,
    Companion,
    Tab,
    open_tab,
    painted_pixels,
    start_companion,
    stop_companion,
)
from .seed import (
    HOUR,
    drop_database,
    entity_document,
    fmt,
    insert_documents,
    money,
    percent,
    remember_time_zone,
    wait_for_count,
    write_energy_settings,
    write_readings,
    write_statistics,
)

ZONE = ZoneInfo(DEFAULT_TIME_ZONE)
IMPORT_PRICE = 0.31
EXPORT_PRICE = 0.08
READY = "() => performance.getEntriesByName('et:overview-ready').length > 0"


def local_midnight(day: date) -> datetime:
    """Midnight of a local date in HA's zone, as a UTC instant."""
    return datetime.combine(day, datetime.min.time(), ZONE).astimezone(UTC)


def local_hours(first: date, days: int) -> list[datetime]:
    """Every UTC hour of the local days first..first + days."""
    start, end = local_midnight(first), local_midnight(first + timedelta(days=days))
    return [start + i * HOUR for i in range(int((end - start) / HOUR))]


@dataclass
class Home:
    """A seeded home: the statistic of each role and its change per hour."""

    stats: dict[str, str]
    changes: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)

    def total(self, role: str, first: date, following: date) -> float:
        """The role's energy (or volume, or money) over the local days [first, following)."""
        return sum(
            change
            for hour, change in self.changes.get(role, [])
            if first <= hour.astimezone(ZONE).date() < following
        )


def seed(
    servers: Servers,
    home: Home,
    pattern: dict[str, Callable[[int, int], float]],
    first: date,
    days: int,
) -> None:
    """Hourly statistics of each role: pattern(day index, local hour) per hour."""
    for role, per_hour in pattern.items():
        home.changes[role] = [
            (
                hour,
                per_hour(
                    (hour.astimezone(ZONE).date() - first).days,
                    hour.astimezone(ZONE).hour,
                ),
            )
            for hour in local_hours(first, days)
        ]
        write_statistics(servers, home.stats[role], home.changes[role])
    for role, rows in home.changes.items():
        wait_for_count(servers, "energy_statistics", home.stats[role], len(rows))


def js_round(value: float) -> float:
    """Math.round(v * 1e6) / 1e6, as the page cleans a split figure."""
    return max(0.0, math.floor(value * 1e6 + 0.5) / 1e6)


def split(f: dict[str, float]) -> dict[str, float]:
    """The page's distribution: solar to the grid, then the battery, then the home."""
    grid, exported, solar = (
        f.get("grid_import", 0),
        f.get("grid_export", 0),
        f.get("solar", 0),
    )
    out, charged = f.get("battery_out", 0), f.get("battery_in", 0)
    solar_grid = min(solar, exported)
    battery_grid = min(out, exported - solar_grid)
    solar_battery = min(solar - solar_grid, charged)
    grid_battery = min(grid, charged - solar_battery)
    return {
        "grid-home": js_round(grid - grid_battery),
        "solar-home": js_round(solar - solar_grid - solar_battery),
        "battery-home": js_round(out - battery_grid),
        "solar-grid": js_round(solar_grid),
        "battery-grid": js_round(battery_grid),
        "solar-battery": js_round(solar_battery),
        "grid-battery": js_round(grid_battery),
    }


def change_text(now: float, before: float) -> tuple[str, str]:
    """The trend and the words of a card's change, as the page writes them."""
    if abs(now - before) < 1e-9:
        return "flat", "no change"
    if before == 0:
        return "up", "up from 0"
    return ("up" if now > before else "down"), percent(abs(now - before) / abs(before))


def overview(companion: Companion, first: date, following: date, period: str) -> Any:
    """The API's answer for the local days [first, following)."""
    status, answer = companion.api(
        f"/energy/overview?start_time={local_midnight(first).isoformat().replace('+00:00', 'Z')}"
        f"&end_time={local_midnight(following).isoformat().replace('+00:00', 'Z')}&period={period}"
    )
    assert status == 200, answer
    return answer


def wait_ready(page: Page) -> None:
    page.wait_for_function(READY)


def navigate(page: Page, selector: str) -> None:
    """Click a control of the navigator and wait for the figures it brings."""
    page.evaluate("() => performance.clearMarks('et:overview-ready')")
    page.click(selector)
    wait_ready(page)


def x_range(page: Page, selector: str) -> tuple[datetime, datetime]:
    interval = page.locator(selector).get_attribute("data-x-range") or ""
    first, _, last = interval.partition("/")
    return datetime.fromisoformat(first), datetime.fromisoformat(last)


def card_values(page: Page) -> dict[str, str]:
    """Each card's figure by its id."""
    return dict(
        page.evaluate(
            """() => [...document.querySelectorAll('#ov-cards .card')].map(
                (c) => [c.id.replace('ov-card-', ''), c.querySelector('.value').textContent])"""
        )
    )


def flows(page: Page) -> dict[str, str]:
    return dict(
        page.evaluate(
            """() => [...document.querySelectorAll('#ov-flow .flow-link')].map(
                (l) => [l.dataset.flow, l.querySelector('.flow-kwh').textContent])"""
        )
    )


def ranking(page: Page) -> list[tuple[str, int, str, str]]:
    """The devices as listed: name, depth, energy, share of the home."""
    return [
        (name, int(depth), kwh, share)
        for name, depth, kwh, share in page.evaluate(
            """() => [...document.querySelectorAll('#ov-devices-list li.device:not(.untracked)')].map((li) => {
                const row = li.querySelector(':scope > .rank-row');
                return [row.querySelector('.rank-name').textContent.trim(), li.dataset.depth || '0',
                        row.querySelector('.rank-kwh').textContent, row.querySelector('.rank-share').textContent];
            })"""
        )
    ]


def kwh(value: float) -> str:
    return f"{fmt(value)} kWh"


# -- a home with every kind of source, in HA's legacy format ------------------------


def full_home(suffix: str) -> Home:
    roles = [
        "grid_import", "grid_export", "solar", "battery_out", "battery_in",
        "gas", "gas_cost", "fridge", "freezer", "washer",
    ]  # fmt: skip
    return Home({role: f"sensor.ov_{role}_{suffix}" for role in roles})


def full_prefs(home: Home) -> dict[str, Any]:
    s = home.stats
    return {
        "energy_sources": [
            {
                "type": "grid",
                "flow_from": [
                    {
                        "stat_energy_from": s["grid_import"],
                        "stat_cost": None,
                        "entity_energy_price": None,
                        "number_energy_price": IMPORT_PRICE,
                    }
                ],
                "flow_to": [
                    {
                        "stat_energy_to": s["grid_export"],
                        "stat_compensation": None,
                        "entity_energy_price": None,
                        "number_energy_price": EXPORT_PRICE,
                    }
                ],
                "power": [],
                "cost_adjustment_day": 0.0,
            },
            {
                "type": "solar",
                "stat_energy_from": s["solar"],
                "config_entry_solar_forecast": None,
            },
            {
                "type": "battery",
                "stat_energy_from": s["battery_out"],
                "stat_energy_to": s["battery_in"],
            },
            {
                "type": "gas",
                "stat_energy_from": s["gas"],
                "stat_cost": s["gas_cost"],
                "entity_energy_price": None,
                "number_energy_price": None,
            },
        ],
        "device_consumption": [
            {"stat_consumption": s["fridge"], "name": "Fridge"},
            {"stat_consumption": s["freezer"], "included_in_stat": s["fridge"]},
            {"stat_consumption": s["washer"], "name": "Washing machine"},
        ],
        "device_consumption_water": [],
    }


FULL_PATTERN: dict[str, Callable[[int, int], float]] = {
    "grid_import": lambda k, h: (
        round(0.2 + 0.037 * k, 3) if h < 7 or h >= 18 else 0.113
    ),
    "grid_export": lambda k, h: 0.15 + 0.01 * (k % 3) if 11 <= h < 15 else 0.0,
    "solar": lambda k, h: round(0.3 + 0.021 * k, 3) if 8 <= h < 17 else 0.0,
    "battery_out": lambda k, h: 0.25 if 18 <= h < 22 else 0.0,
    "battery_in": lambda k, h: 0.2 if 12 <= h < 16 else 0.0,
    "gas": lambda k, h: round(0.1 + 0.013 * k, 3),
    "gas_cost": lambda k, h: round(1.1 * (0.1 + 0.013 * k), 4),
    "fridge": lambda k, h: 0.05,
    "freezer": lambda k, h: 0.03,
    "washer": lambda k, h: 1.1 if h == 10 and k % 3 == 0 else 0.0,
}


def full_figures(home: Home, first: date, following: date) -> dict[str, float]:
    f = {role: home.total(role, first, following) for role in home.stats}
    f["home"] = (
        f["grid_import"] + f["solar"] + f["battery_out"]
        - f["grid_export"] - f["battery_in"]
    )  # fmt: skip
    f["cost"] = f["grid_import"] * IMPORT_PRICE + f["gas_cost"]
    f["compensation"] = f["grid_export"] * EXPORT_PRICE
    f["untracked"] = max(0.0, f["home"] - f["fridge"] - f["washer"])
    return f


CARD_OF = {
    "grid-import": ("grid_import_kwh", "grid_import"),
    "grid-export": ("grid_export_kwh", "grid_export"),
    "solar": ("solar_kwh", "solar"),
    "battery-out": ("battery_out_kwh", "battery_out"),
    "battery-in": ("battery_in_kwh", "battery_in"),
    "home": ("home_kwh", "home"),
}


def expected_cards(answer: dict[str, Any]) -> dict[str, str]:
    """The cards' figures from the API's totals (HA's statistics, checked beside)."""
    t = answer["totals"]
    cards = {card: kwh(t[key]) for card, (key, _) in CARD_OF.items() if key in t}
    if "gas" in t:
        cards["gas"] = f"{fmt(t['gas']['value'])} {t['gas']['unit']}"
    if "water" in t:
        cards["water"] = f"{fmt(t['water']['value'])} {t['water']['unit']}"
    if "cost" in t:
        cards["cost"] = money(t["cost"])
    if "compensation" in t:
        cards["compensation"] = money(t["compensation"])
    return cards


def check_full_week(page: Page, companion: Companion, home: Home, monday: date) -> None:
    """Cards, changes, distribution, devices and the chart's span of one week."""
    following = monday + timedelta(days=7)
    expected = full_figures(home, monday, following)
    answer = overview(companion, monday, following, "day")
    t = answer["totals"]
    for card, (key, role) in CARD_OF.items():
        assert t[key] == pytest.approx(expected[role], abs=1e-6), card
    assert t["gas"] == {"value": pytest.approx(expected["gas"], abs=1e-6), "unit": "m³"}
    assert t["cost"] == pytest.approx(expected["cost"], abs=1e-6)
    assert t["compensation"] == pytest.approx(expected["compensation"], abs=1e-6)
    assert t["devices"] == pytest.approx(
        {home.stats[r]: expected[r] for r in ("fridge", "freezer", "washer")}, abs=1e-6
    )
    assert t["untracked_kwh"] == pytest.approx(expected["untracked"], abs=1e-6)

    assert card_values(page) == expected_cards(answer)
    assert list(card_values(page)) == [
        "grid-import", "grid-export", "solar", "battery-out", "battery-in",
        "home", "gas", "cost", "compensation",
    ]  # fmt: skip
    # Each card's change against the week before.
    before = answer["previous"]
    for card, (key, _) in CARD_OF.items():
        trend, words = change_text(t[key], before[key])
        change = page.locator(f"#ov-card-{card} .trend")
        expect(change).to_have_attribute("data-trend", trend)
        expect(change.locator(".pct")).to_have_text(words)
    trend, words = change_text(t["cost"], before["cost"])
    expect(page.locator("#ov-card-cost .trend .pct")).to_have_text(words)
    # Using more from the grid is not welcome, making more solar is.
    import_trend = change_text(t["grid_import_kwh"], before["grid_import_kwh"])[0]
    expect(page.locator("#ov-card-grid-import .trend")).to_have_attribute(
        "data-good", "true" if import_trend == "down" else "false"
    )

    # From the sources to the home, with what went to the grid and the battery.
    shares = split(
        {
            role: t[f"{role}_kwh"]
            for role in (
                "grid_import",
                "grid_export",
                "solar",
                "battery_out",
                "battery_in",
            )
        }
    )
    assert flows(page) == {
        flow: kwh(v) for flow, v in shares.items() if v > 0 or flow.endswith("-home")
    }
    expect(
        page.locator("#ov-flow .flow-node[data-node=home] .flow-total")
    ).to_have_text(kwh(t["home_kwh"]))
    expect(page.locator("#ov-self-sufficiency strong")).to_have_text(
        percent(t["self_sufficiency"])
    )
    expect(page.locator("#ov-self-consumption strong")).to_have_text(
        percent(t["self_consumption"])
    )

    # Devices by energy, the freezer inside the fridge, then what no device reports.
    devices = sorted(
        [
            ("Fridge", t["devices"][home.stats["fridge"]]),
            ("Washing machine", t["devices"][home.stats["washer"]]),
        ],
        key=lambda item: -item[1],
    )
    rows: list[tuple[str, int, str, str]] = []
    for name, value in devices:
        rows.append((name, 0, kwh(value), percent(value / t["home_kwh"])))
        if name == "Fridge":
            freezer = t["devices"][home.stats["freezer"]]
            rows.append(("Freezer", 1, kwh(freezer), percent(freezer / t["home_kwh"])))
    assert ranking(page) == rows
    expect(page.locator("#ov-untracked .rank-kwh")).to_have_text(
        kwh(t["untracked_kwh"])
    )
    expect(page.locator("#ov-over-reported")).to_have_count(0)

    # The bars span the week: each day on UTC midnight of its date, half a day either side.
    assert x_range(page, "#ov-energy-chart") == (
        datetime.combine(monday, datetime.min.time(), UTC) - timedelta(hours=12),
        datetime.combine(monday + timedelta(days=6), datetime.min.time(), UTC)
        + timedelta(hours=12),
    )
    assert painted_pixels(page, "#ov-energy-chart") > 500
    assert painted_pixels(page, "#ov-gas-chart") > 500


def test_overview_of_a_whole_home_follows_the_navigator(
    servers: Servers, companion: Companion, tab: Tab, entity_suffix: str
) -> None:
    """A week of every source: exact cards, changes, flows, devices; ← → day month year today."""
    today = datetime.now(ZONE).date()
    monday = today - timedelta(
        days=14 + today.weekday()
    )  # a whole week, two weeks back
    first = monday - timedelta(days=7)  # and the week before it, to compare with
    home = full_home(entity_suffix)
    units = dict.fromkeys(home.stats.values(), "kWh")
    units[home.stats["gas"]] = "m³"
    units[home.stats["gas_cost"]] = "EUR"
    write_energy_settings(servers, companion.database, full_prefs(home), units)
    insert_documents(
        servers,
        companion.database,
        "entities",
        [
            entity_document(
                home.stats["freezer"], "Freezer", "kWh", "energy", "total_increasing"
            )
        ],
    )
    seed(servers, home, FULL_PATTERN, first, 14)

    page = tab.page
    page.goto(companion.url(f"/#/?view=week&date={monday + timedelta(days=2)}"))
    wait_ready(page)
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Overview")
    expect(page.locator("[data-view=week]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#ov-span")).to_contain_text(str(monday.day))
    check_full_week(page, companion, home, monday)
    # Water is not named in HA's Energy settings: no card, no chart.
    expect(page.locator("#ov-card-water")).to_have_count(0)
    expect(page.locator("#ov-water")).to_have_count(0)
    expect(page.locator("#ov-standby")).to_be_hidden()  # no power readings: no standby
    tab.screenshot("overview-week-desktop")

    # ← : the week before; its figures are what the first week compared with.
    navigate(page, "#ov-prev")
    assert f"date={first}" in page.url
    check_full_week(page, companion, home, first)
    navigate(page, "#ov-next")
    navigate(page, "#ov-next")  # a week without data: zeros, and what to do
    assert f"date={monday + timedelta(days=7)}" in page.url
    assert card_values(page)["grid-import"] == "0 kWh"
    expect(page.locator("#ov-card-grid-import .trend")).to_have_attribute(
        "data-trend", "down"
    )
    expect(page.locator("#ov-card-grid-import .pct")).to_have_text("100%")
    expect(page.locator(".notice.nothing-recorded")).to_contain_text(
        "Nothing was recorded"
    )
    navigate(page, "#ov-prev")
    assert f"date={monday}" in page.url

    # Day: 24 hour bars of the Monday, in HA's zone.
    navigate(page, "[data-view=day]")
    day = overview(companion, monday, monday + timedelta(days=1), "hour")
    assert len(day["buckets"]) == 24
    assert day["totals"]["grid_import_kwh"] == pytest.approx(
        home.total("grid_import", monday, monday + timedelta(days=1)), abs=1e-6
    )
    assert card_values(page) == expected_cards(day)
    assert x_range(page, "#ov-energy-chart") == (
        local_midnight(monday),
        local_midnight(monday + timedelta(days=1)),
    )
    navigate(page, "#ov-prev")
    sunday = overview(companion, monday - timedelta(days=1), monday, "hour")
    assert card_values(page) == expected_cards(sunday)
    navigate(page, "#ov-next")

    # Month and year: days, then months of the same totals.
    navigate(page, "[data-view=month]")
    month_first = monday.replace(day=1)
    month_next = (month_first + timedelta(days=32)).replace(day=1)
    month = overview(companion, month_first, month_next, "day")
    assert month["totals"]["solar_kwh"] == pytest.approx(
        home.total("solar", month_first, month_next), abs=1e-6
    )
    assert card_values(page) == expected_cards(month)
    navigate(page, "[data-view=year]")
    year_first = date(monday.year, 1, 1)
    year = overview(companion, year_first, date(monday.year + 1, 1, 1), "month")
    assert len(year["buckets"]) == 12
    assert year["totals"]["grid_import_kwh"] == pytest.approx(
        home.total("grid_import", year_first, date(monday.year + 1, 1, 1)), abs=1e-6
    )
    assert card_values(page) == expected_cards(year)
    expect(page.locator("#ov-span")).to_have_text(str(monday.year))

    # Today: the current day, nothing further to move to.
    navigate(page, "[data-view=day]")
    navigate(page, "#ov-today")
    assert f"date={today}" in page.url
    expect(page.locator("#ov-next")).to_be_disabled()
    expect(page.locator("#ov-today")).to_be_disabled()
    assert card_values(page)["solar"] == "0 kWh"

    # The other pages are a click away, and the overview is what / opens.
    page.click("nav >> text=Meters")
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Meters")
    page.click("nav >> text=Overview")
    wait_ready(page)
    tab.no_horizontal_scroll()
    tab.assert_no_console_errors()


# -- a home with a grid, water and a power sensor, in HA's newer format -----------------


def flat_home(suffix: str) -> tuple[Home, dict[str, Any], str]:
    home = Home(
        {
            role: f"sensor.ov2_{role}_{suffix}"
            for role in ("grid_import", "water", "heat_pump")
        }
    )
    power = f"sensor.ov2_home_power_{suffix}"
    prefs = {
        "energy_sources": [
            {
                "type": "grid",
                "stat_energy_from": home.stats["grid_import"],
                "stat_energy_to": None,
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": 0.25,
                "stat_compensation": None,
                "entity_energy_price_export": None,
                "number_energy_price_export": None,
                "cost_adjustment_day": 0.0,
            },
            {"type": "home", "stat_energy_to": None, "stat_rate": power},
            {
                "type": "water",
                "stat_energy_from": home.stats["water"],
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
            },
        ],
        "device_consumption": [
            {"stat_consumption": home.stats["heat_pump"], "name": "Heat pump"}
        ],
        "device_consumption_water": [],
    }
    return home, prefs, power


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_overview_on_a_phone_shows_only_what_is_named(
    servers: Servers,
    companion: Companion,
    browser: Browser,
    entity_suffix: str,
    scheme: str,
) -> None:
    """375 px: grid, water and standby only; a device reporting more than the home."""
    today = datetime.now(ZONE).date()
    monday = today - timedelta(days=7 + today.weekday())
    home, prefs, power = flat_home(entity_suffix)
    write_energy_settings(
        servers,
        companion.database,
        prefs,
        {
            home.stats["grid_import"]: "kWh",
            home.stats["water"]: "m³",
            home.stats["heat_pump"]: "kWh",
        },
    )
    seed(
        servers,
        home,
        {
            "grid_import": lambda k, h: 0.4 + 0.1 * k,
            "water": lambda k, h: 0.012 if 6 <= h < 22 else 0.0,
            "heat_pump": lambda k, h: 0.5 + 0.1 * k + (0.05 if h == 3 else 0.0),
        },
        monday,
        7,
    )
    # The home's power every quarter hour: lowest at 3 to 4 in the night, per local day.
    quarters = [
        hour + timedelta(minutes=15 * q)
        for hour in local_hours(monday, 7)
        for q in range(4)
    ]
    lowest: dict[date, float] = {}
    readings = []
    for moment in quarters:
        local = moment.astimezone(ZONE)
        k = (local.date() - monday).days
        watts = 120.0 + 15 * k if local.hour == 3 else 480.0 + (local.minute % 30)
        lowest[local.date()] = min(lowest.get(local.date(), math.inf), watts)
        readings.append((moment, watts))
    write_readings(servers, power, "W", "power", readings)
    wait_for_count(servers, "energy_readings", power, len(readings))

    tab = open_tab(browser, viewport=PHONE, color_scheme=scheme)
    try:
        page = tab.page
        page.goto(companion.url(f"/#/?view=week&date={monday}"))
        wait_ready(page)
        answer = overview(companion, monday, monday + timedelta(days=7), "day")
        t = answer["totals"]
        assert t["grid_import_kwh"] == pytest.approx(
            home.total("grid_import", monday, monday + timedelta(days=7)), abs=1e-6
        )
        assert t["water"]["value"] == pytest.approx(
            home.total("water", monday, monday + timedelta(days=7)), abs=1e-6
        )
        # Only what the settings name: no solar, battery, export, gas, compensation.
        assert card_values(page) == {
            "grid-import": kwh(t["grid_import_kwh"]),
            "home": kwh(t["home_kwh"]),
            "water": f"{fmt(t['water']['value'])} m³",
            "cost": money(t["cost"]),
        }
        assert t["cost"] == pytest.approx(0.25 * t["grid_import_kwh"], abs=1e-6)
        assert flows(page) == {"grid-home": kwh(t["grid_import_kwh"])}
        expect(page.locator("#ov-self-consumption")).to_have_count(0)
        expect(page.locator("#ov-gas")).to_have_count(0)
        expect(page.locator("#ov-water canvas")).to_have_count(1)

        # The heat pump reports more than the home used: nothing is untracked.
        heat_pump = t["devices"][home.stats["heat_pump"]]
        assert heat_pump > t["home_kwh"]
        assert ranking(page) == [
            ("Heat pump", 0, kwh(heat_pump), percent(heat_pump / t["home_kwh"]))
        ]
        expect(page.locator("#ov-untracked .rank-kwh")).to_have_text("0 kWh")
        expect(page.locator("#ov-over-reported strong")).to_have_text(
            kwh(heat_pump - t["home_kwh"])
        )

        # Standby per day from the home's power sensor.
        assert [(d["date"], d["w"]) for d in answer["base_load_w"]] == [
            (day.isoformat(), watts) for day, watts in sorted(lowest.items())
        ]
        expect(page.locator("#ov-standby")).to_be_visible()
        expect(page.locator("#ov-standby-sub")).to_have_text(
            f"average {fmt(t['base_load_w'])} W · from the home's power sensor"
        )
        expect(page.locator("#ov-standby-chart canvas")).to_have_count(1)
        assert painted_pixels(page, "#ov-standby-chart") > 200
        tab.no_horizontal_scroll()
        tab.screenshot(f"overview-phone-{scheme}", keep=scheme == "light")

        # The navigator moves on a phone too; every control has a name.
        navigate(page, "[data-view=day]")
        assert card_values(page)["grid-import"] == kwh(
            home.total("grid_import", monday, monday + timedelta(days=1))
        )
        navigate(page, "#ov-next")
        assert card_values(page)["grid-import"] == kwh(
            home.total(
                "grid_import", monday + timedelta(days=1), monday + timedelta(days=2)
            )
        )
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('main button')].filter(
                (b) => !(b.getAttribute('aria-label') || b.textContent.trim())).map((b) => b.outerHTML)"""
        )
        assert unnamed == []
        tab.no_horizontal_scroll()
        tab.assert_no_console_errors()
    finally:
        tab.context.close()


# -- empty states -------------------------------------------------------------------


def expected_refusals(tab: Tab, status: int = 409) -> None:
    """The API's refusals are answers the page explains, not page errors."""
    tab.errors[:] = [e for e in tab.errors if f"status of {status}" not in e]


def test_overview_says_what_to_do_without_settings(
    servers: Servers, companion: Companion, tab: Tab
) -> None:
    """HA never connected, settings naming nothing, and never set up: each says what to do."""
    page = tab.page
    page.goto(companion.url("/"))
    wait_ready(page)
    missing = page.locator(".notice.ha-missing")
    expect(missing).to_contain_text("Home Assistant is not configured")
    expect(missing.locator("a")).to_have_attribute("href", "#/settings")
    expect(page.locator(".overview-nav")).to_be_hidden()
    expect(page.locator("#ov-cards")).to_be_hidden()

    nothing: dict[str, Any] = {
        "energy_sources": [],
        "device_consumption": [],
        "device_consumption_water": [],
    }
    write_energy_settings(servers, companion.database, nothing, {})
    page.reload()
    wait_ready(page)
    expect(page.locator(".notice.nothing-named")).to_contain_text(
        "Energy settings name no grid, solar, battery, gas or water meter"
    )
    expect(page.locator(".notice.nothing-named a")).to_have_attribute(
        "href", "#/settings"
    )
    expect(page.locator(".card")).to_have_count(0)

    write_energy_settings(servers, companion.database, None, {})
    page.reload()
    wait_ready(page)
    expect(page.locator(".notice.nothing-named")).to_contain_text(
        "Home Assistant's Energy dashboard is not set up yet"
    )
    expected_refusals(tab)
    tab.assert_no_console_errors()


def test_overview_waits_for_home_assistants_time_zone(
    servers: Servers, mongodb_database_name: str, browser: Browser, tmp_path: Path
) -> None:
    """A companion that never learnt HA's zone shows no day, and says where to connect HA."""
    running = start_companion(servers, mongodb_database_name, tmp_path)
    tab = open_tab(browser, viewport=PHONE)
    try:
        requests: list[str] = []
        tab.page.on("request", lambda r: requests.append(r.url))
        tab.page.goto(running.url("/"))
        wait_ready(tab.page)
        notice = tab.page.locator(".notice.zone-unknown")
        expect(notice).to_contain_text("Home Assistant's time zone is not known yet.")
        expect(notice.locator("a")).to_have_attribute("href", "#/settings")
        assert not [url for url in requests if "/energy/overview" in url]
        tab.no_horizontal_scroll()
        tab.assert_no_console_errors()
    finally:
        tab.context.close()
        stop_companion(running)
        drop_database(servers, mongodb_database_name)


# -- the Energy settings panel ---------------------------------------------------------


def test_settings_list_what_home_assistants_energy_settings_name(
    servers: Servers, companion: Companion, tab: Tab, home_assistant: HomeAssistant
) -> None:
    """Sources with their prices, nested devices, when read; Read again asks HA."""
    synced = datetime(2026, 3, 14, 9, 26, tzinfo=UTC)
    write_energy_settings(
        servers, companion.database, LEGACY, {"sensor.import": "kWh"}, synced_at=synced
    )
    page = tab.page
    page.goto(companion.url("/#/settings"))
    panel = page.locator("#es-body")
    expect(panel.locator("#es-grid-import")).to_have_text(
        "sensor.import · cost statistic sensor.import_cost"
    )
    expect(panel.locator("#es-grid-export")).to_have_text(
        "sensor.export · price entity sensor.export_price"
    )
    expect(panel.locator("#es-solar")).to_have_text("sensor.solar")
    expect(panel.locator("#es-battery")).to_have_text(
        "out sensor.battery_out · in sensor.battery_in"
    )
    expect(panel.locator("#es-gas")).to_have_text("sensor.gas · fixed price 1.2 EUR")
    # The freezer is inside the fridge's total.
    expect(
        panel.locator("#es-devices li[data-stat='sensor.fridge'] > ul > li")
    ).to_have_attribute("data-stat", "sensor.freezer")
    expect(panel.locator("#es-devices > ul > li")).to_have_count(1)
    expect(panel.locator("#es-water-devices")).to_have_text("sensor.shower")
    expect(panel.locator("#es-missing")).to_have_text("Not named: water, home power.")
    synced_text = panel.locator("#es-synced")
    expect(synced_text).to_contain_text("from http://127.0.0.1:8123")
    # Shown in HA's zone (the browser is in New York).
    local = synced.astimezone(ZONE)
    expect(synced_text.locator("time")).to_have_attribute(
        "datetime", "2026-03-14T09:26:00Z"
    )
    expect(synced_text.locator("time")).to_contain_text(f"{local:%b} {local.day}, 2026")
    expect(synced_text.locator("time")).to_contain_text(
        f"{local.hour % 12 or 12}:{local:%M}"
    )
    expect(synced_text).to_contain_text("currency EUR")
    tab.no_horizontal_scroll()

    # Read again without HA: the API's message, at the panel.
    page.click("#es-refresh")
    expect(page.locator("#es-error")).to_contain_text(
        "Home Assistant is not configured: connect it on the Settings page"
    )
    expect(page.locator("#es-status")).to_have_text("Not read.")
    expected_refusals(tab)

    # With HA connected it reads HA's own settings now.
    status, body = companion.post(
        "/settings/home-assistant",
        {"url": home_assistant.url, "token": home_assistant.token},
    )
    assert status == 200, body
    page.click("#es-refresh")
    expect(page.locator("#es-status")).to_have_text(
        "Read from Home Assistant just now.", timeout=30_000
    )
    _, answer = companion.api("/energy/settings")
    expect(page.locator("#es-synced time")).to_have_attribute(
        "datetime", answer["synced_at"]
    )
    assert datetime.fromisoformat(answer["synced_at"]) > synced
    expect(page.locator("#es-synced")).to_contain_text(home_assistant.url)
    tab.assert_no_console_errors()


def test_every_overview_view_fits_a_phone(
    servers: Servers,
    mongodb_database_name: str,
    browser: Browser,
    tmp_path: Path,
    entity_suffix: str,
) -> None:
    """Day, week, month and year of a full home at 375 px and desktop, dark and light."""
    remember_time_zone(servers, mongodb_database_name, DEFAULT_TIME_ZONE)
    running = start_companion(servers, mongodb_database_name, tmp_path)
    try:
        today = datetime.now(ZONE).date()
        first = today - timedelta(days=10)
        home = full_home(entity_suffix)
        write_energy_settings(
            servers,
            mongodb_database_name,
            full_prefs(home),
            dict.fromkeys(home.stats.values(), "kWh"),
        )
        seed(servers, home, FULL_PATTERN, first, 10)
        for viewport, scheme in ((PHONE, "dark"), (DESKTOP, "dark"), (PHONE, "light")):
            tab = open_tab(browser, viewport=viewport, color_scheme=scheme)
            try:
                for view in ("day", "week", "month", "year"):
                    tab.page.goto(
                        running.url(f"/#/?view={view}&date={today - timedelta(days=3)}")
                    )
                    wait_ready(tab.page)
                    expect(tab.page.locator("#ov-energy-chart canvas")).to_have_count(1)
                    tab.no_horizontal_scroll()
                    size = "phone" if viewport == PHONE else "desktop"
                    tab.screenshot(f"overview-{view}-{size}-{scheme}")
                tab.assert_no_console_errors()
            finally:
                tab.context.close()
    finally:
        stop_companion(running)
        drop_database(servers, mongodb_database_name)
