// Locale-aware formatting and Home Assistant's time zone (days are HA's days).

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
// HA's zone as the companion reported it; null while it is not known.
let homeZone = null;

/** Use HA's zone (null: it is not known, e.g. the companion never reached HA). */
export function setTimeZone(tz) {
  if (!tz) { homeZone = null; return; }
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
    homeZone = tz;
  } catch { /* a zone this browser does not know: treated as not known */ }
}
/** HA's time zone, which alone decides what a day is; null while not known. */
export function homeTimeZone() { return homeZone; }
/** The zone times are shown in: HA's, else the browser's (then no day is computed). */
export function getTimeZone() { return homeZone || browserZone; }

const numberFormats = new Map();
export function formatNumber(value, maxDigits) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const digits = maxDigits ?? (Math.abs(value) >= 100 ? 1 : Math.abs(value) >= 1 ? 2 : 3);
  let fmt = numberFormats.get(digits);
  if (!fmt) {
    fmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: digits });
    numberFormats.set(digits, fmt);
  }
  return fmt.format(value);
}

export function formatValue(value, unit, maxDigits) {
  const n = formatNumber(value, maxDigits);
  return unit && n !== "–" ? `${n} ${unit}` : n;
}

function dtf(options) {
  return new Intl.DateTimeFormat(undefined, { timeZone: getTimeZone(), ...options });
}

export function formatDateTime(ms) {
  if (ms === null || ms === undefined) return "–";
  return dtf({ dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
}
export function formatDateTimeSeconds(ms) {
  if (ms === null || ms === undefined) return "–";
  return dtf({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(ms));
}
/** A calendar date "YYYY-MM-DD" (already a day in HA's zone) shown in the user's locale. */
export function formatDay(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  if (!y) return isoDate;
  return new Intl.DateTimeFormat(undefined, { timeZone: "UTC", weekday: "short", month: "short", day: "numeric" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

export function formatAge(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return "never";
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  if (seconds < 60) return rtf.format(-seconds, "second");
  if (seconds < 3600) return rtf.format(-Math.round(seconds / 60), "minute");
  if (seconds < 86400) return rtf.format(-Math.round(seconds / 3600), "hour");
  return rtf.format(-Math.round(seconds / 86400), "day");
}

function zonedParts(ms) {
  const parts = dtf({ hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { year: get("year"), month: get("month"), day: get("day"), hour: get("hour"), minute: get("minute"), second: get("second") };
}

/** "YYYY-MM-DD" of the instant in HA's time zone. */
export function zonedDate(ms) {
  const p = zonedParts(ms);
  return `${p.year}-${String(p.month).padStart(2, "0")}-${String(p.day).padStart(2, "0")}`;
}

/** The instant (ms) of a wall-clock time in HA's time zone. */
export function zonedInstant(y, m, d, h = 0, mi = 0, sec = 0) {
  const target = Date.UTC(y, m - 1, d, h, mi, sec);
  let guess = target;
  for (let i = 0; i < 3; i++) {
    const p = zonedParts(guess);
    const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    const diff = asUtc - target;
    if (diff === 0) break;
    guess -= diff;
  }
  return guess;
}

/** The instant (ms) of local midnight in HA's time zone at the start of `isoDate`. */
export function zonedMidnight(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return zonedInstant(y, m, d);
}

/** "YYYY-MM-DDTHH:MM:SS" in HA's time zone, for <input type="datetime-local">. */
export function toZonedInput(ms) {
  const p = zonedParts(ms);
  const two = (n) => String(n).padStart(2, "0");
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}:${two(p.second)}`;
}

/** The instant of a datetime-local value read as HA's wall-clock time (null if invalid). */
export function fromZonedInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || "");
  if (!m) return null;
  return zonedInstant(+m[1], +m[2], +m[3], +m[4], +m[5], +(m[6] || 0));
}

/** Shift an ISO date by whole days. */
export function addDays(isoDate, days) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return t.toISOString().slice(0, 10);
}

export function isoUtc(ms) { return new Date(ms).toISOString(); }

/** Offset (ms) of HA's zone from UTC at an instant: used to put chart axes in HA time. */
export function zoneOffset(ms) {
  const p = zonedParts(ms);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const moneyFormats = new Map();
/** An amount in HA's currency (ISO 4217); a plain number when none is known. */
export function formatMoney(value, currency) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (!currency) return formatNumber(value, 2);
  let fmt = moneyFormats.get(currency);
  if (!fmt) {
    try {
      fmt = new Intl.NumberFormat(undefined, { style: "currency", currency });
    } catch {
      fmt = { format: (v) => `${formatNumber(v, 2)} ${currency}` };
    }
    moneyFormats.set(currency, fmt);
  }
  return fmt.format(value);
}

const percentFormat = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
/** A share (0.123 → "12.3%" in en-US, "12,3 %" in de-DE). */
export function formatPercent(share) {
  if (share === null || share === undefined || !Number.isFinite(share)) return "–";
  return percentFormat.format(share);
}

/** A calendar date "YYYY-MM-DD" with the given Intl options (the date is not shifted). */
export function formatDate(isoDate, options) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { timeZone: "UTC", ...options }).format(new Date(Date.UTC(y, m - 1, d)));
}

/** Two calendar dates (inclusive) as one range, "Oct 12 – 18, 2026" in en-US. */
export function formatDateRange(first, last, options = { year: "numeric", month: "short", day: "numeric" }) {
  const at = (iso) => { const [y, m, d] = iso.split("-").map(Number); return new Date(Date.UTC(y, m - 1, d)); };
  const fmt = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", ...options });
  if (first === last) return fmt.format(at(first));
  return fmt.formatRange ? fmt.formatRange(at(first), at(last)) : `${fmt.format(at(first))} – ${fmt.format(at(last))}`;
}
