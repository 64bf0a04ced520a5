// Settings: status of every component, Home Assistant connection, entity discovery
// and tracking, and the optional API token kept in this browser.

import { api, ApiError, getToken, setToken, toTime } from "../api.js";
import { loadStatus } from "../shell.js";
import { escapeHtml, formatAge, formatDateTime, formatNumber } from "../format.js";

function statusWord(value) {
  if (value === null || value === undefined) return ["unknown", "warn"];
  if (typeof value === "boolean") return value ? ["connected", "ok"] : ["unavailable", "down"];
  if (typeof value === "object") {
    if ("connected" in value) return statusWord(Boolean(value.connected));
    if ("status" in value) return statusWord(value.status);
    return ["unknown", "warn"];
  }
  const s = String(value);
  return [s, /^(connected|ok|up|active|running|healthy)$/i.test(s) ? "ok" : /^(unknown|stale|degraded|starting)$/i.test(s) ? "warn" : "down"];
}

function first(obj, ...paths) {
  for (const path of paths) {
    let v = obj;
    for (const key of path.split(".")) v = v && typeof v === "object" ? v[key] : undefined;
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

function forwarderRow(f) {
  const heartbeatAt = toTime(first(f, "heartbeat_at", "last_heartbeat"));
  const ageSeconds = first(f, "heartbeat_age_seconds", "heartbeat_age_s", "age_seconds");
  const spool = first(f, "spool_rows", "spool_depth", "spool");
  const heartbeat = heartbeatAt !== null ? formatAge(heartbeatAt)
    : typeof ageSeconds === "number" ? formatAge(Date.now() - ageSeconds * 1000) : "never";
  const word = f.stale ? ["stale", "warn"] : statusWord(f.status || "unknown");
  const name = f.instance ? `Forwarder (${f.instance})` : "Forwarder";
  return {
    name, word,
    detail: `heartbeat ${heartbeat}; spool ${spool === undefined || spool === null ? "–" : formatNumber(Number(spool), 0)} rows`
      + (f.stale ? " — capture has stopped; the companion backfills the gap from HA once it is back." : ""),
  };
}

/** HA's time zone, which decides what a day is, and where the companion has it from. */
function zoneRow(status) {
  const zone = status.time_zone;
  if (!zone) {
    return { name: "Time zone", word: ["unknown", "warn"], detail: "Home Assistant's time zone was never learnt, so no daily totals are shown: connect Home Assistant below." };
  }
  const detail = {
    home_assistant: "Home Assistant's; days are its days.",
    stored: "Home Assistant's, as it reported it last (it is not answering now).",
    environment: "From ENERGY_TRACKER_TIME_ZONE: Home Assistant has not been reached yet.",
  }[status.time_zone_source] || "Home Assistant's.";
  return { name: "Time zone", word: [zone, "ok"], detail };
}

export function describeStatus(status) {
  const ha = first(status, "home_assistant", "homeAssistant") || {};
  let haRow;
  if (ha.configured === false) haRow = { name: "Home Assistant", word: ["not configured", "warn"], detail: "Enter its URL and a long-lived token below." };
  else if (ha.connected) haRow = { name: "Home Assistant", word: ["connected", "ok"], detail: [ha.version && `version ${ha.version}`, ha.url].filter(Boolean).join(" at ") };
  else haRow = { name: "Home Assistant", word: ["unreachable", "down"], detail: `${ha.error || ""} Check that HA runs and that the URL and token below are right.`.trim() };
  let forwarders = first(status, "forwarders") || [];
  if (!Array.isArray(forwarders)) forwarders = [forwarders];
  const rows = [
    haRow,
    { name: "QuestDB", word: statusWord(first(status, "databases.questdb", "questdb")), detail: "" },
    { name: "MongoDB", word: statusWord(first(status, "databases.mongodb", "mongodb")), detail: "" },
  ];
  if (forwarders.length) rows.push(...forwarders.map(forwarderRow));
  else rows.push({ name: "Forwarder", word: ["not reporting", "warn"], detail: "No heartbeat yet: add the Energy Tracker integration in Home Assistant." });
  rows.push(zoneRow(status));
  return rows;
}

/** Where a flow's price comes from, as HA's Energy settings name it (first that is set). */
export function priceText(flow, kind, currency) {
  const price = flow.price || {};
  if (price.stat_cost) return `${kind === "export" ? "compensation" : "cost"} statistic ${price.stat_cost}`;
  if (price.number !== null && price.number !== undefined) {
    return `fixed price ${formatNumber(price.number, 4)}${currency ? ` ${currency}` : ""}${kind === "export" || kind === "import" ? "/kWh" : ""}`;
  }
  if (price.entity) return `price entity ${price.entity}`;
  return "no price";
}

function deviceList(devices) {
  const named = new Set(devices.map((d) => d.stat));
  const item = (d) => {
    const inside = devices.filter((c) => c.included_in === d.stat);
    return `<li data-stat="${escapeHtml(d.stat)}">${d.name ? `${escapeHtml(d.name)} <code class="eid">${escapeHtml(d.stat)}</code>` : `<code>${escapeHtml(d.stat)}</code>`}${inside.length ? `<ul aria-label="Included in ${escapeHtml(d.name || d.stat)}">${inside.map(item).join("")}</ul>` : ""}</li>`;
  };
  return `<ul>${devices.filter((d) => !d.included_in || !named.has(d.included_in)).map(item).join("")}</ul>`;
}

/** The rows of what HA's Energy settings name, and the names of what they do not. */
export function describeEnergySetup(setup, currency) {
  const flows = (list, kind) => `<ul>${list.map((f) => `<li><code>${escapeHtml(f.stat)}</code> <span class="price">· ${escapeHtml(priceText(f, kind, currency))}</span></li>`).join("")}</ul>`;
  const stats = (list) => `<ul>${list.map((stat) => `<li><code>${escapeHtml(stat)}</code></li>`).join("")}</ul>`;
  const parts = [
    ["grid-import", "Grid import", setup.grid_import.length, () => flows(setup.grid_import, "import")],
    ["grid-export", "Grid export", setup.grid_export.length, () => flows(setup.grid_export, "export")],
    ["solar", "Solar", setup.solar.length, () => stats(setup.solar)],
    ["battery", "Battery", setup.battery.length, () => `<ul>${setup.battery.map((b) => `<li>out <code>${escapeHtml(b.stat_out)}</code> · in <code>${escapeHtml(b.stat_in)}</code></li>`).join("")}</ul>`],
    ["gas", "Gas", setup.gas.length, () => flows(setup.gas, "gas")],
    ["water", "Water", setup.water.length, () => flows(setup.water, "water")],
    ["home-power", "Home power", setup.home_power ? 1 : 0, () => stats([setup.home_power])],
    ["devices", "Devices", setup.devices.length, () => deviceList(setup.devices)],
    ["water-devices", "Water devices", setup.water_devices.length, () => deviceList(setup.water_devices)],
  ];
  return {
    rows: parts.filter((p) => p[2]).map(([id, name, , body]) => `<dt>${name}</dt><dd id="es-${id}">${body()}</dd>`).join(""),
    missing: parts.filter((p) => !p[2]).map((p) => p[1].toLowerCase()),
  };
}

export async function render(main, { toast }) {
  main.innerHTML = `
    <h1>Settings</h1>
    <section class="panel" aria-labelledby="st-title">
      <div class="panel-head"><h2 id="st-title">Status</h2><button type="button" id="st-refresh">Refresh</button></div>
      <div id="st-body" aria-live="polite"><p class="notice loading">Checking…</p></div>
    </section>
    <section class="panel" aria-labelledby="ha-title">
      <h2 id="ha-title">Home Assistant</h2>
      <form id="ha-form" class="stack" autocomplete="off">
        <div class="field"><label for="ha-url">URL</label><input id="ha-url" type="url" required placeholder="http://homeassistant.local:8123" inputmode="url" aria-describedby="ha-url-error"><p class="hint field-error" id="ha-url-error" role="alert" hidden></p></div>
        <div class="field"><label for="ha-token">Long-lived access token</label><input id="ha-token" type="password" required autocomplete="new-password" placeholder="Paste a token from your HA profile" aria-describedby="ha-token-error ha-token-hint"><p class="hint field-error" id="ha-token-error" role="alert" hidden></p><p class="hint" id="ha-token-hint"></p></div>
        <div class="row"><button type="submit" class="primary" id="ha-save">Test and save</button><span id="ha-result" role="status" aria-live="polite"></span></div>
      </form>
    </section>
    <section class="panel" aria-labelledby="es-title">
      <div class="panel-head"><h2 id="es-title">Energy settings</h2><button type="button" id="es-refresh">Read again</button></div>
      <p class="muted">What Home Assistant's Energy dashboard names: the overview is made of these. The companion reads them at each reconciliation and keeps them.</p>
      <p id="es-status" class="hint" role="status" aria-live="polite"></p>
      <div id="es-body" aria-live="polite"><p class="notice loading">Reading…</p></div>
    </section>
    <section class="panel" aria-labelledby="disc-title">
      <h2 id="disc-title">Entities</h2>
      <p class="muted">Find the energy, power, gas and water sensors in Home Assistant, then choose which ones Energy Tracker records.</p>
      <div class="row"><button type="button" id="discover">Discover entities</button><span id="disc-status" role="status" aria-live="polite"></span></div>
      <div id="disc-list" hidden>
        <div class="row wrap">
          <div class="field grow"><label for="disc-filter">Filter</label><input id="disc-filter" type="search" placeholder="Name, entity id, unit or class"></div>
          <button type="button" id="disc-all">Select shown</button>
          <button type="button" id="disc-none">Clear shown</button>
        </div>
        <fieldset class="entity-list"><legend class="visually-hidden">Entities to track</legend><ul id="disc-items"></ul></fieldset>
        <div class="row"><button type="button" class="primary" id="track">Track 0 entities</button><span id="track-status" role="status" aria-live="polite"></span></div>
      </div>
    </section>
    <section class="panel" aria-labelledby="tok-title">
      <h2 id="tok-title">API access</h2>
      <p class="muted">Only needed when the companion is started with <code>ENERGY_TRACKER_API_TOKEN</code>. The token is kept in this browser only.</p>
      <form id="tok-form" class="row wrap">
        <div class="field grow"><label for="api-token">API token</label><input id="api-token" type="password" autocomplete="off"></div>
        <button type="submit">Save in this browser</button>
        <button type="button" id="tok-clear">Forget</button>
      </form>
    </section>`;

  const $ = (s) => main.querySelector(s);
  let disposed = false;
  let candidates = [];
  const selected = new Set();

  async function showStatus() {
    const body = $("#st-body");
    try {
      const status = await loadStatus(true);
      if (disposed) return;
      body.innerHTML = `<ul class="status-list">${describeStatus(status).map((s) => `
        <li><span class="dot" data-state="${s.word[1]}" aria-hidden="true"></span><strong>${escapeHtml(s.name)}</strong>
        <span class="state" data-state="${s.word[1]}">${escapeHtml(s.word[0])}</span><span class="muted">${escapeHtml(s.detail)}</span></li>`).join("")}</ul>`;
      const down = describeStatus(status).filter((s) => s.word[1] === "down" && s.name !== "Home Assistant").map((s) => s.name);
      if (down.length) body.insertAdjacentHTML("beforeend", `<p class="notice error">${escapeHtml(down.join(", "))} ${down.length === 1 ? "is" : "are"} unavailable: start ${down.length === 1 ? "it" : "them"} (with <code>scripts/services start</code> in a development checkout), then press Refresh.</p>`);
    } catch (err) {
      if (disposed) return;
      body.innerHTML = `<p class="notice error">The companion's status could not be read (${escapeHtml(err.message)}). ${escapeHtml(err instanceof ApiError ? err.advice : "")}</p>`;
    }
  }

  function showEnergyError(err) {
    const body = $("#es-body");
    if (err instanceof ApiError && err.status === 409) {
      body.innerHTML = `<p class="notice warn" id="es-error">${escapeHtml(err.message)}. ${err.code === "home_assistant_not_configured" ? "Enter its URL and a token above: the companion then reads its Energy settings." : ""}</p>`;
    } else {
      body.innerHTML = `<p class="notice error" id="es-error">Home Assistant's Energy settings could not be read (${escapeHtml(err.message)}). ${escapeHtml(err instanceof ApiError ? err.advice : "")}</p>`;
    }
  }

  function showEnergy(answer) {
    const body = $("#es-body");
    const read = toTime(answer.synced_at);
    const from = answer.home_assistant_url ? ` from <code>${escapeHtml(answer.home_assistant_url)}</code>` : "";
    const when = `<p id="es-synced">Read${from} <time datetime="${escapeHtml(answer.synced_at)}" title="${escapeHtml(formatDateTime(read))}">${escapeHtml(formatDateTime(read))}</time> (${escapeHtml(formatAge(read))})${answer.currency ? ` · currency ${escapeHtml(answer.currency)}` : ""}.</p>`;
    if (!answer.configured) {
      body.innerHTML = when + `<p class="notice empty" id="es-empty">Home Assistant's Energy dashboard has never been set up. Set it up in Home Assistant under Settings → Dashboards → Energy, then press “Read again”.</p>`;
      return;
    }
    const { rows, missing } = describeEnergySetup(answer.setup, answer.currency);
    body.innerHTML = when + (rows
      ? `<dl class="energy-setup">${rows}</dl>`
      : `<p class="notice empty" id="es-empty">The Energy settings name no meter yet. Add them in Home Assistant under Settings → Dashboards → Energy, then press “Read again”.</p>`)
      + (rows && missing.length ? `<p class="hint" id="es-missing">Not named: ${escapeHtml(missing.join(", "))}.</p>` : "");
  }

  async function loadEnergy(refresh = false) {
    const button = $("#es-refresh");
    const status = $("#es-status");
    button.disabled = true;
    if (refresh) status.textContent = "Asking Home Assistant…";
    try {
      const answer = await api.energySettings({ refresh });
      if (disposed) return;
      showEnergy(answer);
      status.textContent = refresh ? "Read from Home Assistant just now." : "";
      if (refresh) toast("Energy settings read from Home Assistant.");
    } catch (err) {
      if (disposed) return;
      status.textContent = refresh ? "Not read." : "";
      showEnergyError(err);
    } finally {
      button.disabled = false;
    }
  }

  async function showSettings() {
    try {
      const settings = await api.settings();
      if (disposed) return;
      const ha = settings.home_assistant || settings.homeAssistant || settings;
      const url = ha.url || ha.ha_url || "";
      if (url) $("#ha-url").value = url;
      const tokenSet = Boolean(ha.token_set ?? ha.has_token ?? ha.ha_token_set ?? settings.ha_token_set);
      $("#ha-token-hint").textContent = tokenSet ? "A token is saved. It is never shown; enter a new one to replace it." : "No token saved yet.";
      $("#ha-token").required = !tokenSet;
      $("#ha-token").placeholder = tokenSet ? "•••••••• (saved; leave empty to keep)" : "Paste a token from your HA profile";
    } catch (err) {
      if (disposed) return;
      $("#ha-token-hint").textContent = `The saved settings could not be read (${err.message}).`;
    }
  }

  function renderCandidates() {
    const q = $("#disc-filter").value.trim().toLowerCase();
    const shown = candidates.filter((e) => !q || [e.friendly_name, e.entity_id, e.unit, e.device_class].some((v) => String(v || "").toLowerCase().includes(q)));
    $("#disc-items").innerHTML = shown.length ? shown.map((e, i) => `
      <li><input type="checkbox" id="ent-${i}" value="${escapeHtml(e.entity_id)}" ${selected.has(e.entity_id) ? "checked" : ""}>
        <label for="ent-${i}"><span class="ename">${escapeHtml(e.friendly_name)}</span>
        <code class="eid">${escapeHtml(e.entity_id)}</code>
        <span class="emeta">${escapeHtml(e.device_class || "no class")} · ${escapeHtml(e.unit || "no unit")} · last ${escapeHtml(e.state === null ? "–" : isNaN(Number(e.state)) ? String(e.state) : formatNumber(Number(e.state)))}</span></label></li>`).join("")
      : `<li class="muted">No entity matches “${escapeHtml(q)}”.</li>`;
    $("#track").textContent = `Track ${formatNumber(selected.size, 0)} ${selected.size === 1 ? "entity" : "entities"}`;
    return shown;
  }

  async function loadKnown() {
    // Entities discovered earlier are listed straight away, with their tracked state.
    try {
      const known = await api.entities();
      if (disposed || !known.length) return;
      candidates = known;
      selected.clear();
      for (const e of known) if (e.is_tracked) selected.add(e.entity_id);
      $("#disc-list").hidden = false;
      $("#disc-status").textContent = `${formatNumber(known.length, 0)} known entities, ${formatNumber(selected.size, 0)} tracked.`;
      renderCandidates();
    } catch { /* shown by the status panel */ }
  }

  $("#st-refresh").addEventListener("click", showStatus);
  $("#es-refresh").addEventListener("click", () => loadEnergy(true));
  // The connection test names the input to fix (error.field: ha_url or ha_token).
  function showFieldError(field, message) {
    for (const name of ["ha-url", "ha-token"]) {
      const own = field && field.replace("_", "-") === name;
      const hint = $(`#${name}-error`);
      hint.textContent = own ? message : "";
      hint.hidden = !own;
      if (own) $(`#${name}`).setAttribute("aria-invalid", "true");
      else $(`#${name}`).removeAttribute("aria-invalid");
    }
  }
  for (const name of ["ha-url", "ha-token"]) {
    $(`#${name}`).addEventListener("input", () => {
      $(`#${name}`).removeAttribute("aria-invalid");
      $(`#${name}-error`).hidden = true;
    });
  }
  $("#ha-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const url = $("#ha-url").value.trim();
    const token = $("#ha-token").value.trim();
    const result = $("#ha-result");
    $("#ha-save").disabled = true;
    showFieldError(null, "");
    result.textContent = "Testing the connection…";
    result.dataset.state = "";
    try {
      const answer = await api.saveHomeAssistant(url, token || undefined);
      result.textContent = (answer && answer.message) || "Connected and saved.";
      result.dataset.state = "ok";
      $("#ha-token").value = "";
      toast("Home Assistant settings saved.");
      await Promise.all([showSettings(), showStatus(), loadEnergy()]);
    } catch (err) {
      const field = err instanceof ApiError && err.details && err.details.error ? err.details.error.field : null;
      if (field) {
        // The message says what to do; it stands at the field it is about.
        showFieldError(field, err.message);
        result.textContent = "Not saved.";
        $(`#${field.replace("_", "-")}`).focus();
      } else {
        result.textContent = `Not saved: ${err.message.replace(/\.$/, "")}. ${err instanceof ApiError && err.status < 500 ? "Check the URL and that the token is a valid long-lived access token." : "Check that Home Assistant is reachable from the companion."}`;
      }
      result.dataset.state = "down";
    } finally {
      $("#ha-save").disabled = false;
    }
  });
  $("#discover").addEventListener("click", async () => {
    const status = $("#disc-status");
    $("#discover").disabled = true;
    status.textContent = "Asking Home Assistant…";
    try {
      const found = await api.discover();
      const known = await api.entities().catch(() => []);
      const tracked = new Set(known.filter((k) => k.is_tracked).map((k) => k.entity_id));
      const byId = new Map(known.map((k) => [k.entity_id, k]));
      for (const f of found) byId.set(f.entity_id, { ...byId.get(f.entity_id), ...f, is_tracked: tracked.has(f.entity_id) });
      candidates = [...byId.values()].sort((a, b) => String(a.friendly_name).localeCompare(String(b.friendly_name)));
      selected.clear();
      for (const id of tracked) selected.add(id);
      status.textContent = found.length ? `Found ${formatNumber(found.length, 0)} energy-related entities.` : "Home Assistant has no energy, power, gas or water sensors. Add some in HA, then discover again.";
      $("#disc-list").hidden = candidates.length === 0;
      renderCandidates();
    } catch (err) {
      status.textContent = `Discovery failed: ${err.message}. ${err instanceof ApiError && (err.status === 503 || err.status === 502 || err.status === 409) ? "Save a working Home Assistant URL and token above first." : err instanceof ApiError ? err.advice : ""}`;
    } finally {
      $("#discover").disabled = false;
    }
  });
  $("#disc-filter").addEventListener("input", renderCandidates);
  $("#disc-items").addEventListener("change", (e) => {
    const box = e.target;
    if (box.type !== "checkbox") return;
    if (box.checked) selected.add(box.value); else selected.delete(box.value);
    $("#track").textContent = `Track ${formatNumber(selected.size, 0)} ${selected.size === 1 ? "entity" : "entities"}`;
  });
  for (const [id, on] of [["#disc-all", true], ["#disc-none", false]]) {
    $(id).addEventListener("click", () => {
      for (const box of main.querySelectorAll("#disc-items input[type=checkbox]")) {
        if (on) selected.add(box.value); else selected.delete(box.value);
      }
      renderCandidates();
    });
  }
  $("#track").addEventListener("click", async () => {
    const status = $("#track-status");
    $("#track").disabled = true;
    status.textContent = "Saving…";
    try {
      await api.track([...selected]);
      status.textContent = `Now tracking ${formatNumber(selected.size, 0)} ${selected.size === 1 ? "entity" : "entities"}.`;
      toast("Tracked entities saved.");
      await loadKnown();
    } catch (err) {
      status.textContent = `Not saved: ${err.message}. ${err instanceof ApiError ? err.advice : ""}`;
    } finally {
      $("#track").disabled = false;
    }
  });
  $("#api-token").value = getToken() ? "" : "";
  $("#api-token").placeholder = getToken() ? "•••••••• (saved in this browser)" : "Not set";
  $("#tok-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setToken($("#api-token").value.trim());
    $("#api-token").value = "";
    $("#api-token").placeholder = getToken() ? "•••••••• (saved in this browser)" : "Not set";
    toast(getToken() ? "API token saved in this browser." : "API token removed.");
    showStatus();
  });
  $("#tok-clear").addEventListener("click", () => { setToken(""); $("#api-token").placeholder = "Not set"; toast("API token removed."); });

  await Promise.all([showStatus(), showSettings(), loadKnown(), loadEnergy()]);
  return () => { disposed = true; };
}
