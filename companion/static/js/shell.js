// Helpers shared by the shell and the pages: hash parameters, toasts and the
// companion's status (which also gives HA's time zone). Pages import this module,
// never app.js (the entry module is loaded with a cache-busting query string).

import { api } from "./api.js";
import { setTimeZone } from "./format.js";

export const routeNames = ["", "meters", "history", "settings", "sync-log"];

export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const name = path.replace(/\/$/, "");
  return { name: routeNames.includes(name) ? name : null, params: new URLSearchParams(query) };
}

/** Update the query part of the hash without re-rendering the page. */
export function setHashParams(params) {
  const { name } = parseHash();
  const qs = new URLSearchParams(params).toString();
  const hash = `#/${name || ""}${qs ? `?${qs}` : ""}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

let toastTimer = null;
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 5000);
}

let statusCache = null;
/** The companion's status (databases, HA, forwarders) for the indicator in the header. */
export async function loadStatus(force = false) {
  if (statusCache && !force) return statusCache;
  statusCache = api.status().then((status) => {
    updateConn(status);
    return status;
  }, (err) => {
    statusCache = null;
    updateConn(null, err);
    throw err;
  });
  return statusCache;
}

let settingsCache = null;
const ZONE_KEY = "energy-tracker.time-zone";
// What the companion said about HA's zone: "known", "unknown" (never learnt: no day
// can be computed), or null while /api/settings has not answered.
let zoneState = null;
/**
 * HA's time zone (from /api/settings) decides what "a day" is. The zone seen last
 * time is used at once so the first paint does not wait; if HA's zone changed, or
 * the companion no longer knows it, the page is shown again.
 */
export function loadTimeZone() {
  if (settingsCache) return settingsCache;
  let cached = null;
  try { cached = localStorage.getItem(ZONE_KEY); } catch { /* storage disabled */ }
  const fetched = api.settings().then((settings) => {
    if (settings.time_zone) {
      setTimeZone(settings.time_zone);
      zoneState = "known";
      try { localStorage.setItem(ZONE_KEY, settings.time_zone); } catch { /* ignore */ }
      if (cached && cached !== settings.time_zone) window.dispatchEvent(new Event("et:time-zone-changed"));
    } else {
      forgetTimeZone();
      if (cached) window.dispatchEvent(new Event("et:time-zone-changed"));
    }
    return settings;
  }, (err) => { settingsCache = null; throw err; });
  if (cached) {
    setTimeZone(cached);
    zoneState = "known";
    fetched.catch(() => null);
    settingsCache = Promise.resolve({ time_zone: cached, time_zone_known: true });
    fetched.then((s) => { if (s.time_zone) settingsCache = Promise.resolve(s); }, () => null);
  } else {
    settingsCache = fetched;
  }
  return settingsCache;
}

/** Whether the companion said it does not know HA's zone (so days cannot be shown). */
export function timeZoneUnknown() { return zoneState === "unknown"; }

/**
 * The companion does not know HA's zone (it said so, or refused days with 409).
 * The settings are asked for again on the next page, which may have connected HA.
 */
export function forgetTimeZone() {
  setTimeZone(null);
  zoneState = "unknown";
  settingsCache = null;
  try { localStorage.removeItem(ZONE_KEY); } catch { /* ignore */ }
}

let entitiesCache = null;
/** The entity list, shared by the shell's prefetch and the first page that asks (2 s). */
export function loadEntities() {
  const now = Date.now();
  if (!entitiesCache || now - entitiesCache.at > 2000) {
    entitiesCache = { at: now, promise: api.entities() };
    entitiesCache.promise.catch(() => { entitiesCache = null; });
  }
  return entitiesCache.promise;
}

function updateConn(status, err) {
  const el = document.getElementById("conn");
  if (!status) {
    el.textContent = "Offline";
    el.dataset.state = "down";
    el.title = err ? err.message : "The companion is not answering";
    return;
  }
  const dbs = status.databases || {};
  const down = Object.entries(dbs).filter(([, v]) => !/^(connected|ok|up)$/i.test(String(v && v.status ? v.status : v)));
  if (down.length) {
    el.textContent = `${down.map(([k]) => k).join(", ")} down`;
    el.dataset.state = "warn";
  } else {
    el.textContent = "Connected";
    el.dataset.state = "ok";
  }
  el.title = "Status of the companion's databases";
}

