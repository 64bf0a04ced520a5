// Sync log: recent reconciliation / backfill / recovery runs.

import { api, ApiError, toTime } from "../api.js";
import { escapeHtml, formatDateTime, formatNumber } from "../format.js";

function pick(obj, ...names) {
  for (const n of names) if (obj[n] !== undefined && obj[n] !== null) return obj[n];
  return undefined;
}

export function normaliseRun(raw) {
  const window = raw.window || {};
  const outcome = pick(raw, "outcome", "status", "result");
  const entities = pick(raw, "entities", "entity_ids");
  return {
    kind: pick(raw, "kind", "type", "sync_type") || "run",
    started: toTime(pick(raw, "started_at", "start", "created_at")),
    finished: toTime(pick(raw, "finished_at", "ended_at", "end")),
    from: toTime(pick(window, "start", "from") ?? pick(raw, "window_start", "start_time")),
    to: toTime(pick(window, "end", "to") ?? pick(raw, "window_end", "end_time")),
    entities: typeof raw.entity_count === "number" ? raw.entity_count : Array.isArray(entities) ? entities.length : typeof entities === "number" ? entities : null,
    rows: pick(raw, "rows", "rows_written", "records_synced"),
    outcome: typeof outcome === "object" ? (outcome.status || JSON.stringify(outcome)) : (outcome || "unknown"),
    error: pick(raw, "error", "message"),
  };
}

export async function render(main) {
  main.innerHTML = `<h1>Sync log</h1><p class="notice loading">Loading…</p>`;
  let runs;
  try {
    runs = (await api.syncLog(200)).map(normaliseRun);
  } catch (err) {
    const hint = err instanceof ApiError && err.status === 404
      ? "This companion does not offer the sync log yet (GET /api/sync-log); update it."
      : err instanceof ApiError ? err.advice : "Reload the page.";
    main.innerHTML = `<h1>Sync log</h1><p class="notice error">The sync log could not be loaded (${escapeHtml(err.message)}). ${escapeHtml(hint)}</p>`;
    return null;
  }
  if (!runs.length) {
    main.innerHTML = `<h1>Sync log</h1><p class="notice empty">No reconciliation or backfill has run yet. They run hourly and after an outage; press “Sync from HA” on the dashboard to start one now.</p>`;
    return null;
  }
  runs.sort((a, b) => (b.started ?? 0) - (a.started ?? 0));
  main.innerHTML = `
    <h1>Sync log</h1>
    <p class="muted">The newest ${formatNumber(runs.length, 0)} runs that fetched data from Home Assistant.</p>
    <div class="table-wrap"><table class="sync-log">
      <thead><tr><th scope="col">Started</th><th scope="col">Kind</th><th scope="col">Window</th><th scope="col">Entities</th><th scope="col">Rows</th><th scope="col">Outcome</th></tr></thead>
      <tbody>${runs.map((r) => `<tr>
        <td>${escapeHtml(formatDateTime(r.started))}</td>
        <td>${escapeHtml(r.kind)}</td>
        <td>${r.from !== null ? `${escapeHtml(formatDateTime(r.from))} – ${escapeHtml(formatDateTime(r.to))}` : "–"}</td>
        <td class="num">${r.entities === null ? "–" : formatNumber(r.entities, 0)}</td>
        <td class="num">${r.rows === undefined ? "–" : escapeHtml(formatNumber(Number(r.rows), 0))}</td>
        <td><span class="state" data-state="${/^(ok|success|succeeded|done|completed)$/i.test(r.outcome) ? "ok" : /^(running|partial|skipped)$/i.test(r.outcome) ? "warn" : "down"}">${escapeHtml(r.outcome)}</span>${r.error && typeof r.error === "string" && !/^(ok|success|succeeded)$/i.test(r.outcome) ? `<br><span class="muted">${escapeHtml(r.error)}</span>` : ""}</td>
      </tr>`).join("")}</tbody>
    </table></div>`;
  return null;
}
