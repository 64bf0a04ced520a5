"""The dashboard in real Chromium against the companion, QuestDB and MongoDB with seeded data."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
import io
import json
from pathlib import Path
import re
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect
import pytest

from tests.ha import HomeAssistant
from tests.servers import Servers
from tools.hass_runner import DEFAULT_TIME_ZONE

from .conftest import (
    ARTIFACTS,
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
    Meter,
    current_hour,
    drop_database,
    entity_document,
    fmt,
    insert_documents,
    wait_for_count,
    write_energy_settings,
    write_meter,
    write_readings,
)


def consumption_pattern(count: int) -> list[float]:
    return [round(0.3 + 0.1 * ((i * 7) % 13), 1) for i in range(count)]


def seed_meters(
    servers: Servers, companion: Companion, suffix: str
) -> tuple[Meter, Meter]:
    """An electricity meter (40 days, three spikes) and a gas meter (10 days)."""
    end = current_hour() - 2 * HOUR  # start of the last seeded hour
    hours = 40 * 24
    start = end - (hours - 1) * HOUR
    consumption = consumption_pattern(hours)
    for days_ago, spike in ((3, 5.0), (20, 7.5), (35, 9.0)):
        consumption[hours - 1 - days_ago * 24] = spike
    energy = Meter(
        f"sensor.grid_energy_{suffix}",
        "Grid energy",
        "kWh",
        "energy",
        start,
        consumption,
    )
    gas_hours = 10 * 24
    gas = Meter(
        f"sensor.gas_meter_{suffix}",
        "Gas meter",
        "m³",
        "gas",
        end - (gas_hours - 1) * HOUR,
        [round(0.05 * (1 + i % 4), 2) for i in range(gas_hours)],
        base=500.0,
    )
    for meter in (energy, gas):
        write_meter(servers, meter)
    insert_documents(
        servers,
        companion.database,
        "entities",
        [
            entity_document(
                m.entity_id, m.friendly_name, m.unit, m.device_class, "total_increasing"
            )
            for m in (energy, gas)
        ]
        + [
            entity_document(
                f"sensor.untracked_{suffix}",
                "Not tracked",
                "W",
                "power",
                "measurement",
                tracked=False,
            )
        ],
    )
    for meter in (energy, gas):
        wait_for_count(
            servers, "energy_readings", meter.entity_id, len(meter.consumption) + 1
        )
        wait_for_count(
            servers, "energy_statistics", meter.entity_id, len(meter.consumption)
        )
    return energy, gas


def time_zone_of(companion: Companion) -> str:
    """HA's time zone as the companion reports it (GET /api/settings)."""
    status, settings = companion.api("/settings")
    assert status == 200 and settings.get("time_zone"), settings
    return str(settings["time_zone"])


def expected_cards(meter: Meter, days: int, zone: str) -> dict[str, str]:
    """Total, average per day, peak hour and latest reading for the last `days` days."""
    tz = ZoneInfo(zone)
    today = datetime.now(tz).date()
    window_start = datetime.combine(
        today - timedelta(days=days - 1), datetime.min.time(), tz
    )
    inside = [(t, c) for t, c in meter.hours() if t >= window_start]
    total = sum(c for _, c in inside)
    peak = max(c for _, c in inside)
    _, latest = meter.last_reading
    unit = meter.unit
    return {
        "total": f"{fmt(total)} {unit}",
        "avg": f"{fmt(total / days)} {unit}",
        "peak": f"{fmt(peak)} {unit}",
        "latest": f"{fmt(latest)} {unit}",
    }


def expected_custom(meter: Meter, first: date, last: date, zone: str) -> dict[str, str]:
    """The cards for the local days first..last (inclusive)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first, datetime.min.time(), tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
    inside = [c for t, c in meter.hours() if start <= t < end]
    days = (last - first).days + 1
    total = sum(inside)
    return {
        "total": f"{fmt(total)} {meter.unit}",
        "avg": f"{fmt(total / days)} {meter.unit}",
        "peak": f"{fmt(max(inside))} {meter.unit}",
        "latest": f"{fmt(meter.last_reading[1])} {meter.unit}",
    }


def assert_cards(page: Page, expected: dict[str, str]) -> None:
    expect(page.locator("#card-total .value")).to_have_text(expected["total"])
    expect(page.locator("#card-avg .value")).to_have_text(expected["avg"])
    expect(page.locator("#card-peak .value")).to_have_text(expected["peak"])
    expect(page.locator("#card-latest .value")).to_have_text(expected["latest"])


def test_dashboard_numbers_follow_entity_and_range(
    servers: Servers, companion: Companion, tab: Tab, entity_suffix: str
) -> None:
    """Selecting an entity and a range shows the totals computed from the seeded data."""
    energy, gas = seed_meters(servers, companion, entity_suffix)
    zone = time_zone_of(companion)
    page = tab.page
    page.goto(companion.url("/#/meters"))

    # Only tracked entities, grouped by device class.
    expect(page.locator("#entity optgroup[label=Energy] option")).to_have_count(1)
    expect(page.locator("#entity optgroup[label=Gas] option")).to_have_count(1)
    assert (
        page.locator(
            f"#entity option[value='sensor.untracked_{entity_suffix}']"
        ).count()
        == 0
    )

    page.select_option("#entity", energy.entity_id)
    page.select_option("#range", "7d")
    assert_cards(page, expected_cards(energy, 7, zone))
    expect(page.locator("#card-latest .sub")).to_contain_text("ago")

    page.select_option("#range", "30d")
    assert_cards(page, expected_cards(energy, 30, zone))

    page.select_option("#range", "90d")
    assert_cards(page, expected_cards(energy, 90, zone))

    page.select_option("#range", "1y")
    assert_cards(page, expected_cards(energy, 365, zone))

    # A custom range of whole past days (HA's days).
    today = datetime.now(ZoneInfo(zone)).date()
    first, last = today - timedelta(days=9), today - timedelta(days=3)
    page.select_option("#range", "custom")
    page.fill("#from", first.isoformat())
    page.fill("#to", last.isoformat())
    page.locator("#to").dispatch_event("change")
    assert_cards(page, expected_custom(energy, first, last, zone))
    expect(page.locator("#daily-chart")).to_have_attribute(
        "aria-label", re.compile(r"^Daily chart, 7 days: ")
    )

    page.select_option("#entity", gas.entity_id)
    page.select_option("#range", "7d")
    assert_cards(page, expected_cards(gas, 7, zone))

    # Both charts drew something.
    page.wait_for_function(
        "() => performance.getEntriesByName('et:dashboard-ready').length > 0"
    )
    for chart in ("#daily-chart", "#hourly-chart"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
        assert painted_pixels(page, chart) > 500, f"{chart} is empty"
    # The selection is kept in the URL, so a reload shows the same view.
    assert "range=7d" in page.url and gas.entity_id in page.url
    page.reload()
    assert_cards(page, expected_cards(gas, 7, zone))
    tab.assert_no_console_errors()


def x_range(page: Page, selector: str) -> tuple[datetime, datetime]:
    """The instants the chart's x axis spans."""
    interval = page.locator(selector).get_attribute("data-x-range") or ""
    first, _, last = interval.partition("/")
    return datetime.fromisoformat(first), datetime.fromisoformat(last)


def test_charts_span_the_range_with_one_bucket_or_none(
    servers: Servers, companion: Companion, tab: Tab, entity_suffix: str
) -> None:
    """With a few hours of data, or none, both charts' axes span the range asked for."""
    meter = Meter(
        f"sensor.new_meter_{entity_suffix}",
        "New meter",
        "kWh",
        "energy",
        current_hour() - 3 * HOUR,
        [0.4, 0.7],
    )
    write_meter(servers, meter)
    empty = f"sensor.empty_meter_{entity_suffix}"
    insert_documents(
        servers,
        companion.database,
        "entities",
        [
            entity_document(entity_id, name, "kWh", "energy", "total_increasing")
            for entity_id, name in (
                (meter.entity_id, meter.friendly_name),
                (empty, "Empty meter"),
            )
        ],
    )
    wait_for_count(servers, "energy_readings", meter.entity_id, 3)
    wait_for_count(servers, "energy_statistics", meter.entity_id, 2)
    tz = ZoneInfo(time_zone_of(companion))
    today = datetime.now(tz).date()
    first_day = today - timedelta(days=6)
    page = tab.page
    page.goto(companion.url("/#/meters"))
    page.select_option("#range", "7d")
    for entity_id in (meter.entity_id, empty):
        page.evaluate("() => performance.clearMarks('et:dashboard-ready')")
        page.select_option("#entity", entity_id)
        page.wait_for_function(
            "() => performance.getEntriesByName('et:dashboard-ready').length > 0"
        )
        latest = f"{fmt(meter.last_reading[1])} kWh"
        expect(page.locator("#card-latest .value")).to_have_text(
            latest if entity_id == meter.entity_id else "\u2013"
        )
        # Days are drawn at UTC midnight, each bar half a day either side.
        expect(page.locator("#daily-chart canvas")).to_have_count(1)
        daily = x_range(page, "#daily-chart")
        assert daily == (
            datetime.combine(first_day, datetime.min.time(), UTC) - timedelta(hours=12),
            datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12),
        ), daily
        expect(page.locator("#hourly-chart canvas")).to_have_count(1)
        start, end = x_range(page, "#hourly-chart")
        assert start == datetime.combine(first_day, datetime.min.time(), tz), start
        assert abs(end - datetime.now(UTC)) < timedelta(minutes=5), end
        if entity_id == empty:
            expect(page.locator("#daily-chart .chart-note")).to_have_text(
                "No daily totals in this range."
            )
            expect(page.locator("#hourly-chart .chart-note")).to_have_text(
                "No hourly statistics in this range."
            )
        else:
            expect(page.locator(".chart-note")).to_have_count(0)
            assert painted_pixels(page, "#daily-chart") > 500
    tab.assert_no_console_errors()


def test_dashboard_refreshes_itself_and_follows_the_locale(
    servers: Servers, companion: Companion, browser: Browser, entity_suffix: str
) -> None:
    """Every 60 s and when the tab becomes visible the data is fetched again; de-DE numbers."""
    energy, _ = seed_meters(servers, companion, entity_suffix)
    zone = time_zone_of(companion)
    tab = open_tab(browser, locale="de-DE")
    try:
        page = tab.page
        daily_requests: list[str] = []
        page.on(
            "request",
            lambda r: daily_requests.append(r.url) if "/daily" in r.url else None,
        )
        page.clock.install()
        page.goto(companion.url(f"/#/?entity={energy.entity_id}&range=30d"))
        expected = expected_cards(energy, 30, zone)
        german = (
            expected["latest"].replace(",", "_").replace(".", ",").replace("_", ".")
        )
        expect(page.locator("#card-latest .value")).to_have_text(german)
        assert "," in german and "." in german  # 1.881,9 kWh: grouping and decimals
        before = len(daily_requests)

        # A new reading arrives; the next automatic refresh shows it.
        ts, value = (
            datetime.now(UTC) - timedelta(minutes=1),
            energy.last_reading[1] + 0.5,
        )
        write_readings(servers, energy.entity_id, "kWh", "energy", [(ts, value)])
        wait_for_count(
            servers, "energy_readings", energy.entity_id, len(energy.consumption) + 2
        )
        page.clock.fast_forward("01:01")
        expect(page.locator("#card-latest .value")).to_have_text(
            f"{fmt(value).replace(',', '_').replace('.', ',').replace('_', '.')} kWh"
        )
        assert len(daily_requests) == before + 1

        page.clock.fast_forward("00:06")
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_for_timeout(500)
        assert len(daily_requests) == before + 2
        tab.assert_no_console_errors()
    finally:
        tab.context.close()


def test_days_wait_for_home_assistants_time_zone(
    servers: Servers,
    mongodb_database_name: str,
    browser: Browser,
    tmp_path: Path,
    *,
    home_assistant: HomeAssistant,
    entity_suffix: str,
) -> None:
    """Never connected to HA: no days (never UTC ones) and a notice saying what to do.

    Once HA is connected on the Settings page, the same page shows HA's days.
    """
    running = start_companion(servers, mongodb_database_name, tmp_path)
    tab = open_tab(browser)  # the browser is in New York: neither UTC nor HA's zone
    try:
        energy, _ = seed_meters(servers, running, entity_suffix)
        status, settings = running.api("/settings")
        assert status == 200
        assert (settings["time_zone"], settings["time_zone_known"]) == (None, False)
        page = tab.page
        daily_requests: list[str] = []
        page.on(
            "request",
            lambda r: daily_requests.append(r.url) if "/daily" in r.url else None,
        )
        page.goto(running.url(f"/#/?entity={energy.entity_id}&range=7d"))
        zone_notice = page.locator("#dash-notice .notice.zone-unknown")
        expect(zone_notice).to_be_visible()
        expect(zone_notice).to_contain_text(
            "Home Assistant's time zone is not known yet."
        )
        expect(zone_notice).to_contain_text(
            "Connect Home Assistant on the Settings page"
        )
        expect(zone_notice.locator("a")).to_have_attribute("href", "#/settings")
        page.wait_for_function(
            "() => performance.getEntriesByName('et:dashboard-ready').length > 0"
        )
        for card in ("total", "avg", "peak"):
            expect(page.locator(f"#card-{card} .value")).to_have_text("\N{EN DASH}")
        expect(page.locator("#updated")).to_contain_text("time zone is not known")
        assert "UTC" not in page.locator("main").inner_text()
        assert daily_requests == []  # no day is asked for in some other zone
        tab.screenshot("dashboard-time-zone-unknown")

        # The notice's link leads to where HA is connected; the status says it too.
        zone_notice.locator("a").click()
        status_list = page.locator("#st-body .status-list")
        expect(status_list).to_contain_text("Time zone")
        expect(status_list).to_contain_text("never learnt")
        page.fill("#ha-url", home_assistant.url)
        page.fill("#ha-token", home_assistant.token)
        page.click("#ha-save")
        expect(page.locator("#ha-result")).to_have_attribute(
            "data-state", "ok", timeout=30_000
        )
        expect(status_list).to_contain_text(DEFAULT_TIME_ZONE)

        # Back on the meters: HA's days, in HA's zone (not the browser's).
        page.click("nav >> text=Meters")
        assert_cards(page, expected_cards(energy, 7, DEFAULT_TIME_ZONE))
        expect(zone_notice).to_have_count(0)
        expect(page.locator("#updated")).to_contain_text(f"days in {DEFAULT_TIME_ZONE}")
        assert daily_requests
        # Before HA was connected the Energy settings were refused (409), as expected.
        tab.errors[:] = [e for e in tab.errors if "status of 409" not in e]
        tab.assert_no_console_errors()
    finally:
        tab.context.close()
        stop_companion(running)
        drop_database(servers, mongodb_database_name)


def test_first_paint_with_30_days_of_hourly_data(
    servers: Servers, companion: Companion, browser: Browser, entity_suffix: str
) -> None:
    """The dashboard gets ready with 30 days of hourly data; the time is recorded.

    The timings go to test-artifacts/first-paint.json. They are a figure to report,
    not an assertion: a shared 2-core CI machine makes a timed test flaky (a run
    under load measured 1,098 ms where quiet runs measure 500-840 ms).
    """
    energy, _ = seed_meters(servers, companion, entity_suffix)
    timings = []
    for _ in range(3):
        tab = open_tab(browser)
        try:
            tab.page.goto(companion.url(f"/#/?entity={energy.entity_id}&range=30d"))
            tab.page.wait_for_function(
                "() => performance.getEntriesByName('et:dashboard-ready').length > 0"
            )
            timing = tab.page.evaluate(
                """() => ({
                    ready: performance.getEntriesByName('et:dashboard-ready')[0].startTime,
                    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime ?? null,
                    hours: document.querySelector('#hourly-chart').getAttribute('aria-label'),
                })"""
            )
            timings.append(timing)
            tab.assert_no_console_errors()
        finally:
            tab.context.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "first-paint.json").write_text(json.dumps(timings, indent=2))
    best = min(t["ready"] for t in timings)
    hours = int(re.search(r"(\d+) hours", timings[0]["hours"]).group(1))  # type: ignore[union-attr]
    assert hours >= 29 * 24
    print(f"dashboard ready after {best:.0f} ms (best of 3): {timings}")


def test_empty_state_under_a_base_path(
    servers: Servers, mongodb_database_name: str, browser: Browser, tmp_path: Path
) -> None:
    """Behind /energy the page, its assets and its API calls work; no entities: a hint."""
    running = start_companion(
        servers,
        mongodb_database_name,
        tmp_path,
        {"ENERGY_TRACKER_BASE_PATH": "/energy"},
    )
    tab = open_tab(browser, viewport=PHONE, color_scheme="dark")
    try:
        assert running.base_url.endswith("/energy")
        tab.page.goto(running.url("/"))
        # The overview needs HA's time zone; the meters need tracked entities.
        expect(tab.page.locator(".notice.zone-unknown")).to_contain_text(
            "Home Assistant's time zone is not known yet."
        )
        tab.page.click("nav >> text=Meters")
        expect(tab.page.locator(".notice.empty")).to_contain_text(
            "No entities are tracked yet"
        )
        expect(tab.page.locator(".notice.empty a")).to_have_attribute(
            "href", "#/settings"
        )
        tab.page.click("text=Settings")
        expect(tab.page.locator("#st-body .status-list")).to_contain_text("QuestDB")
        expect(tab.page.locator("#st-body")).to_contain_text("connected")
        expect(tab.page.locator("#es-error")).to_contain_text(
            "Home Assistant is not configured"
        )
        tab.no_horizontal_scroll()
        # HA is not connected: the Energy settings are refused (409), as expected.
        tab.errors[:] = [e for e in tab.errors if "status of 409" not in e]
        tab.assert_no_console_errors()
    finally:
        tab.context.close()
        stop_companion(running)
        drop_database(servers, mongodb_database_name)


def test_api_token_is_asked_for_once_and_kept(
    servers: Servers,
    mongodb_database_name: str,
    browser: Browser,
    tmp_path: Path,
    entity_suffix: str,
) -> None:
    """With ENERGY_TRACKER_API_TOKEN the page says where to enter it; once saved it works."""
    running = start_companion(
        servers,
        mongodb_database_name,
        tmp_path,
        {"ENERGY_TRACKER_API_TOKEN": "s3cret-token"},
    )
    tab = open_tab(browser)
    try:
        insert_documents(
            servers,
            mongodb_database_name,
            "entities",
            [
                entity_document(
                    f"sensor.tok_{entity_suffix}",
                    "Token meter",
                    "kWh",
                    "energy",
                    "total_increasing",
                )
            ],
        )
        page = tab.page
        page.goto(running.url("/"))
        expect(page.locator(".notice.error")).to_contain_text("Settings → API access")
        page.click("nav >> text=Settings")
        page.fill("#api-token", "s3cret-token")
        page.click("#tok-form button[type=submit]")
        expect(page.locator("#st-body .status-list")).to_contain_text("MongoDB")
        page.click("nav >> text=Meters")
        expect(page.locator("#entity")).to_have_value(f"sensor.tok_{entity_suffix}")
        page.reload()
        expect(page.locator("#entity")).to_have_value(f"sensor.tok_{entity_suffix}")
        # Only the requests made before the token was entered were refused.
        # and HA is not connected: the Energy settings are refused (409).
        tab.errors[:] = [
            e for e in tab.errors if "401" not in e and "status of 409" not in e
        ]
        tab.assert_no_console_errors()
    finally:
        tab.context.close()
        stop_companion(running)
        drop_database(servers, mongodb_database_name)


def test_history_table_and_csv_match_the_zoomed_view(
    servers: Servers, companion: Companion, tab: Tab, entity_suffix: str, tmp_path: Path
) -> None:
    """Raw readings: chart, table, zoom, and a CSV of exactly the readings in view."""
    entity_id = f"sensor.house_power_{entity_suffix}"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = [
        (now - timedelta(minutes=180 - i), float(100 + (i * 37) % 900))
        for i in range(180)
    ]
    write_readings(servers, entity_id, "W", "power", rows)
    insert_documents(
        servers,
        companion.database,
        "entities",
        [entity_document(entity_id, "House power", "W", "power", "measurement")],
    )
    wait_for_count(servers, "energy_readings", entity_id, len(rows))
    page = tab.page
    page.goto(companion.url(f"/#/history?entity={entity_id}"))
    page.click("button[data-window='6h']")
    expect(page.locator("#h-summary")).to_contain_text("180 readings")
    expect(page.locator("#h-table tbody tr")).to_have_count(180)
    expect(page.locator("#h-chart canvas")).to_have_count(1)
    assert painted_pixels(page, "#h-chart") > 500

    def download() -> list[list[str]]:
        with page.expect_download() as info:
            page.click("#h-csv")
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        return list(csv.reader(io.StringIO(path.read_text())))

    full = download()
    assert full[0] == ["timestamp_utc", "local_time", "entity_id", "value", "unit"]
    assert [float(r[3]) for r in full[1:]] == [v for _, v in rows]
    assert {r[2] for r in full[1:]} == {entity_id}

    page.click("button[data-zoom='in']")
    page.click("button[data-zoom='in']")
    summary = page.locator("#h-summary").inner_text()
    shown = int(re.match(r"([\d,]+) readings", summary).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 0 < shown < 180
    zoomed = download()
    assert len(zoomed) - 1 == shown
    values = [float(r[3]) for r in zoomed[1:]]
    first = [v for _, v in rows].index(values[0])
    assert values == [v for _, v in rows][first : first + shown]
    expect(page.locator("#h-table tbody tr")).to_have_count(shown)
    tab.assert_no_console_errors()


def test_settings_save_discover_and_track(
    servers: Servers,
    companion: Companion,
    tab: Tab,
    home_assistant: HomeAssistant,
    entity_suffix: str,
) -> None:
    """HA URL + token saved (token never shown), discovery, and Track N changes /api/entities."""
    ha = home_assistant.process
    sensors = {
        f"sensor.dash_energy_{entity_suffix}": (
            "12.5",
            {
                "device_class": "energy",
                "unit_of_measurement": "kWh",
                "state_class": "total_increasing",
                "friendly_name": f"Dash energy {entity_suffix}",
            },
        ),
        f"sensor.dash_power_{entity_suffix}": (
            "450",
            {
                "device_class": "power",
                "unit_of_measurement": "W",
                "state_class": "measurement",
                "friendly_name": f"Dash power {entity_suffix}",
            },
        ),
        f"sensor.dash_gas_{entity_suffix}": (
            "3.2",
            {
                "device_class": "gas",
                "unit_of_measurement": "m³",
                "state_class": "total_increasing",
                "friendly_name": f"Dash gas {entity_suffix}",
            },
        ),
    }
    for entity_id, (state, attributes) in sensors.items():
        ha.post_state(entity_id, state, attributes)

    page = tab.page
    page.goto(companion.url("/#/settings"))
    # A failed test says what to do at the field to fix.
    page.fill("#ha-url", "http://homeassistant.invalid:8123")
    page.fill("#ha-token", "wrong-token")
    page.click("#ha-save")
    expect(page.locator("#ha-url-error")).to_contain_text(
        "does not resolve", timeout=30_000
    )
    expect(page.locator("#ha-url")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#ha-result")).to_have_attribute("data-state", "down")
    page.fill("#ha-url", ha.url)
    expect(page.locator("#ha-url-error")).to_be_hidden()
    page.click("#ha-save")
    expect(page.locator("#ha-token-error")).to_contain_text(
        "refused the access token", timeout=30_000
    )
    expect(page.locator("#ha-token")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#ha-url-error")).to_be_hidden()
    # The 422 answers are expected here, not page errors.
    tab.errors[:] = [e for e in tab.errors if "422" not in e]
    page.fill("#ha-token", home_assistant.token)
    page.click("#ha-save")
    expect(page.locator("#ha-result")).to_have_attribute(
        "data-state", "ok", timeout=30_000
    )
    expect(page.locator("#ha-token-error")).to_be_hidden()

    page.reload()
    expect(page.locator("#ha-url")).to_have_value(ha.url)
    expect(page.locator("#ha-token")).to_have_value("")
    expect(page.locator("#ha-token-hint")).to_contain_text("A token is saved")
    assert home_assistant.token not in page.content()
    _, settings = companion.api("/settings")
    assert home_assistant.token not in json.dumps(settings)

    page.click("#discover")
    expect(page.locator("#disc-status")).to_contain_text("Found", timeout=30_000)
    page.fill("#disc-filter", entity_suffix)
    expect(page.locator("#disc-items li")).to_have_count(3)
    expect(page.locator("#disc-items")).to_contain_text("kWh")
    page.fill("#disc-filter", f"dash_power_{entity_suffix}")
    expect(page.locator("#disc-items li")).to_have_count(1)
    page.fill("#disc-filter", entity_suffix)
    wanted = [f"sensor.dash_energy_{entity_suffix}", f"sensor.dash_gas_{entity_suffix}"]
    for entity_id in wanted:
        page.check(f"#disc-items input[value='{entity_id}']")
    page.fill("#disc-filter", "")
    expect(page.locator("#track")).to_have_text("Track 2 entities")
    page.click("#track")
    expect(page.locator("#track-status")).to_contain_text("Now tracking 2 entities")

    status, body = companion.api("/entities")
    assert status == 200
    items = body if isinstance(body, list) else body.get("entities") or body.get("data")
    tracked = {e["entity_id"] for e in items if e.get("is_tracked")}
    assert tracked == set(wanted)
    # Before HA was connected its Energy settings were refused (409), as expected.
    tab.errors[:] = [e for e in tab.errors if "status of 409" not in e]
    tab.assert_no_console_errors()
    # The list shows each entity's last value in HA (needs `state` in the discovery answer).
    page.click("#discover")
    expect(page.locator("#disc-status")).to_contain_text("Found", timeout=30_000)
    page.fill("#disc-filter", f"dash_energy_{entity_suffix}")
    expect(page.locator("#disc-items")).to_contain_text("last 12.5")


def test_sync_from_ha_runs_a_job_and_reports_it(
    servers: Servers,
    companion: Companion,
    tab: Tab,
    home_assistant: HomeAssistant,
    entity_suffix: str,
) -> None:
    """Without HA the button says what to do; with HA it starts a job and shows its end."""
    entity_id = f"sensor.sync_energy_{entity_suffix}"
    insert_documents(
        servers,
        companion.database,
        "entities",
        [
            entity_document(
                entity_id, "Sync energy", "kWh", "energy", "total_increasing"
            )
        ],
    )
    page = tab.page
    page.goto(companion.url(f"/#/?entity={entity_id}&range=24h"))
    expect(page.locator(".notice.empty")).to_contain_text("press “Sync from HA”")
    page.click("#sync")
    expect(page.locator("#sync-status")).to_contain_text("Sync failed")
    expect(page.locator("#sync-status")).to_contain_text("Settings")

    ha = home_assistant.process
    ha.post_state(
        entity_id,
        "42.5",
        {
            "device_class": "energy",
            "unit_of_measurement": "kWh",
            "state_class": "total_increasing",
        },
    )
    status, body = companion.post(
        "/settings/home-assistant", {"url": ha.url, "token": home_assistant.token}
    )
    assert status == 200, body
    page.click("#sync")
    expect(page.locator("#sync-status")).to_contain_text("Synced", timeout=60_000)
    expect(page.locator("#sync")).to_be_enabled()
    # A 4xx answer is an expected outcome here, not a page error.
    tab.errors[:] = [e for e in tab.errors if "409" not in e]
    tab.assert_no_console_errors()


def test_sync_log_lists_runs(servers: Servers, companion: Companion, tab: Tab) -> None:
    """Reconciliation and backfill runs appear with window, rows and outcome."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    insert_documents(
        servers,
        companion.database,
        "sync_log",
        [
            {
                "_id": "run-1",
                "kind": "reconciliation",
                "started_at": started,
                "finished_at": started + timedelta(seconds=3),
                "window_start": started - timedelta(hours=3),
                "window_end": started,
                "entity_count": 2,
                "entities": ["sensor.a", "sensor.b"],
                "rows": 1234,
                "outcome": "ok",
            },
            {
                "_id": "run-2",
                "kind": "backfill",
                "started_at": started + timedelta(minutes=30),
                "finished_at": started + timedelta(minutes=31),
                "window_start": started - timedelta(days=1),
                "window_end": started,
                "entity_count": 1,
                "entities": ["sensor.a"],
                "rows": 0,
                "outcome": "failed",
                "error": "Home Assistant unreachable",
            },
        ],
    )
    tab.page.goto(companion.url("/#/sync-log"))
    rows = tab.page.locator("table.sync-log tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("backfill")
    expect(rows.nth(0)).to_contain_text("failed")
    expect(rows.nth(1)).to_contain_text("reconciliation")
    expect(rows.nth(1)).to_contain_text("1,234")
    tab.assert_no_console_errors()


@pytest.mark.parametrize("size", ["desktop", "phone", "dark"])
def test_every_page_fits_and_is_captured(
    servers: Servers,
    companion: Companion,
    browser: Browser,
    entity_suffix: str,
    size: str,
) -> None:
    """Each page at desktop and 375 px: no horizontal scroll, no errors, a screenshot."""
    energy, gas = seed_meters(servers, companion, entity_suffix)
    # HA's Energy settings name both meters: the overview shows them.
    write_energy_settings(
        servers,
        companion.database,
        {
            "energy_sources": [
                {
                    "type": "grid",
                    "flow_from": [
                        {
                            "stat_energy_from": energy.entity_id,
                            "stat_cost": None,
                            "entity_energy_price": None,
                            "number_energy_price": 0.3,
                        }
                    ],
                    "flow_to": [],
                    "power": [],
                    "cost_adjustment_day": 0.0,
                },
                {
                    "type": "gas",
                    "stat_energy_from": gas.entity_id,
                    "stat_cost": None,
                    "entity_energy_price": None,
                    "number_energy_price": 1.1,
                },
            ],
            "device_consumption": [],
            "device_consumption_water": [],
        },
        {energy.entity_id: "kWh", gas.entity_id: "m³"},
    )
    write_readings(
        servers,
        f"sensor.house_power_{entity_suffix}",
        "W",
        "power",
        [
            (datetime.now(UTC) - timedelta(minutes=i), 300.0 + (i * 13) % 200)
            for i in range(240)
        ],
    )
    insert_documents(
        servers,
        companion.database,
        "forwarder_state",
        [
            {
                "_id": "ha-test",
                "heartbeat_at": datetime.now(UTC) - timedelta(seconds=20),
                "status": "running",
                "spool_rows": 0,
            }
        ],
    )
    now = datetime.now(UTC).replace(microsecond=0)
    insert_documents(
        servers,
        companion.database,
        "sync_log",
        [
            {
                "_id": f"run-{i}",
                "kind": kind,
                "started_at": now - timedelta(hours=i),
                "finished_at": now - timedelta(hours=i) + timedelta(seconds=2),
                "window_start": now - timedelta(hours=i + 3),
                "window_end": now - timedelta(hours=i),
                "entity_count": 2,
                "entities": [energy.entity_id],
                "rows": rows,
                "outcome": outcome,
                "error": None,
            }
            for i, (kind, rows, outcome) in enumerate(
                [
                    ("reconciliation", 48, "ok"),
                    ("gap_backfill", 3600, "ok"),
                    ("reconciliation", 0, "failed"),
                ]
            )
        ],
    )
    tab = open_tab(
        browser,
        viewport=PHONE if size == "phone" else DESKTOP,
        color_scheme="dark" if size == "dark" else "light",
    )
    try:
        page = tab.page
        pages = {
            "overview": "/#/?view=week",
            "dashboard": f"/#/meters?entity={energy.entity_id}&range=7d",
            "history": f"/#/history?entity={energy.entity_id}",
            "settings": "/#/settings",
            "sync-log": "/#/sync-log",
        }
        for name, path in pages.items():
            page.goto(companion.url(path))
            page.wait_for_selector("main:not([aria-busy])")
            if name in ("dashboard", "overview"):
                page.wait_for_function(
                    f"() => performance.getEntriesByName('et:{name}-ready').length > 0"
                )
            page.wait_for_timeout(300)
            tab.no_horizontal_scroll()
            keep = size == "desktop" or (
                name in ("dashboard", "overview") and size == "phone"
            )
            tab.screenshot(f"{name}-{size}", keep=keep)
        # Every control can be reached with the keyboard and has a label.
        page.goto(companion.url(pages["dashboard"]))
        page.wait_for_function(
            "() => performance.getEntriesByName('et:dashboard-ready').length > 0"
        )
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('select, input, button')].filter((el) => {
                if (el.closest('[hidden]')) return false;
                const label = el.labels && el.labels.length ? el.labels[0].textContent : '';
                return !(label.trim() || el.getAttribute('aria-label') || el.textContent.trim());
            }).map((el) => el.outerHTML)"""
        )
        assert unlabelled == []
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => document.activeElement && document.activeElement.tagName"
        )
        assert focused in {"A", "SELECT", "BUTTON", "INPUT"}
        tab.assert_no_console_errors()
    finally:
        tab.context.close()
