// Thin wrappers around uPlot (vendored, loaded lazily so the page still works and
// says what to do when scripts/build-frontend has not been run).

import { BASE, VERSION } from "./api.js";
import { formatNumber, getTimeZone } from "./format.js";

let uPlotPromise = null;
export function loadUPlot() {
  if (!uPlotPromise) {
    uPlotPromise = import(`${BASE}/static/vendor/uPlot.esm.js?v=${VERSION}`).then((m) => m.default);
    uPlotPromise.catch(() => { uPlotPromise = null; });
  }
  return uPlotPromise;
}

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** A colour of the theme (a CSS custom property), for a series. */
export function themeColor(name, fallback) { return cssVar(name, fallback); }

function theme() {
  return {
    text: cssVar("--muted", "#666"),
    grid: cssVar("--grid", "rgba(128,128,128,.18)"),
    accent: cssVar("--accent", "#1f77b4"),
    accent2: cssVar("--accent-2", "#ff7f0e"),
    fill: cssVar("--accent-fill", "rgba(31,119,180,.15)"),
  };
}

function axis(t, unit) {
  return {
    stroke: t.text,
    grid: { stroke: t.grid, width: 1 },
    ticks: { stroke: t.grid, width: 1 },
    values: unit === undefined ? undefined : (u, splits) => splits.map((v) => formatNumber(v)),
    size: 50,
  };
}

/** Keep a chart sized to its container; returns a function that stops. */
function autosize(u, el, height) {
  const resize = () => {
    const width = Math.max(200, Math.floor(el.clientWidth));
    if (width !== u.width) u.setSize({ width, height });
  };
  const observer = new ResizeObserver(resize);
  observer.observe(el);
  return () => observer.disconnect();
}

/** The x range drawn, as an ISO interval on the chart's element (what the axis spans). */
function markXRange(u, el) {
  const iso = (sec) => new Date(sec * 1000).toISOString();
  el.dataset.xRange = `${iso(u.scales.x.min)}/${iso(u.scales.x.max)}`;
}

export class Chart {
  constructor(u, stop) { this.u = u; this.stop = stop; }
  destroy() { this.stop(); this.u.destroy(); }
}

/**
 * The x range: the window asked for, so that one bucket or none still spans it
 * (uPlot would otherwise pad a single point by years on a time scale).
 */
function xRange(window, pad) {
  return (u, min, max) => {
    if (window) return [window[0] - pad, window[1] + pad];
    return min === max ? [min - 43200, max + 43200] : [min - pad, max + pad];
  };
}

/**
 * Daily bars: days = ["YYYY-MM-DD", ...] (days in HA's zone), values in `unit`;
 * `window` = [first day, last day] of the range asked for.
 */
export async function barChart(el, days, values, { unit, label, height = 240, window } = {}) {
  const uPlot = await loadUPlot();
  const t = theme();
  // Days are placed at UTC midnight and drawn in UTC so a day never shifts.
  const dayX = (d) => Date.parse(`${d}T00:00:00Z`) / 1000;
  const xs = days.map(dayX);
  const opts = {
    width: Math.max(200, el.clientWidth), height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    legend: { show: true },
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    scales: {
      x: { time: true, range: xRange(window && window.map(dayX), 43200) },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [axis(t), { ...axis(t, unit), label: unit || "" }],
    series: [
      { value: (u, v) => (v == null ? "–" : new Intl.DateTimeFormat(undefined, { timeZone: "UTC", dateStyle: "medium" }).format(new Date(v * 1000))) },
      {
        label: label || "Total", stroke: t.accent, fill: t.accent, width: 1,
        paths: uPlot.paths.bars({ size: [0.7, 60], align: 0 }), points: { show: false },
        value: (u, v) => (v == null ? "–" : `${formatNumber(v)} ${unit || ""}`.trim()),
      },
    ],
  };
  opts.hooks = { setScale: [(u, key) => { if (key === "x") markXRange(u, el); }] };
  const u = new uPlot(opts, [xs, values], el);
  return new Chart(u, autosize(u, el, height));
}

/**
 * A time series: xs in ms, ys numbers (null = gap), drawn in HA's time zone;
 * `window` = [start, end] in ms, the range asked for.
 */
export async function lineChart(el, xs, ys, { unit, label, height = 260, zoom = false, onZoom, step = false, window } = {}) {
  const uPlot = await loadUPlot();
  const t = theme();
  const tz = getTimeZone();
  const opts = {
    width: Math.max(200, el.clientWidth), height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), tz),
    legend: { show: true },
    cursor: { drag: { x: zoom, y: false, setScale: zoom }, points: { size: 6 } },
    scales: { x: { time: true, range: window ? xRange(window.map((ms) => ms / 1000), 0) : undefined } },
    axes: [axis(t), { ...axis(t, unit), label: unit || "" }],
    series: [
      {},
      {
        label: label || "Value", stroke: t.accent, width: 1.5, fill: t.fill, spanGaps: false,
        paths: step ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: { show: false },
        value: (u, v) => (v == null ? "–" : `${formatNumber(v)} ${unit || ""}`.trim()),
      },
    ],
    hooks: {
      setScale: [(u, key) => {
        if (key !== "x") return;
        markXRange(u, el);
        if (onZoom) onZoom(u.scales.x.min, u.scales.x.max);
      }],
    },
  };
  const data = [Float64Array.from(xs, (x) => x / 1000), ys];
  const u = new uPlot(opts, data, el);
  return new Chart(u, autosize(u, el, height));
}

/**
 * Bars per bucket stacked by source. `xs` are bucket starts in seconds: hours as
 * instants (drawn in HA's zone), days and months at UTC midnight of their local
 * date (drawn in UTC, as `barChart` does, so a day never shifts). `stacks` =
 * [{label, values, color, below}]: drawn upwards in order, those with `below`
 * downwards from zero. `window` = [first, last] bucket start of the span asked
 * for, `pad` = half a bucket, so the axis spans the span with one bucket or none.
 */
export async function stackedBarChart(el, xs, stacks, { unit, height = 260, window, pad = 43200, hours = false, xFormat } = {}) {
  const uPlot = await loadUPlot();
  const t = theme();
  const zone = hours ? getTimeZone() : "Etc/UTC";
  // Each bar reaches its stack's running total: uPlot draws series in order, so the
  // highest total goes first and the ones below it are drawn over it.
  const running = (list, sign) => {
    const run = xs.map(() => 0);
    return list.map((stack) => ({ stack, totals: xs.map((_, i) => (run[i] += sign * (stack.values[i] || 0))) })).reverse();
  };
  const drawn = [...running(stacks.filter((s) => !s.below), 1), ...running(stacks.filter((s) => s.below), -1)];
  const suffix = unit ? ` ${unit}` : "";
  const top = Math.max(0, ...drawn.flatMap((d) => d.totals));
  const bottom = Math.min(0, ...drawn.flatMap((d) => d.totals));
  const label = xFormat || ((v) => new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: "medium", ...(hours ? { timeStyle: "short" } : {}) }).format(new Date(v * 1000)));
  const opts = {
    width: Math.max(200, el.clientWidth), height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), zone),
    legend: { show: true },
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    scales: {
      x: { time: true, range: xRange(window, pad) },
      y: { range: () => [bottom < 0 ? bottom * 1.1 : 0, top > 0 ? top * 1.1 : 1] },
    },
    axes: [axis(t), { ...axis(t, unit), label: unit || "" }],
    series: [
      { value: (u, v) => (v == null ? "–" : label(v)) },
      ...drawn.map(({ stack }) => ({
        label: stack.label, stroke: stack.color, fill: stack.color, width: 0,
        paths: uPlot.paths.bars({ size: [0.7, 60], align: 0 }), points: { show: false },
        value: (u, v, si, idx) => (idx == null || stack.values[idx] == null ? "–" : `${formatNumber(stack.values[idx])}${suffix}`),
      })),
    ],
    hooks: { setScale: [(u, key) => { if (key === "x") markXRange(u, el); }] },
  };
  const u = new uPlot(opts, [xs, ...drawn.map((d) => d.totals)], el);
  return new Chart(u, autosize(u, el, height));
}
