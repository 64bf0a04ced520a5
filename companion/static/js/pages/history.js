// History: raw readings of one entity in a window, zoom/pan chart, table, CSV of what is shown.

import { api, ApiError } from "../api.js";
import { lineChart } from "../chart.js";
import { loadEntities, setHashParams } from "../shell.js";
import { escapeHtml, formatDateTimeSeconds, formatNumber, fromZonedInput, getTimeZone, isoUtc, toZonedInput } from "../format.js";

const WINDOWS = [["1h", 1], ["6h", 6], ["24h", 24], ["7d", 168], ["30d", 720]];
const LIMITS = [1000, 10000, 100000];
const TABLE_PAGE = 200;

const toLocalInput = toZonedInput;
const fromLocalInput = fromZonedInput;

export function toCsv(entityId, rows, tz) {
  const local = new Intl.DateTimeFormat("sv-SE", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  const quote = (v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = ["timestamp_utc,local_time,entity_id,value,unit"];
  for (const r of rows) {
    lines.push([new Date(r.ts).toISOString(), local.format(new Date(r.ts)), entityId, r.value === null ? "" : String(r.value), r.unit || ""].map((v) => quote(String(v))).join(","));
  }
  return lines.join("\n") + "\n";
}

export async function render(main, { params }) {
  main.innerHTML = `<h1>History</h1><p class="notice loading">Loading entities…</p>`;
  let entities;
  try {
    entities = await loadEntities();
  } catch (err) {
    main.innerHTML = `<h1>History</h1><p class="notice error">The list of entities could not be loaded (${escapeHtml(err.message)}). ${escapeHtml(err instanceof ApiError ? err.advice : "Reload the page.")}</p>`;
    return null;
  }
  if (!entities.length) {
    main.innerHTML = `<h1>History</h1><p class="notice empty">No entities known yet. Open <a href="#/settings">Settings</a> and press “Discover entities”.</p>`;
    return null;
  }
  entities.sort((a, b) => (b.is_tracked - a.is_tracked) || String(a.friendly_name).localeCompare(String(b.friendly_name)));
  const now = Date.now();
  const state = {
    entity: entities.some((e) => e.entity_id === params.get("entity")) ? params.get("entity") : entities[0].entity_id,
    since: Number(params.get("since")) || now - 24 * 3_600_000,
    until: Number(params.get("until")) || now,
    limit: LIMITS.includes(Number(params.get("limit"))) ? Number(params.get("limit")) : 10000,
  };

  main.innerHTML = `
    <h1>History</h1>
    <form class="toolbar" id="hist-form" aria-label="Readings to show">
      <div class="field">
        <label for="h-entity">Entity</label>
        <select id="h-entity">${entities.map((e) => `<option value="${escapeHtml(e.entity_id)}">${escapeHtml(e.friendly_name)}${e.is_tracked ? "" : " (not tracked)"}</option>`).join("")}</select>
      </div>
      <div class="field"><label for="h-since">From (${escapeHtml(getTimeZone())})</label><input type="datetime-local" id="h-since" step="1"></div>
      <div class="field"><label for="h-until">To (${escapeHtml(getTimeZone())})</label><input type="datetime-local" id="h-until" step="1"></div>
      <div class="field">
        <label for="h-limit">At most</label>
        <select id="h-limit">${LIMITS.map((l) => `<option value="${l}">${formatNumber(l, 0)} readings</option>`).join("")}</select>
      </div>
      <div class="field"><button type="submit" class="primary">Show</button></div>
      <div class="field presets" role="group" aria-label="Quick windows">
        ${WINDOWS.map(([k]) => `<button type="button" data-window="${k}">Last ${k}</button>`).join("")}
      </div>
    </form>
    <div id="h-notice" aria-live="polite"></div>
    <figure class="chart-box">
      <figcaption>Raw readings <span class="muted">(drag across the chart to zoom; double-click to reset)</span></figcaption>
      <div class="zoom-controls" role="group" aria-label="Zoom and pan">
        <button type="button" data-zoom="left" aria-label="Pan left">◀</button>
        <button type="button" data-zoom="in" aria-label="Zoom in">+</button>
        <button type="button" data-zoom="out" aria-label="Zoom out">-</button>
        <button type="button" data-zoom="right" aria-label="Pan right">▶</button>
        <button type="button" data-zoom="reset">Reset zoom</button>
      </div>
      <div id="h-chart" class="chart tall" role="img" aria-label="Raw readings chart"></div>
    </figure>
    <section class="table-section" aria-labelledby="h-table-title">
      <div class="table-head">
        <h2 id="h-table-title">Readings shown</h2>
        <button type="button" id="h-csv" disabled>Download CSV</button>
      </div>
      <p id="h-summary" class="muted" aria-live="polite"></p>
      <div class="table-wrap"><table id="h-table"><thead><tr><th scope="col">Time</th><th scope="col">Value</th><th scope="col">Unit</th><th scope="col">Source</th></tr></thead><tbody></tbody></table></div>
      <button type="button" id="h-more" hidden>Show more rows</button>
    </section>`;

  const $ = (s) => main.querySelector(s);
  $("#h-entity").value = state.entity;
  $("#h-since").value = toLocalInput(state.since);
  $("#h-until").value = toLocalInput(state.until);
  $("#h-limit").value = String(state.limit);

  let chart = null;
  let rows = [];
  let view = [null, null];
  let shown = [];
  let tableCount = TABLE_PAGE;
  let controller = null;
  let disposed = false;

  function visibleRows() {
    const [min, max] = view;
    if (min === null) return rows;
    return rows.filter((r) => r.ts >= min && r.ts <= max);
  }

  function renderTable() {
    shown = visibleRows();
    const entity = entities.find((e) => e.entity_id === state.entity);
    const tbody = $("#h-table tbody");
    const newestFirst = shown.slice(-tableCount).reverse();
    tbody.innerHTML = newestFirst.map((r) => `<tr><td>${escapeHtml(formatDateTimeSeconds(r.ts))}</td><td class="num">${r.value === null ? "–" : escapeHtml(formatNumber(r.value, 6))}</td><td>${escapeHtml(r.unit || (entity && entity.unit) || "")}</td><td>${escapeHtml(r.source || "")}</td></tr>`).join("");
    $("#h-more").hidden = shown.length <= tableCount;
    $("#h-csv").disabled = shown.length === 0;
    $("#h-summary").textContent = shown.length
      ? `${formatNumber(shown.length, 0)} readings from ${formatDateTimeSeconds(shown[0].ts)} to ${formatDateTimeSeconds(shown[shown.length - 1].ts)} (${getTimeZone()}); the table lists the newest ${formatNumber(Math.min(tableCount, shown.length), 0)}, the CSV has all of them.`
      : "No readings in this view.";
  }

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    const noticeEl = $("#h-notice");
    noticeEl.innerHTML = `<p class="notice loading">Loading readings…</p>`;
    setHashParams({ entity: state.entity, since: String(state.since), until: String(state.until), limit: String(state.limit) });
    let result;
    try {
      result = await api.readings(state.entity, { since: isoUtc(state.since), until: isoUtc(state.until), limit: state.limit, signal: controller.signal, columns: true });
    } catch (err) {
      if (err.name === "AbortError" || disposed) return;
      noticeEl.innerHTML = `<p class="notice error">Readings could not be loaded (${escapeHtml(err.message)}). ${escapeHtml(err instanceof ApiError ? err.advice : "Try again.")}</p>`;
      return;
    }
    if (disposed) return;
    rows = result.rows;
    view = [null, null];
    tableCount = TABLE_PAGE;
    const entity = entities.find((e) => e.entity_id === state.entity);
    const truncated = result.truncated || rows.length >= state.limit;
    noticeEl.innerHTML = !rows.length
      ? `<p class="notice empty">No readings of ${escapeHtml(entity.friendly_name)} in this window. Choose a longer window, or check on the Settings page that the forwarder is running.</p>`
      : truncated ? `<p class="notice">Only the newest ${formatNumber(state.limit, 0)} readings of this window are shown. Narrow the window or raise the limit to see older ones.</p>` : "";
    if (chart) { chart.destroy(); chart = null; }
    const el = $("#h-chart");
    el.replaceChildren();
    if (rows.length) {
      try {
        chart = await lineChart(el, rows.map((r) => r.ts), rows.map((r) => r.value), {
          unit: (entity && entity.unit) || "", label: entity.friendly_name, height: 320, zoom: true,
          onZoom: (min, max) => {
            const full = rows.length && min <= rows[0].ts / 1000 && max >= rows[rows.length - 1].ts / 1000;
            view = full ? [null, null] : [min * 1000, max * 1000];
            renderTable();
          },
        });
        if (disposed) { chart.destroy(); chart = null; return; }
        el.setAttribute("aria-label", `Chart of ${rows.length} readings of ${entity.friendly_name}`);
      } catch (err) {
        el.innerHTML = `<p class="chart-empty">The chart library is missing. Run scripts/build-frontend and reload.</p>`;
      }
    } else {
      el.innerHTML = `<p class="chart-empty">Nothing to draw.</p>`;
    }
    renderTable();
  }

  function zoom(action) {
    if (!chart || !rows.length) return;
    const u = chart.u;
    const fullMin = rows[0].ts / 1000;
    const fullMax = rows[rows.length - 1].ts / 1000;
    let { min, max } = u.scales.x;
    const span = max - min;
    if (action === "reset") { min = fullMin; max = fullMax; }
    else if (action === "in") { min += span / 4; max -= span / 4; }
    else if (action === "out") { min -= span / 2; max += span / 2; }
    else if (action === "left") { min -= span / 4; max -= span / 4; }
    else if (action === "right") { min += span / 4; max += span / 4; }
    min = Math.max(min, fullMin);
    max = Math.min(max, fullMax);
    if (max - min < 1) return;
    u.setScale("x", { min, max });
  }

  main.querySelector(".zoom-controls").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-zoom]");
    if (b) zoom(b.dataset.zoom);
  });
  $("#hist-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const since = fromLocalInput($("#h-since").value);
    const until = fromLocalInput($("#h-until").value);
    if (since === null || until === null || since >= until) {
      $("#h-notice").innerHTML = `<p class="notice error">Pick a start before the end.</p>`;
      return;
    }
    Object.assign(state, { entity: $("#h-entity").value, since, until, limit: Number($("#h-limit").value) });
    load();
  });
  $("#h-entity").addEventListener("change", () => { state.entity = $("#h-entity").value; load(); });
  main.querySelector(".presets").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-window]");
    if (!b) return;
    const hours = Object.fromEntries(WINDOWS)[b.dataset.window];
    state.until = Date.now();
    state.since = state.until - hours * 3_600_000;
    $("#h-since").value = toLocalInput(state.since);
    $("#h-until").value = toLocalInput(state.until);
    load();
  });
  $("#h-more").addEventListener("click", () => { tableCount += TABLE_PAGE * 5; renderTable(); });
  $("#h-csv").addEventListener("click", () => {
    const blob = new Blob([toCsv(state.entity, shown, getTimeZone())], { type: "text/csv;charset=utf-8" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    const stamp = (ms) => new Date(ms).toISOString().replace(/[:]/g, "").slice(0, 15);
    a.download = shown.length ? `${state.entity}_${stamp(shown[0].ts)}_${stamp(shown[shown.length - 1].ts)}.csv` : `${state.entity}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  });

  await load();
  return () => { disposed = true; if (controller) controller.abort(); if (chart) chart.destroy(); };
}
