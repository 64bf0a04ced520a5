// Dashboard: entity + range, Sync from HA, four stat cards, daily bars, hourly line.

import { api, ApiError } from "../api.js";
import { barChart, lineChart, loadUPlot } from "../chart.js";
import { forgetTimeZone, loadEntities, loadTimeZone, setHashParams, timeZoneUnknown } from "../shell.js";
import {
  addDays, escapeHtml, formatAge, formatDateTime, formatDay, formatNumber, formatValue,
  homeTimeZone, isoUtc, zonedDate, zonedMidnight,
} from "../format.js";

const RANGES = [
  ["24h", "Last 24 hours"], ["7d", "Last 7 days"], ["30d", "Last 30 days"],
  ["90d", "Last 90 days"], ["1y", "Last year"], ["custom", "Custom…"],
];
const RANGE_DAYS = { "7d": 7, "30d": 30, "90d": 90, "1y": 365 };
const CLASS_LABELS = { energy: "Energy", power: "Power", gas: "Gas", water: "Water", "": "Other" };
const CUMULATIVE_CLASSES = new Set(["energy", "gas", "water", "monetary"]);
const REFRESH_MS = 60_000;
const LAST_ENTITY_KEY = "energy-tracker.dashboard.entity";

/** The window of a range: start/end instants (ms) and how many days it spans. */
export function rangeWindow(range, now = Date.now(), from, to) {
  if (range === "24h") return { start: now - 86_400_000, end: now, days: 1 };
  if (range === "custom" && from && to && from <= to) {
    const start = zonedMidnight(from);
    const end = Math.min(zonedMidnight(addDays(to, 1)), now);
    const days = Math.round((zonedMidnight(addDays(to, 1)) - start) / 86_400_000);
    return { start, end: Math.max(end, start + 1), days: Math.max(1, days) };
  }
  const n = RANGE_DAYS[range] || 7;
  const today = zonedDate(now);
  return { start: zonedMidnight(addDays(today, -(n - 1))), end: now, days: n };
}

function isCumulative(entity) {
  if (!entity) return true;
  if (entity.state_class === "total_increasing" || entity.state_class === "total") return true;
  if (entity.state_class === "measurement") return false;
  return CUMULATIVE_CLASSES.has(entity.device_class || "") || /^(k?Wh|MWh|m³|m3|ft³|L|gal)$/i.test(entity.unit || "");
}

/** Per-hour values: consumption from `sum` (or reset-aware `state`) deltas, else the mean. */
export function hourlySeries(stats, cumulative, windowStart) {
  const xs = [];
  const ys = [];
  for (let i = 0; i < stats.length; i++) {
    const s = stats[i];
    if (s.start < windowStart) continue;
    let y = null;
    if (cumulative) {
      const prev = stats[i - 1];
      if (prev && s.start - prev.start <= 3_600_000) {
        if (s.sum !== null && prev.sum !== null) y = s.sum - prev.sum;
        else if (s.state !== null && prev.state !== null) y = s.state >= prev.state ? s.state - prev.state : s.state;
        if (y !== null && y < 0) y = null;
      }
    } else {
      y = s.mean ?? s.state;
    }
    xs.push(s.start);
    ys.push(y);
  }
  return { xs, ys };
}

function groupEntities(entities) {
  const groups = new Map();
  for (const e of entities) {
    const key = e.device_class || "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(e);
  }
  const order = ["energy", "power", "gas", "water"];
  return [...groups.entries()]
    .sort(([a], [b]) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b))
    .map(([key, list]) => [CLASS_LABELS[key] ?? key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()),
      list.sort((a, b) => String(a.friendly_name).localeCompare(String(b.friendly_name)))]);
}

function fetchData(entityId, win, signal) {
  return Promise.all([
    api.daily(entityId, { start: isoUtc(win.start), end: isoUtc(win.end), signal }),
    api.statistics(entityId, { start: isoUtc(win.start - 3_600_000), end: isoUtc(win.end), period: "hour", signal }),
    api.readings(entityId, { limit: 1, signal }).catch((err) => { if (err.name === "AbortError") throw err; return { rows: [] }; }),
  ]);
}

function earlyRequest(params) {
  let saved = null;
  try { saved = localStorage.getItem(LAST_ENTITY_KEY); } catch { /* ignore */ }
  const entity = params.get("entity") || saved;
  const range = RANGES.some(([k]) => k === params.get("range")) ? params.get("range") : "7d";
  if (!entity || range === "custom" || timeZoneUnknown()) return { key: null };
  const promise = fetchData(entity, rangeWindow(range, Date.now()), undefined);
  promise.catch(() => null);
  const today = zonedDate(Date.now());
  return { key: `${entity}|${range}|${addDays(today, -6)}|${today}`, at: Date.now(), promise };
}

function notice(kind, html) {
  return `<p class="notice ${kind}">${html}</p>`;
}

// Days are HA's days: without HA's zone none is shown (the API refuses them too).
const ZONE_UNKNOWN_NOTICE = notice("warn zone-unknown",
  `<strong>Home Assistant's time zone is not known yet.</strong> The companion has never reached Home Assistant, so it cannot tell where a day starts and shows no daily totals. Connect Home Assistant on the <a href="#/settings">Settings</a> page: the companion learns its time zone from it and keeps it, also while Home Assistant is away.`);

export async function render(main, { params, toast }) {
  let entities;
  loadUPlot().catch(() => null);  // fetched while the data loads
  // The entity in the URL (or the last one shown) is fetched beside the entity list.
  const early = earlyRequest(params);
  main.innerHTML = `<h1 class="visually-hidden">Dashboard</h1><p class="notice loading">Loading entities…</p>`;
  try {
    entities = (await loadEntities()).filter((e) => e.is_tracked);
  } catch (err) {
    const advice = err instanceof ApiError ? err.advice : "Reload the page.";
    main.innerHTML = notice("error", `The list of entities could not be loaded (${escapeHtml(err.message)}). ${escapeHtml(advice)}`);
    return null;
  }
  if (!entities.length) {
    main.innerHTML = `<h1 class="visually-hidden">Dashboard</h1>` + notice("empty",
      `No entities are tracked yet. Open <a href="#/settings">Settings</a>, press “Discover entities” and track the meters you want to see here.`);
    return null;
  }

  const saved = (() => { try { return localStorage.getItem(LAST_ENTITY_KEY); } catch { return null; } })();
  const state = {
    entity: [params.get("entity"), saved].find((id) => id && entities.some((e) => e.entity_id === id)) || entities[0].entity_id,
    range: RANGES.some(([k]) => k === params.get("range")) ? params.get("range") : "7d",
    from: params.get("from") || addDays(zonedDate(Date.now()), -6),
    to: params.get("to") || zonedDate(Date.now()),
  };

  main.innerHTML = `
    <h1 class="visually-hidden">Dashboard</h1>
    <section class="toolbar" aria-label="What to show">
      <div class="field">
        <label for="entity">Entity</label>
        <select id="entity">${groupEntities(entities).map(([label, list]) => `
          <optgroup label="${escapeHtml(label)}">${list.map((e) => `
            <option value="${escapeHtml(e.entity_id)}">${escapeHtml(e.friendly_name)}${e.unit ? ` (${escapeHtml(e.unit)})` : ""}</option>`).join("")}
          </optgroup>`).join("")}
        </select>
      </div>
      <div class="field">
        <label for="range">Time range</label>
        <select id="range">${RANGES.map(([k, l]) => `<option value="${k}">${l}</option>`).join("")}</select>
      </div>
      <div class="field custom-range" hidden>
        <label for="from">From</label><input type="date" id="from">
      </div>
      <div class="field custom-range" hidden>
        <label for="to">To</label><input type="date" id="to">
      </div>
      <div class="field sync">
        <button type="button" id="sync" class="primary">Sync from HA</button>
        <span id="sync-status" class="sync-status" role="status" aria-live="polite"></span>
      </div>
    </section>
    <div id="dash-notice" aria-live="polite"></div>
    <section class="cards" aria-label="Summary">
      <article class="card" id="card-total"><h2>Total consumption</h2><p class="value">–</p><p class="sub"></p></article>
      <article class="card" id="card-avg"><h2>Average per day</h2><p class="value">–</p><p class="sub"></p></article>
      <article class="card" id="card-peak"><h2>Peak</h2><p class="value">–</p><p class="sub"></p></article>
      <article class="card" id="card-latest"><h2>Latest reading</h2><p class="value">–</p><p class="sub"></p></article>
    </section>
    <section class="charts">
      <figure class="chart-box"><figcaption id="daily-title">Daily consumption</figcaption><div id="daily-chart" class="chart" role="img" aria-label="Daily consumption chart"></div></figure>
      <figure class="chart-box"><figcaption id="hourly-title">Hourly</figcaption><div id="hourly-chart" class="chart" role="img" aria-label="Hourly chart"></div></figure>
    </section>
    <p class="updated muted" id="updated" aria-live="off"></p>`;

  const $ = (sel) => main.querySelector(sel);
  const entitySel = $("#entity");
  const rangeSel = $("#range");
  const fromIn = $("#from");
  const toIn = $("#to");
  entitySel.value = state.entity;
  rangeSel.value = state.range;
  fromIn.value = state.from;
  toIn.value = state.to;
  fromIn.max = toIn.max = zonedDate(Date.now());

  let charts = [];
  let controller = null;
  let timer = null;
  let lastLoad = 0;
  let disposed = false;
  let latestAt = null;

  function setCard(id, value, sub, subTitle) {
    const card = $(`#${id}`);
    card.querySelector(".value").textContent = value;
    const s = card.querySelector(".sub");
    s.textContent = sub || "";
    if (subTitle) s.title = subTitle; else s.removeAttribute("title");
  }

  function syncControls() {
    for (const el of main.querySelectorAll(".custom-range")) el.hidden = state.range !== "custom";
    const p = { entity: state.entity, range: state.range };
    if (state.range === "custom") Object.assign(p, { from: state.from, to: state.to });
    setHashParams(p);
    try { localStorage.setItem(LAST_ENTITY_KEY, state.entity); } catch { /* ignore */ }
  }

  function showZoneUnknown() {
    main.querySelector(".cards").removeAttribute("aria-busy");
    for (const id of ["card-total", "card-avg", "card-peak", "card-latest"]) setCard(id, "–", "");
    for (const c of charts) c.destroy();
    charts = [];
    latestAt = null;
    const msg = `<p class="chart-empty">Needs Home Assistant's time zone.</p>`;
    $("#daily-chart").innerHTML = msg;
    $("#hourly-chart").innerHTML = msg;
    $("#dash-notice").innerHTML = ZONE_UNKNOWN_NOTICE;
    $("#updated").textContent = "Days: Home Assistant's time zone is not known yet";
    performance.mark("et:dashboard-ready");
  }

  async function load({ quiet = false } = {}) {
    if (disposed) return;
    if (controller) controller.abort();
    if (timeZoneUnknown()) {
      showZoneUnknown();
      // The periodic refresh asks again: HA may have been connected meanwhile.
      if (quiet) {
        loadTimeZone().then(() => {
          if (!disposed && !timeZoneUnknown()) window.dispatchEvent(new Event("et:time-zone-changed"));
        }, () => null);
      }
      return;
    }
    controller = new AbortController();
    const { signal } = controller;
    lastLoad = Date.now();
    const entity = entities.find((e) => e.entity_id === state.entity);
    const unit = entity ? entity.unit : "";
    const cumulative = isCumulative(entity);
    const win = rangeWindow(state.range, Date.now(), state.from, state.to);
    const noticeEl = $("#dash-notice");
    if (!quiet) {
      main.querySelector(".cards").setAttribute("aria-busy", "true");
      noticeEl.innerHTML = notice("loading", "Loading…");
    }
    let daily, stats, latest;
    try {
      const reuse = early.key === `${state.entity}|${state.range}|${state.from}|${state.to}` && Date.now() - early.at < 5000;
      early.key = null;
      [daily, stats, latest] = await (reuse ? early.promise : fetchData(state.entity, win, signal));
    } catch (err) {
      if (err.name === "AbortError" || disposed) return;
      if (err instanceof ApiError && err.code === "time_zone_unknown") {
        forgetTimeZone();  // the companion lost it (or this browser's copy was stale)
        showZoneUnknown();
        return;
      }
      main.querySelector(".cards").removeAttribute("aria-busy");
      const advice = err instanceof ApiError ? err.advice : "Try again.";
      noticeEl.innerHTML = notice("error", `The data for this entity could not be loaded (${escapeHtml(err.message)}). ${escapeHtml(advice)}`);
      return;
    }
    if (disposed || signal.aborted) return;
    main.querySelector(".cards").removeAttribute("aria-busy");

    const hourly = hourlySeries(stats, cumulative, win.start);
    const hourlyValues = hourly.ys.filter((v) => v !== null);
    const days = daily.filter((d) => d.date && (d.total !== null || d.avg_power !== null));
    const hasData = days.length > 0 || hourlyValues.length > 0;

    // Total: the sum of the daily totals (HA's days); power sensors: energy from hourly means.
    let total = null;
    let totalUnit = unit;
    if (cumulative) {
      const totals = days.map((d) => d.total).filter((v) => v !== null);
      if (totals.length) total = totals.reduce((a, b) => a + b, 0);
      else if (hourlyValues.length) total = hourlyValues.reduce((a, b) => a + b, 0);
    } else if (hourlyValues.length) {
      const wh = hourlyValues.reduce((a, b) => a + b, 0);
      total = /^kW$/i.test(unit) ? wh : wh / 1000;
      totalUnit = "kWh";
    }
    // Average per day over the whole range (the days of the range, not only days with data).
    const dayCount = win.days;
    const plural = (n, word) => `${formatNumber(n, 0)} ${word}${n === 1 ? "" : "s"}`;
    setCard("card-total", total === null ? "–" : formatValue(total, totalUnit),
      total === null ? "" : cumulative ? `${plural(days.length, "day")} with data` : "estimated from hourly average power");
    setCard("card-avg", total === null ? "–" : formatValue(total / dayCount, totalUnit),
      total === null ? "" : state.range === "24h" ? "last 24 hours" : `over ${plural(dayCount, "day")}`);

    // Peak: the busiest hour for meters; the highest power (with its time) otherwise.
    let peak = null;
    let peakAt = null;
    if (cumulative) {
      hourly.ys.forEach((v, i) => { if (v !== null && (peak === null || v > peak)) { peak = v; peakAt = hourly.xs[i]; } });
      setCard("card-peak", peak === null ? "–" : formatValue(peak, unit), peak === null ? "" : `hour from ${formatDateTime(peakAt)}`);
    } else {
      for (const d of days) if (d.peak !== null && (peak === null || d.peak > peak)) { peak = d.peak; peakAt = d.peak_time; }
      if (peak === null) for (const s of stats) if (s.start >= win.start && s.max !== null && (peak === null || s.max > peak)) { peak = s.max; peakAt = s.start; }
      setCard("card-peak", peak === null ? "–" : formatValue(peak, unit), peak === null ? "" : `at ${formatDateTime(peakAt)}`);
    }

    const last = latest.rows[latest.rows.length - 1];
    latestAt = last ? last.ts : null;
    setCard("card-latest", last ? formatValue(last.value, last.unit || unit) : "–",
      last ? formatAge(last.ts) : "no readings yet", last ? formatDateTime(last.ts) : "");

    noticeEl.innerHTML = hasData ? "" : notice("empty",
      `No data for ${escapeHtml(entity ? entity.friendly_name : state.entity)} in this range. Pick a longer range, or press “Sync from HA” to fetch its history from Home Assistant.`);

    for (const c of charts) c.destroy();
    charts = [];
    const dailyEl = $("#daily-chart");
    const hourlyEl = $("#hourly-chart");
    dailyEl.replaceChildren();
    hourlyEl.replaceChildren();
    $("#daily-title").textContent = cumulative ? `Daily consumption (${unit})` : `Daily average power (${unit})`;
    $("#hourly-title").textContent = cumulative ? `Hourly consumption (${unit})` : `Hourly average power (${unit})`;
    try {
      // Drawn even with one bucket or none: the axis spans the range asked for.
      const dayWindow = [zonedDate(win.start), zonedDate(win.end - 1)];
      const values = days.map((d) => (cumulative ? d.total : d.avg_power));
      charts.push(await barChart(dailyEl, days.map((d) => d.date), values, { unit, label: cumulative ? "Consumption" : "Average", window: dayWindow }));
      if (days.length) {
        dailyEl.setAttribute("aria-label", `Daily chart, ${days.length} day${days.length === 1 ? "" : "s"}: ${days.map((d, i) => `${formatDay(d.date)} ${formatValue(values[i], unit)}`).join(", ")}`);
      } else {
        dailyEl.insertAdjacentHTML("beforeend", `<p class="chart-note">No daily totals in this range.</p>`);
        dailyEl.setAttribute("aria-label", "Daily chart: no daily totals in this range");
      }
      charts.push(await lineChart(hourlyEl, hourly.xs, hourly.ys, { unit, label: cumulative ? "Consumption" : "Mean", step: cumulative, window: [win.start, win.end] }));
      if (hourly.xs.length) {
        hourlyEl.setAttribute("aria-label", `Hourly chart with ${hourly.xs.length} hours`);
      } else {
        hourlyEl.insertAdjacentHTML("beforeend", `<p class="chart-note">No hourly statistics in this range.</p>`);
        hourlyEl.setAttribute("aria-label", "Hourly chart: no hourly statistics in this range");
      }
    } catch (err) {
      if (disposed) return;
      const msg = `<p class="chart-empty">Charts are unavailable: the chart library is missing. Run scripts/build-frontend and reload.</p>`;
      dailyEl.innerHTML = msg;
      hourlyEl.innerHTML = msg;
      console.warn(err);
    }
    if (disposed) { for (const c of charts) c.destroy(); charts = []; return; }
    $("#updated").textContent = `Updated ${formatDateTime(Date.now())} · days in ${homeTimeZone() || "Home Assistant's time zone"}`;
    performance.mark("et:dashboard-ready");
  }

  entitySel.addEventListener("change", () => { state.entity = entitySel.value; syncControls(); load(); });
  rangeSel.addEventListener("change", () => { state.range = rangeSel.value; syncControls(); load(); });
  for (const input of [fromIn, toIn]) {
    input.addEventListener("change", () => {
      state.from = fromIn.value; state.to = toIn.value;
      if (state.from && state.to && state.from <= state.to) { syncControls(); load(); }
      else $("#dash-notice").innerHTML = notice("error", "Pick a start date on or before the end date.");
    });
  }

  // Sync from HA: start the job, then poll it until it ends.
  const syncBtn = $("#sync");
  const syncStatus = $("#sync-status");
  syncBtn.addEventListener("click", async () => {
    const win = rangeWindow(state.range, Date.now(), state.from, state.to);
    syncBtn.disabled = true;
    syncStatus.textContent = "Starting sync…";
    try {
      const started = await api.startSync({ entity_ids: [state.entity], start_time: isoUtc(win.start), end_time: isoUtc(win.end) });
      const jobId = started && (started.job_id || started.id || (started.job && started.job.id));
      if (!jobId) throw new Error("the companion did not return a job id");
      for (;;) {
        if (disposed) return;
        await new Promise((r) => setTimeout(r, 1000));
        const job = await api.job(jobId);
        const status = String(job.status || job.state || "").toLowerCase();
        const progress = job.progress;
        if (["succeeded", "success", "done", "completed", "finished", "ok"].includes(status)) {
          const rows = job.result && (job.result.rows ?? job.result.records_synced ?? job.result.rows_written);
          syncStatus.textContent = rows !== undefined ? `Synced ${formatNumber(rows, 0)} rows.` : "Sync finished.";
          toast("Sync from Home Assistant finished.");
          load({ quiet: true });
          break;
        }
        if (["failed", "error", "cancelled", "canceled"].includes(status)) {
          throw new Error((job.error && (job.error.message || job.error)) || "the sync job failed");
        }
        syncStatus.textContent = typeof progress === "number"
          ? `Syncing… ${formatNumber(progress <= 1 ? progress * 100 : progress, 0)} %`
          : progress && progress.done !== undefined ? `Syncing… ${formatNumber(progress.done, 0)} / ${formatNumber(progress.total, 0)}` : "Syncing…";
      }
    } catch (err) {
      const advice = err instanceof ApiError ? (err.status === 503 || err.status === 502 ? "Home Assistant is not reachable: check its URL and token in Settings." : err.advice) : "Check Settings → Home Assistant, then try again.";
      syncStatus.textContent = `Sync failed: ${err.message}. ${advice}`;
    } finally {
      syncBtn.disabled = false;
    }
  });

  const onVisible = () => {
    if (document.visibilityState === "visible" && Date.now() - lastLoad > 5000) load({ quiet: true });
  };
  document.addEventListener("visibilitychange", onVisible);
  timer = setInterval(() => { if (document.visibilityState === "visible") load({ quiet: true }); }, REFRESH_MS);
  // Keep the age of the latest reading current between refreshes.
  const ageTimer = setInterval(() => {
    if (latestAt !== null) $("#card-latest .sub").textContent = formatAge(latestAt);
  }, 15_000);

  syncControls();
  await load();

  return () => {
    disposed = true;
    if (controller) controller.abort();
    clearInterval(timer);
    clearInterval(ageTimer);
    document.removeEventListener("visibilitychange", onVisible);
    for (const c of charts) c.destroy();
  };
}

