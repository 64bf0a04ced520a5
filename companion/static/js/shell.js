// Helpers shared by the shell and the pages: hash parameters, toasts and the
// companion's status (which also gives HA's time zone). Pages import this module,
// never app.js (the entry module is loaded with a cache-busting query string).

import { api } from "./api.js";
import { setTimeZone } from "./format.js";

export const routeNames = ["", "history", "settings", "sync-log"];

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
/** The companion's status; HA's time zone comes with it (from /api/settings). */
export async function loadStatus(force = false) {
  if (statusCache && !force) return statusCache;
  statusCache = Promise.all([api.status(), api.settings().catch(() => ({}))]).then(([status, settings]) => {
    const tz = settings.time_zone || status.time_zone || (status.home_assistant && status.home_assistant.time_zone);
    if (tz) setTimeZone(tz);
    updateConn(status);
    return { ...status, settings };
  }, (err) => {
    statusCache = null;
    updateConn(null, err);
    throw err;
  });
  return statusCache;
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

