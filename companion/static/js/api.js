// The one place that knows the companion's API: URLs, the optional bearer token,
// error envelopes and the shapes of the answers (tolerant of `{data: [...]}`,
// `{entities: [...]}`, `{readings: [...]}` or a bare list).

const meta = document.querySelector('meta[name="energy-tracker-config"]');
const pageConfig = meta ? JSON.parse(meta.content || "{}") : {};
export const BASE = (pageConfig.basePath || "").replace(/\/$/, "");
export const VERSION = pageConfig.version || "";

const TOKEN_KEY = "energy-tracker.api-token";

export function getToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
}
export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lasts for this page only */ }
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** A sentence telling the user what to do about this error. */
  get advice() {
    if (this.code === "time_zone_unknown") return "Connect Home Assistant on the Settings page: the companion learns its time zone from it.";
    if (/home_assistant/.test(this.code || "")) return "Home Assistant is not set up or not reachable: check its URL and token under Settings.";
    if (this.status === 0) return "The companion is not answering. Check that it is running, then reload this page.";
    if (this.status === 401 || this.status === 403) return "This companion needs an API token. Enter it under Settings → API access.";
    if (this.status === 404) return "Not found. The entity may no longer be tracked; pick another one.";
    if (this.status === 503 || this.status === 502) return "A database or Home Assistant is unavailable. See Settings for the status of each, then try again.";
    if (this.status >= 500) return "The companion hit an error. Its log says more; try again in a moment.";
    return "Check the values you entered and try again.";
  }
}

async function request(method, path, { query, body, signal } = {}) {
  let url = `${BASE}/api${path}`;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
    }
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method, headers, signal, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "The companion could not be reached.");
  }
  let payload = null;
  const text = await response.text();
  if (text) {
    try { payload = JSON.parse(text); } catch { payload = null; }
  }
  if (!response.ok) {
    const error = payload && (payload.error || payload.detail);
    const code = (error && error.code) || String(response.status);
    const message = (error && (error.message || (typeof error === "string" ? error : ""))) || response.statusText || "Request failed";
    throw new ApiError(response.status, code, message, payload);
  }
  return payload;
}

/** Pull the list out of whichever envelope the API used. */
export function unwrapList(payload, ...keys) {
  if (Array.isArray(payload)) return payload;
  if (!payload || typeof payload !== "object") return [];
  for (const key of [...keys, "data", "items", "results"]) {
    if (Array.isArray(payload[key])) return payload[key];
    if (payload[key] && typeof payload[key] === "object" && !Array.isArray(payload[key])) {
      const inner = unwrapList(payload[key], ...keys);
      if (inner.length) return inner;
    }
  }
  return [];
}

function unwrapObject(payload, ...keys) {
  if (!payload || typeof payload !== "object") return {};
  for (const key of [...keys, "data"]) {
    if (payload[key] && typeof payload[key] === "object" && !Array.isArray(payload[key])) return payload[key];
  }
  return payload;
}

export function toNumber(value) {
  if (value === null || value === undefined || value === "") return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Milliseconds since the epoch from an ISO string, epoch seconds/ms/µs, or null. */
export function toTime(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") {
    if (value > 1e17) return value / 1e6;  // ns
    if (value > 1e14) return value / 1e3;  // µs
    if (value > 1e11) return value;        // ms
    return value * 1000;                   // s
  }
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : null;
}

function pick(obj, ...names) {
  for (const name of names) if (obj[name] !== undefined && obj[name] !== null) return obj[name];
  return undefined;
}

export function normaliseEntity(raw) {
  const attributes = raw.attributes || {};
  return {
    entity_id: raw.entity_id || raw._id || raw.id,
    friendly_name: pick(raw, "friendly_name", "name") ?? attributes.friendly_name ?? raw.entity_id,
    state: pick(raw, "state", "last_value", "value") ?? null,
    device_class: pick(raw, "device_class") ?? attributes.device_class ?? null,
    state_class: pick(raw, "state_class") ?? attributes.state_class ?? null,
    unit: pick(raw, "unit_of_measurement", "unit") ?? attributes.unit_of_measurement ?? "",
    is_tracked: Boolean(pick(raw, "is_tracked", "isTracked", "tracked")),
    is_active: pick(raw, "is_active", "isActive") ?? true,
    last_seen: toTime(pick(raw, "last_seen", "last_updated", "last_changed")),
  };
}

function normaliseStatistic(raw) {
  return {
    start: toTime(pick(raw, "start_time", "start", "ts", "timestamp")),
    end: toTime(pick(raw, "end_time", "end")),
    state: toNumber(raw.state),
    sum: toNumber(raw.sum),
    mean: toNumber(raw.mean),
    min: toNumber(raw.min),
    max: toNumber(raw.max),
  };
}

function normaliseDaily(raw) {
  return {
    date: String(pick(raw, "date", "day", "start_time") ?? "").slice(0, 10),
    total: toNumber(pick(raw, "total", "consumption")),
    avg_power: toNumber(pick(raw, "avg_power", "mean", "average")),
    peak: toNumber(raw.peak),
    peak_time: toTime(pick(raw, "peak_time", "peak_at")),
    readings: toNumber(pick(raw, "readings", "count")) ?? 0,
  };
}

function normaliseReading(raw) {
  if (Array.isArray(raw)) return { ts: toTime(raw[0]), value: toNumber(raw[1]), unit: raw[2] ?? "" };
  return {
    ts: toTime(pick(raw, "ts", "timestamp", "time", "last_updated")),
    value: toNumber(pick(raw, "value", "state")),
    unit: pick(raw, "unit", "unit_of_measurement") ?? "",
    source: raw.source ?? "",
  };
}

const enc = encodeURIComponent;

export const api = {
  status: () => request("GET", "/status"),
  settings: () => request("GET", "/settings").then((p) => unwrapObject(p, "settings")),
  entities: async () => unwrapList(await request("GET", "/entities"), "entities").map(normaliseEntity),
  statistics: async (entityId, { start, end, period = "hour", signal } = {}) =>
    unwrapList(await request("GET", `/statistics/${enc(entityId)}`, {
      query: { start_time: start, end_time: end, period }, signal,
    }), "statistics").map(normaliseStatistic).filter((s) => s.start !== null).sort((a, b) => a.start - b.start),
  daily: async (entityId, { start, end, signal } = {}) =>
    unwrapList(await request("GET", `/statistics/${enc(entityId)}/daily`, {
      query: { start_time: start, end_time: end }, signal,
    }), "days", "daily").map(normaliseDaily),
  readings: async (entityId, { since, until, limit, signal, columns = false } = {}) => {
    // `format=columns` (epoch ms, parallel arrays) is the compact form for long windows.
    const query = { since, until, limit, format: columns ? "columns" : undefined };
    const payload = await request("GET", `/readings/${enc(entityId)}`, { query, signal });
    let rows;
    const cols = payload && !Array.isArray(payload) ? payload.columns : null;
    if (cols && Array.isArray(cols.ts)) {
      const unit = payload.unit_of_measurement || "";
      rows = cols.ts.map((ts, i) => ({
        ts: toTime(ts), value: toNumber(cols.value[i]), unit, source: cols.source ? cols.source[i] ?? "" : "",
      }));
    } else {
      const unit = (payload && payload.unit_of_measurement) || "";
      rows = unwrapList(payload, "readings").map(normaliseReading).map((r) => (r.unit ? r : { ...r, unit }));
    }
    rows = rows.filter((r) => r.ts !== null);
    rows.sort((a, b) => a.ts - b.ts);
    const truncated = Boolean(payload && !Array.isArray(payload) && (payload.truncated || payload.has_more));
    return { rows, truncated };
  },
  startSync: (body) => request("POST", "/statistics/sync", { body }),
  job: (id) => request("GET", `/jobs/${enc(id)}`).then((p) => unwrapObject(p, "job")),
  syncLog: async (limit = 100) => unwrapList(await request("GET", "/sync-log", { query: { limit } }), "runs", "sync_log", "entries"),
  saveHomeAssistant: (url, token) => request("POST", "/settings/home-assistant", { body: { url, token } }),
  discover: async () => {
    const payload = await request("POST", "/settings/discover-entities", { body: {} });
    return unwrapList(payload, "entities").map(normaliseEntity);
  },
  track: (entityIds) => request("POST", "/settings/tracked-entities", { body: { entity_ids: entityIds } }),
  // HA's Energy settings as the companion read them last (`refresh`: ask HA now).
  energySettings: ({ refresh = false, signal } = {}) =>
    request("GET", "/energy/settings", { query: { refresh: refresh ? "true" : undefined }, signal }),
  // The whole home per bucket (hour, day, week, month) of HA's time zone.
  overview: ({ start, end, period, signal } = {}) =>
    request("GET", "/energy/overview", { query: { start_time: start, end_time: end, period }, signal }),
};
