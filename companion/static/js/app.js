// The single-page shell: hash routing (#/ the overview, #/meters, #/history,
// #/settings, #/sync-log), the connection indicator, the time zone from the
// companion, and page life cycles.

import { loadEntities, loadStatus, loadTimeZone, parseHash, toast } from "./shell.js";

const routes = {
  "": () => import("./pages/overview.js"),
  meters: () => import("./pages/dashboard.js"),
  history: () => import("./pages/history.js"),
  settings: () => import("./pages/settings.js"),
  "sync-log": () => import("./pages/synclog.js"),
};
const titles = { "": "Overview", meters: "Meters", history: "History", settings: "Settings", "sync-log": "Sync log" };

const main = document.getElementById("main");
let cleanup = null;
let renderId = 0;

async function route() {
  const id = ++renderId;
  let { name, params } = parseHash();
  if (name === null) { location.hash = "#/"; return; }
  if (name === "" && (params.has("entity") || params.has("range"))) {
    // A link to one meter from before the overview was the first page.
    history.replaceState(null, "", `#/meters?${params}`);
    lastHashPath = "#/meters";
    name = "meters";
  }
  for (const link of document.querySelectorAll("nav a")) {
    const active = link.dataset.route === (name || "overview");
    if (active) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  document.title = `${titles[name]} · Energy Tracker`;
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } cleanup = null; }
  main.replaceChildren();
  main.setAttribute("aria-busy", "true");
  try {
    // The time zone decides what "a day" is: fetched beside the page's code and,
    // for the pages that list entities, the entity list.
    if (name !== "settings" && name !== "sync-log") loadEntities().catch(() => null);
    const [page] = await Promise.all([routes[name](), loadTimeZone().catch(() => null)]);
    if (id !== renderId) return;
    cleanup = (await page.render(main, { params, toast })) || null;
  } catch (err) {
    if (id !== renderId) return;
    main.innerHTML = "";
    const p = document.createElement("p");
    p.className = "notice error";
    p.textContent = `This page could not be shown: ${err.message}. Reload the page; if it persists, check the companion's log.`;
    main.append(p);
  } finally {
    if (id === renderId) main.removeAttribute("aria-busy");
    // The header's status badge is not needed for the first paint.
    loadStatus().catch(() => null);
  }
}

let lastHashPath = null;
window.addEventListener("hashchange", () => {
  // Only a change of page re-renders; pages update their own query parameters.
  const path = location.hash.split("?")[0];
  if (path !== lastHashPath) { lastHashPath = path; route(); }
});
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => route());
window.addEventListener("et:time-zone-changed", () => route());
lastHashPath = location.hash.split("?")[0];
route();
