// Overview: the whole home from HA's Energy settings over a day, week, month or
// year of HA's time zone: cards with the change against the span before, the
// energy's way from the sources to the home, bars per bucket, devices, standby.

import { api, ApiError } from "../api.js";
import { barChart, loadUPlot, stackedBarChart, themeColor } from "../chart.js";
import { forgetTimeZone, loadEntities, loadTimeZone, setHashParams, timeZoneUnknown } from "../shell.js";
import {
  addDays, escapeHtml, formatDate, formatDateRange, formatDateTime, formatMoney, formatNumber,
  formatPercent, formatValue, homeTimeZone, isoUtc, setTimeZone, zonedDate, zonedMidnight,
} from "../format.js";

export const VIEWS = [["day", "Day"], ["week", "Week"], ["month", "Month"], ["year", "Year"]];
// The buckets of each view: a day in hours, a week and a month in days, a year in months.
const PERIODS = { day: "hour", week: "day", month: "day", year: "month" };
const BUCKET_WORDS = { day: "hour", week: "day", month: "day", year: "month" };
const REFRESH_MS = 5 * 60_000;
const VIEW_KEY = "energy-tracker.overview.view";

// `good`: which way a change is welcome (null: neither).
const CARDS = [
  { key: "grid_import_kwh", id: "grid-import", title: "Grid import", good: "down" },
  { key: "grid_export_kwh", id: "grid-export", title: "Grid export", good: "up" },
  { key: "solar_kwh", id: "solar", title: "Solar production", good: "up" },
  { key: "battery_out_kwh", id: "battery-out", title: "Battery discharged", good: null },
  { key: "battery_in_kwh", id: "battery-in", title: "Battery charged", good: null },
  { key: "home_kwh", id: "home", title: "Home consumption", good: "down" },
  { key: "gas", id: "gas", title: "Gas", good: "down", quantity: true },
  { key: "water", id: "water", title: "Water", good: "down", quantity: true },
  { key: "cost", id: "cost", title: "Cost", good: "down", money: true },
  { key: "compensation", id: "compensation", title: "Compensation", good: "up", money: true },
];
const ELECTRIC = ["grid_import_kwh", "grid_export_kwh", "solar_kwh", "battery_out_kwh"];
const NAMED = [...ELECTRIC, "battery_in_kwh", "gas", "water", "devices"];

const ICONS = {
  grid: `<path d="M8 2h8l-2 6h4L6 22l3-9H5z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/>`,
  solar: `<circle cx="12" cy="12" r="4.5" fill="none" stroke="currentColor" stroke-width="2"/><path d="M12 1.5v3M12 19.5v3M1.5 12h3M19.5 12h3M4.6 4.6l2.1 2.1M17.3 17.3l2.1 2.1M4.6 19.4l2.1-2.1M17.3 6.7l2.1-2.1" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>`,
  battery: `<rect x="3" y="7" width="16" height="10" rx="2" fill="none" stroke="currentColor" stroke-width="2"/><path d="M21 10.5v3" stroke="currentColor" stroke-width="2.5" stroke-linecap="round"/><path d="M6 10h6v4H6z" fill="currentColor"/>`,
  home: `<path d="M3 11.5 12 4l9 7.5M5.5 9.5V20h13V9.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/>`,
};
const NODE_NAMES = { grid: "Grid", solar: "Solar", battery: "Battery", home: "Home" };

/** The local dates [first, next) of the span of `view` holding `date` (HA's days). */
export function spanOf(view, date) {
  const [y, m, d] = date.split("-").map(Number);
  const iso = (yy, mm, dd) => new Date(Date.UTC(yy, mm - 1, dd)).toISOString().slice(0, 10);
  if (view === "week") {
    const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;  // Monday: 0
    const first = addDays(date, -weekday);
    return { first, next: addDays(first, 7) };
  }
  if (view === "month") return { first: iso(y, m, 1), next: iso(y, m + 1, 1) };
  if (view === "year") return { first: iso(y, 1, 1), next: iso(y + 1, 1, 1) };
  return { first: date, next: addDays(date, 1) };
}

/** A date inside the span `steps` spans away from the one holding `date`. */
export function shiftSpan(view, date, steps) {
  const { first } = spanOf(view, date);
  const [y, m] = first.split("-").map(Number);
  if (view === "day") return addDays(first, steps);
  if (view === "week") return addDays(first, 7 * steps);
  if (view === "month") return new Date(Date.UTC(y, m - 1 + steps, 1)).toISOString().slice(0, 10);
  return new Date(Date.UTC(y + steps, 0, 1)).toISOString().slice(0, 10);
}

function daysBetween(first, next) {
  return Math.round((Date.parse(`${next}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / 86_400_000);
}

/** How the span is named: "Wed, Oct 21, 2026", "Oct 19 – 25, 2026", "October 2026", "2026". */
export function spanLabel(view, { first, next }) {
  if (view === "day") return formatDate(first, { weekday: "short", year: "numeric", month: "short", day: "numeric" });
  if (view === "month") return formatDate(first, { year: "numeric", month: "long" });
  if (view === "year") return formatDate(first, { year: "numeric" });
  return formatDateRange(first, addDays(next, -1));
}

/** The span the API compares with: as long as this one, just before it. */
function previousLabel(view, { first, next }) {
  const length = daysBetween(first, next);
  const prevFirst = addDays(first, -length);
  const prevLast = addDays(first, -1);
  if (view === "day") return formatDate(prevFirst, { weekday: "short", month: "short", day: "numeric" });
  // The year only where it is not the span's own.
  const sameYear = prevFirst.slice(0, 4) === first.slice(0, 4) && prevLast.slice(0, 4) === first.slice(0, 4);
  return formatDateRange(prevFirst, prevLast, sameYear ? { month: "short", day: "numeric" } : undefined);
}

/**
 * Where the energy went: solar first to the grid (export), then the battery, then
 * the home; the battery's discharge to the grid (export beyond solar), then the
 * home; the grid to the battery (charge beyond solar), then the home.
 */
export function distribution(f) {
  const grid = f.grid_import_kwh || 0;
  const exported = f.grid_export_kwh || 0;
  const solar = f.solar_kwh || 0;
  const out = f.battery_out_kwh || 0;
  const charged = f.battery_in_kwh || 0;
  const clean = (v) => Math.max(0, Math.round(v * 1e6) / 1e6);
  const solarGrid = Math.min(solar, exported);
  const batteryGrid = Math.min(out, exported - solarGrid);
  const solarBattery = Math.min(solar - solarGrid, charged);
  const gridBattery = Math.min(grid, charged - solarBattery);
  return {
    gridHome: clean(grid - gridBattery),
    solarHome: clean(solar - solarGrid - solarBattery),
    batteryHome: clean(out - batteryGrid),
    solarGrid: clean(solarGrid),
    solarBattery: clean(solarBattery),
    gridBattery: clean(gridBattery),
    batteryGrid: clean(batteryGrid),
  };
}

function figureOf(figures, card) {
  const v = figures ? figures[card.key] : undefined;
  if (v === undefined || v === null) return null;
  return card.quantity ? v.value : v;
}

function formatFigure(card, value, answer, figures) {
  if (card.money) return formatMoney(value, answer.currency);
  if (card.quantity) return formatValue(value, figures[card.key].unit);
  return formatValue(value, "kWh");
}

function changeHtml(card, now, before, vsLabel, answer) {
  if (before === null || now === null) return "";
  let arrow;
  let text;
  let trend;
  if (Math.abs(now - before) < 1e-9) { arrow = "→"; text = "no change"; trend = "flat"; }
  else if (before === 0) { arrow = "▲"; text = "up from 0"; trend = "up"; }
  else {
    trend = now > before ? "up" : "down";
    arrow = trend === "up" ? "▲" : "▼";
    text = formatPercent(Math.abs(now - before) / Math.abs(before));
  }
  const good = card.good === null || trend === "flat" ? "" : String(card.good === trend);
  const previous = formatFigure(card, before, answer, answer.previous);
  return `<span class="trend" data-trend="${trend}"${good ? ` data-good="${good}"` : ""}><span aria-hidden="true">${arrow}</span><span class="visually-hidden">${trend === "up" ? "up" : trend === "down" ? "down" : ""}</span> <span class="pct">${escapeHtml(text)}</span></span> <span class="vs" title="${escapeHtml(`${vsLabel}: ${previous}`)}">vs. ${escapeHtml(vsLabel)}</span>`;
}

function notice(kind, html) {
  return `<p class="notice ${kind}">${html}</p>`;
}

const ZONE_UNKNOWN_NOTICE = notice("warn zone-unknown",
  `<strong>Home Assistant's time zone is not known yet.</strong> The companion has never reached Home Assistant, so it cannot tell where a day starts and shows no overview. Connect Home Assistant on the <a href="#/settings">Settings</a> page: the companion learns its time zone from it and keeps it, also while Home Assistant is away.`);

function errorNotice(err) {
  if (err instanceof ApiError && err.code === "home_assistant_not_configured") {
    return notice("warn ha-missing", `<strong>${escapeHtml(err.message)}.</strong> The overview is made of what Home Assistant's Energy settings name (grid, solar, battery, gas, water, devices): enter Home Assistant's URL and a token on the <a href="#/settings">Settings</a> page, and the companion reads them from it.`);
  }
  const advice = err instanceof ApiError ? err.advice : "Try again.";
  return notice("error", `The overview could not be loaded (${escapeHtml(err.message)}). ${escapeHtml(advice)}`);
}

function nothingNamedNotice(settings) {
  const never = settings && settings.configured === false;
  return notice("empty nothing-named", `${never
    ? "<strong>Home Assistant's Energy dashboard is not set up yet.</strong> "
    : "<strong>Home Assistant's Energy settings name no grid, solar, battery, gas or water meter.</strong> "}Add your meters in Home Assistant under Settings → Dashboards → Energy, then press “Read again” under Energy settings on the <a href="#/settings">Settings</a> page.`);
}

function icon(node) {
  return `<svg class="flow-icon" aria-hidden="true" viewBox="0 0 24 24" width="22" height="22">${ICONS[node]}</svg>`;
}

function flowNode(node, lines, style = "") {
  return `<div class="flow-node" data-node="${node}"${style ? ` style="${style}"` : ""}>${icon(node)}<span class="flow-name">${NODE_NAMES[node]}</span>${lines.map((l) => `<span class="flow-total">${escapeHtml(l)}</span>`).join("")}</div>`;
}

function flowLink(from, to, kwh, scale, row) {
  const weight = scale > 0 ? Math.min(1, kwh / scale) : 0;
  return `<div class="flow-link" data-flow="${from}-${to}" data-source="${from}" style="grid-row: ${row}; --weight: ${weight.toFixed(3)}"><span class="visually-hidden">${NODE_NAMES[from]} to ${NODE_NAMES[to]}: </span><span class="flow-kwh">${escapeHtml(formatValue(kwh, "kWh"))}</span><span class="flow-line" aria-hidden="true"></span></div>`;
}

function distributionHtml(t) {
  const has = { grid: "grid_import_kwh" in t || "grid_export_kwh" in t, solar: "solar_kwh" in t, battery: "battery_out_kwh" in t };
  const split = distribution(t);
  const scale = Math.max(t.home_kwh || 0, ...Object.values(split));
  const intoHome = [
    ["grid", "gridHome"], ["solar", "solarHome"], ["battery", "batteryHome"],
  ].filter(([node]) => has[node] && (node !== "grid" || "grid_import_kwh" in t));
  const rows = [];
  intoHome.forEach(([node, key], i) => {
    const lines = {
      grid: ["grid_import_kwh" in t ? `${formatValue(t.grid_import_kwh, "kWh")} in` : "", "grid_export_kwh" in t ? `${formatValue(t.grid_export_kwh, "kWh")} out` : ""],
      solar: [formatValue(t.solar_kwh, "kWh")],
      battery: [`${formatValue(t.battery_out_kwh, "kWh")} out`, `${formatValue(t.battery_in_kwh, "kWh")} in`],
    }[node].filter(Boolean);
    rows.push(flowNode(node, lines, `grid-row: ${i + 1}`) + flowLink(node, "home", split[key], scale, i + 1));
  });
  const home = intoHome.length
    ? flowNode("home", [formatValue(t.home_kwh, "kWh")], `grid-row: 1 / span ${intoHome.length}; grid-column: 3`)
    : "";
  // What did not reach the home: exported, or stored in the battery.
  const others = [
    ["solar", "grid", "solarGrid"], ["battery", "grid", "batteryGrid"],
    ["solar", "battery", "solarBattery"], ["grid", "battery", "gridBattery"],
  ].filter(([from, to, key]) => has[from] && has[to] && split[key] > 0);
  let row = intoHome.length;
  const otherRows = others.map(([from, to, key]) => {
    row += 1;
    return `<div class="flow-node small" data-node="${from}" style="grid-row: ${row}">${icon(from)}<span class="flow-name">${NODE_NAMES[from]}</span></div>`
      + flowLink(from, to, split[key], scale, row)
      + `<div class="flow-node small" data-node="${to}" style="grid-row: ${row}; grid-column: 3">${icon(to)}<span class="flow-name">${NODE_NAMES[to]}</span></div>`;
  });
  const ratios = [
    t.self_sufficiency !== null && t.self_sufficiency !== undefined ? `<span id="ov-self-sufficiency" title="1 - grid import / home">Self-sufficiency <strong>${escapeHtml(formatPercent(t.self_sufficiency))}</strong></span>` : "",
    t.self_consumption !== null && t.self_consumption !== undefined ? `<span id="ov-self-consumption" title="(solar - export) / solar">Self-consumption <strong>${escapeHtml(formatPercent(t.self_consumption))}</strong></span>` : "",
  ].filter(Boolean);
  return `<div class="flows" role="group" aria-label="Energy from the sources to the home">${rows.join("")}${home}${otherRows.join("")}</div>`
    + (ratios.length ? `<p class="flow-ratios">${ratios.join("")}</p>` : "");
}

/** The devices HA names, each under the one whose total holds it, largest first. */
function deviceTree(totals, setup, names) {
  const used = totals.devices || {};
  const listed = (setup && setup.devices && setup.devices.length ? setup.devices : Object.keys(used).map((stat) => ({ stat })))
    .filter((d) => d.stat in used);
  const named = new Set(listed.map((d) => d.stat));
  const node = (d) => ({
    stat: d.stat, name: d.name || names.get(d.stat) || d.stat, kwh: used[d.stat],
    children: listed.filter((c) => c.included_in === d.stat).map(node).sort((a, b) => b.kwh - a.kwh),
  });
  return listed.filter((d) => !d.included_in || !named.has(d.included_in)).map(node).sort((a, b) => b.kwh - a.kwh);
}

function devicesHtml(totals, setup, names) {
  const home = totals.home_kwh || 0;
  const tree = deviceTree(totals, setup, names);
  const biggest = Math.max(home, ...tree.map((d) => d.kwh), totals.untracked_kwh || 0);
  const share = (kwh) => (home > 0 ? formatPercent(kwh / home) : "");
  const item = (d, depth) => `
    <li class="device" data-stat="${escapeHtml(d.stat)}" data-depth="${depth}">
      <div class="rank-row">
        <span class="rank-name" title="${escapeHtml(d.stat)}">${escapeHtml(d.name)}</span>
        <span class="rank-kwh">${escapeHtml(formatValue(d.kwh, "kWh"))}</span>
        <span class="rank-share">${escapeHtml(share(d.kwh))}</span>
        <span class="rank-bar" aria-hidden="true"><span style="width: ${biggest > 0 ? Math.max(0, Math.min(100, (d.kwh / biggest) * 100)).toFixed(1) : 0}%"></span></span>
      </div>
      ${d.children.length ? `<ul class="ranking nested" aria-label="Included in ${escapeHtml(d.name)}">${d.children.map((c) => item(c, depth + 1)).join("")}</ul>` : ""}
    </li>`;
  const untracked = totals.untracked_kwh ?? 0;
  const over = totals.over_reported_kwh ?? 0;
  return `<ul class="ranking" id="ov-devices-list">${tree.map((d) => item(d, 0)).join("")}
      <li class="device untracked" id="ov-untracked">
        <div class="rank-row">
          <span class="rank-name">Untracked <span class="muted">(home less the devices)</span></span>
          <span class="rank-kwh">${escapeHtml(formatValue(untracked, "kWh"))}</span>
          <span class="rank-share">${escapeHtml(share(untracked))}</span>
          <span class="rank-bar" aria-hidden="true"><span style="width: ${biggest > 0 ? Math.min(100, (untracked / biggest) * 100).toFixed(1) : 0}%"></span></span>
        </div>
      </li>
    </ul>`
    + (over > 0 ? notice("warn over-reported", `<span id="ov-over-reported">The devices report <strong>${escapeHtml(formatValue(over, "kWh"))}</strong> more than the home used.</span> A device may be counted twice (set “Included in” for a device inside another in HA's Energy settings), or a source of the home may be missing there.`) : "");
}

function earlyRequest(params) {
  const state = stateFrom(params);
  if (timeZoneUnknown() || !homeTimeZone()) return { key: null };
  const query = queryOf(state);
  const promise = Promise.all([api.overview(query), api.energySettings().catch(() => null)]);
  promise.catch(() => null);
  return { key: JSON.stringify(query), at: Date.now(), promise };
}

function stateFrom(params) {
  let saved = null;
  try { saved = localStorage.getItem(VIEW_KEY); } catch { /* ignore */ }
  const views = VIEWS.map(([k]) => k);
  const view = [params.get("view"), saved, "day"].find((v) => views.includes(v));
  const date = /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") || "") ? params.get("date") : zonedDate(Date.now());
  return { view, date };
}

function queryOf(state) {
  const span = spanOf(state.view, state.date);
  return { start: isoUtc(zonedMidnight(span.first)), end: isoUtc(zonedMidnight(span.next)), period: PERIODS[state.view] };
}

export async function render(main, { params }) {
  loadUPlot().catch(() => null);  // fetched while the data loads
  const early = earlyRequest(params);
  const state = stateFrom(params);
  const names = new Map();
  // Devices HA's settings leave unnamed are shown by their entity's name, when known.
  const namesReady = loadEntities().then((list) => {
    for (const e of list) if (e.friendly_name && e.friendly_name !== e.entity_id) names.set(e.entity_id, e.friendly_name);
  }, () => null);

  main.innerHTML = `
    <h1 class="visually-hidden">Overview</h1>
    <section class="toolbar overview-nav" aria-label="Span shown">
      <div class="segmented" role="group" aria-label="Length of the span">
        ${VIEWS.map(([k, l]) => `<button type="button" data-view="${k}" aria-pressed="false">${l}</button>`).join("")}
      </div>
      <div class="stepper" role="group" aria-label="Move through time">
        <button type="button" id="ov-prev" aria-label="Previous">←</button>
        <p id="ov-span" class="span-label" aria-live="polite"></p>
        <button type="button" id="ov-next" aria-label="Next">→</button>
      </div>
      <button type="button" id="ov-today">Today</button>
    </section>
    <div id="ov-notice" aria-live="polite"></div>
    <div id="ov-body">
      <section class="cards ov-cards" id="ov-cards" aria-label="Totals"></section>
      <div class="ov-grid">
        <section class="panel" id="ov-flow" aria-labelledby="ov-flow-title" hidden>
          <h2 id="ov-flow-title">Energy distribution</h2>
          <div id="ov-flow-body"></div>
        </section>
        <figure class="chart-box" id="ov-energy" hidden>
          <figcaption id="ov-energy-title">Energy</figcaption>
          <div id="ov-energy-chart" class="chart" role="img" aria-label="Energy per bucket by source"></div>
        </figure>
      </div>
      <div class="ov-grid">
        <section class="panel" id="ov-devices" aria-labelledby="ov-devices-title" hidden>
          <h2 id="ov-devices-title">Devices</h2>
          <div id="ov-devices-body"></div>
        </section>
        <figure class="chart-box" id="ov-standby" hidden>
          <figcaption><span id="ov-standby-title">Standby power</span> <span class="muted" id="ov-standby-sub"></span></figcaption>
          <div id="ov-standby-chart" class="chart" role="img" aria-label="Standby power per day"></div>
        </figure>
      </div>
      <div class="charts" id="ov-meters"></div>
    </div>
    <p class="updated muted" id="ov-updated" aria-live="off"></p>`;

  const $ = (sel) => main.querySelector(sel);
  let charts = [];
  let controller = null;
  let disposed = false;
  let timer = null;
  let lastLoad = 0;
  let settings = null;
  let zoneRetried = false;

  function showControls() {
    const span = spanOf(state.view, state.date);
    for (const b of main.querySelectorAll("[data-view]")) b.setAttribute("aria-pressed", String(b.dataset.view === state.view));
    const word = VIEWS.find(([k]) => k === state.view)[1].toLowerCase();
    $("#ov-prev").setAttribute("aria-label", `Previous ${word}`);
    $("#ov-next").setAttribute("aria-label", `Next ${word}`);
    $("#ov-span").textContent = spanLabel(state.view, span);
    const now = Date.now();
    const current = zonedMidnight(span.first) <= now && now < zonedMidnight(span.next);
    $("#ov-next").disabled = zonedMidnight(span.next) > now;
    $("#ov-today").disabled = current;
    setHashParams({ view: state.view, date: state.date });
    try { localStorage.setItem(VIEW_KEY, state.view); } catch { /* ignore */ }
    return { span, current };
  }

  // A row of two where one is hidden gives the other the whole width.
  function fitGrids() {
    for (const grid of main.querySelectorAll(".ov-grid")) {
      const shown = [...grid.children].filter((c) => !c.hidden).length;
      grid.classList.toggle("single", shown < 2);
      grid.hidden = shown === 0;
    }
  }

  function clearCharts() {
    for (const c of charts) c.destroy();
    charts = [];
  }

  // An empty state or an error instead of the figures; `empty`: nothing to move through.
  function showOnly(html, { empty = true } = {}) {
    clearCharts();
    $("#ov-notice").innerHTML = html;
    $("#ov-body").hidden = true;
    main.querySelector(".overview-nav").hidden = empty;
    performance.mark("et:overview-ready");
  }

  function renderCards(answer, vsLabel) {
    const t = answer.totals;
    const electric = ELECTRIC.some((k) => k in t);
    const shown = CARDS.filter((c) => c.key in t && (c.key !== "home_kwh" || electric));
    $("#ov-cards").innerHTML = shown.map((card) => {
      const now = figureOf(t, card);
      const before = figureOf(answer.previous, card);
      return `<article class="card" id="ov-card-${card.id}" data-key="${card.key}">
        <h2>${card.title}</h2>
        <p class="value">${escapeHtml(formatFigure(card, now, answer, t))}</p>
        <p class="sub change">${changeHtml(card, now, before, vsLabel, answer)}</p>
      </article>`;
    }).join("");
  }

  async function renderCharts(answer, span) {
    const t = answer.totals;
    const buckets = answer.buckets || [];
    const hours = state.view === "day";
    // Hours sit in the middle of their hour (drawn in HA's zone), days and months on
    // UTC midnight of their local date, drawn in UTC (as the meters' daily bars).
    const xOf = (iso) => (hours ? Date.parse(iso) / 1000 + 1800 : Date.parse(`${zonedDate(Date.parse(iso))}T00:00:00Z`) / 1000);
    const xs = buckets.map((b) => xOf(b.start));
    const window = hours
      ? [zonedMidnight(span.first) / 1000 + 1800, zonedMidnight(span.next) / 1000 - 1800]
      : state.view === "year"
        ? [Date.parse(`${span.first}T00:00:00Z`) / 1000, Date.parse(`${shiftSpan("month", addDays(span.next, -1), 0)}T00:00:00Z`) / 1000]
        : [Date.parse(`${span.first}T00:00:00Z`) / 1000, Date.parse(`${addDays(span.next, -1)}T00:00:00Z`) / 1000];
    const pad = hours ? 1800 : state.view === "year" ? 15 * 86400 : 43200;
    const bucketWord = BUCKET_WORDS[state.view];
    const xFormat = state.view === "year"
      ? (v) => new Intl.DateTimeFormat(undefined, { timeZone: "UTC", year: "numeric", month: "long" }).format(new Date(v * 1000))
      : hours
        ? (v) => new Intl.DateTimeFormat(undefined, { timeZone: homeTimeZone() || undefined, dateStyle: "medium", timeStyle: "short" }).format(new Date((v - 1800) * 1000))
        : undefined;
    const electric = ELECTRIC.some((k) => k in t);
    $("#ov-energy").hidden = !electric;
    const drawn = [];
    if (electric) {
      const splits = buckets.map(distribution);
      const stacks = [
        "grid_import_kwh" in t && { label: "From grid", values: splits.map((s) => s.gridHome), color: themeColor("--src-grid", "#5b6ee1") },
        "solar_kwh" in t && { label: "From solar", values: splits.map((s) => s.solarHome), color: themeColor("--src-solar", "#f2a900") },
        "battery_out_kwh" in t && { label: "From battery", values: splits.map((s) => s.batteryHome), color: themeColor("--src-battery", "#2e9e6a") },
        "grid_export_kwh" in t && { label: "To grid", values: buckets.map((b) => b.grid_export_kwh || 0), color: themeColor("--src-export", "#9b59b6"), below: true },
        "battery_in_kwh" in t && { label: "To battery", values: buckets.map((b) => b.battery_in_kwh || 0), color: themeColor("--src-charge", "#7fc8a9"), below: true },
      ].filter(Boolean);
      $("#ov-energy-title").textContent = `Energy per ${bucketWord} (kWh)`;
      drawn.push({ el: $("#ov-energy-chart"), xs, stacks, unit: "kWh", what: "energy" });
    }
    // Gas and water: one chart each, in the unit of HA's statistics.
    const meters = $("#ov-meters");
    meters.replaceChildren();
    for (const [key, title, color] of [["gas", "Gas", "--src-gas"], ["water", "Water", "--src-water"]]) {
      if (!(key in t)) continue;
      const unit = t[key].unit;
      meters.insertAdjacentHTML("beforeend", `<figure class="chart-box" id="ov-${key}"><figcaption>${title} per ${bucketWord} (${escapeHtml(unit)})</figcaption><div id="ov-${key}-chart" class="chart" role="img" aria-label="${title} per ${bucketWord}"></div></figure>`);
      drawn.push({
        el: $(`#ov-${key}-chart`), xs, unit, what: key.toLowerCase(),
        stacks: [{ label: title, values: buckets.map((b) => (b[key] ? b[key].value : 0)), color: themeColor(color, "#1a73e8") }],
      });
    }
    const days = (answer.base_load_w || []).filter((d) => d.date && d.w !== null && d.w !== undefined);
    $("#ov-standby").hidden = days.length === 0;
    fitGrids();
    try {
      for (const d of drawn) {
        d.el.replaceChildren();
        charts.push(await stackedBarChart(d.el, d.xs, d.stacks, { unit: d.unit, window, pad, hours, xFormat }));
        if (disposed) return;
        const any = d.stacks.some((s) => s.values.some((v) => v));
        if (!any) d.el.insertAdjacentHTML("beforeend", `<p class="chart-note">Nothing recorded in this span.</p>`);
        d.el.setAttribute("aria-label", `${d.what === "energy" ? "Energy" : d.what === "gas" ? "Gas" : "Water"} per ${bucketWord}, ${buckets.length} bucket${buckets.length === 1 ? "" : "s"}`);
      }
      if (days.length) {
        const el = $("#ov-standby-chart");
        el.replaceChildren();
        const avg = t.base_load_w;
        $("#ov-standby-sub").textContent = [
          avg !== null && avg !== undefined ? `average ${formatValue(avg, "W")}` : "",
          answer.base_load_source === "home_power" ? "from the home's power sensor" : answer.base_load_source === "meters" ? "from the energy meters" : "",
        ].filter(Boolean).join(" · ");
        charts.push(await barChart(el, days.map((d) => d.date), days.map((d) => d.w), {
          unit: "W", label: "Standby", window: [span.first, addDays(span.next, -1)],
        }));
      }
    } catch (err) {
      if (disposed) return;
      for (const d of [...drawn.map((x) => x.el), $("#ov-standby-chart")]) {
        d.innerHTML = `<p class="chart-empty">Charts are unavailable: the chart library is missing. Run scripts/build-frontend and reload.</p>`;
      }
      console.warn(err);
    }
  }

  async function load({ quiet = false } = {}) {
    if (disposed) return;
    if (controller) controller.abort();
    const { span, current } = showControls();
    if (timeZoneUnknown()) {
      showOnly(ZONE_UNKNOWN_NOTICE);
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
    const query = queryOf(state);
    if (!quiet) {
      $("#ov-cards").setAttribute("aria-busy", "true");
      if (!$("#ov-cards").children.length) $("#ov-notice").innerHTML = notice("loading", "Loading…");
    }
    let answer;
    try {
      const reuse = early.key === JSON.stringify(query) && Date.now() - early.at < 5000;
      early.key = null;
      let fetchedSettings;
      [answer, fetchedSettings] = await (reuse ? early.promise : Promise.all([
        api.overview({ ...query, signal }),
        settings ? Promise.resolve(settings) : api.energySettings({ signal }).catch((err) => { if (err.name === "AbortError") throw err; return null; }),
      ]));
      settings = fetchedSettings || settings;
    } catch (err) {
      if (err.name === "AbortError" || disposed) return;
      $("#ov-cards").removeAttribute("aria-busy");
      if (err instanceof ApiError && err.code === "time_zone_unknown") {
        forgetTimeZone();
        showOnly(ZONE_UNKNOWN_NOTICE);
        return;
      }
      showOnly(errorNotice(err), { empty: err instanceof ApiError && err.code === "home_assistant_not_configured" });
      return;
    }
    await namesReady;
    if (disposed || signal.aborted) return;
    $("#ov-cards").removeAttribute("aria-busy");
    if (answer.time_zone && answer.time_zone !== homeTimeZone() && !zoneRetried) {
      // The window was computed in another zone than the one HA's days are in.
      zoneRetried = true;
      setTimeZone(answer.time_zone);
      load({ quiet });
      return;
    }
    const t = answer.totals || {};
    if (!NAMED.some((k) => k in t)) {
      showOnly(nothingNamedNotice(settings));
      return;
    }
    $("#ov-body").hidden = false;
    main.querySelector(".overview-nav").hidden = false;
    const vsLabel = previousLabel(state.view, span);
    renderCards(answer, vsLabel);
    const electric = ELECTRIC.some((k) => k in t);
    $("#ov-flow").hidden = !electric;
    if (electric) $("#ov-flow-body").innerHTML = distributionHtml(t);
    $("#ov-devices").hidden = !("devices" in t);
    if ("devices" in t) $("#ov-devices-body").innerHTML = devicesHtml(t, settings && settings.setup, names);
    const recorded = NAMED.some((k) => {
      const v = t[k];
      if (v === undefined) return false;
      if (k === "devices") return Object.values(v).some((x) => x);
      return typeof v === "object" ? Boolean(v.value) : Boolean(v);
    });
    $("#ov-notice").innerHTML = recorded ? "" : notice("empty nothing-recorded",
      `Nothing was recorded in ${escapeHtml(spanLabel(state.view, span))}. Move back in time with ←, or check on the Settings page that the forwarder runs and HA's statistics are synced.`);
    clearCharts();
    fitGrids();
    await renderCharts(answer, span);
    if (disposed) { clearCharts(); return; }
    $("#ov-updated").textContent = `Updated ${formatDateTime(Date.now())} · ${current ? "so far; " : ""}days in ${answer.time_zone || homeTimeZone() || "Home Assistant's time zone"} · compared with ${vsLabel}`;
    performance.mark("et:overview-ready");
  }

  main.querySelector(".segmented").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-view]");
    if (!b || b.dataset.view === state.view) return;
    state.view = b.dataset.view;
    load();
  });
  $("#ov-prev").addEventListener("click", () => { state.date = shiftSpan(state.view, state.date, -1); load(); });
  $("#ov-next").addEventListener("click", () => { state.date = shiftSpan(state.view, state.date, 1); load(); });
  $("#ov-today").addEventListener("click", () => { state.date = zonedDate(Date.now()); load(); });

  const onVisible = () => {
    if (document.visibilityState === "visible" && Date.now() - lastLoad > REFRESH_MS) load({ quiet: true });
  };
  document.addEventListener("visibilitychange", onVisible);
  timer = setInterval(() => {
    const span = spanOf(state.view, state.date);
    const now = Date.now();
    const current = zonedMidnight(span.first) <= now && now < zonedMidnight(span.next);
    if (document.visibilityState === "visible" && current) load({ quiet: true });
  }, REFRESH_MS);

  await load();

  return () => {
    disposed = true;
    if (controller) controller.abort();
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
    clearCharts();
  };
}
