// Numbers and times as operators read them: thousands separators, rates as %, UTC times.
// Every formatter answers DASH for a missing figure, so a null never shows as "null".

export const DASH = '—';
const LOCALE = 'en-US';
const INTEGER = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const PERCENT_VALUE = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });

export function missing(value) {
  return value === null || value === undefined || (typeof value === 'number' && !isFinite(value));
}

export function fmtInt(value) {
  return missing(value) ? DASH : INTEGER.format(value);
}

// A ratio in [0, 1] as a percentage: 0.0123 -> "1.23%"; small rates keep 2 significant digits.
export function fmtRate(ratio) {
  if (missing(ratio)) return DASH;
  const percent = ratio * 100;
  if (percent === 0) return '0%';
  const digits = Math.abs(percent) >= 10 ? 1 : Math.abs(percent) >= 0.1 ? 2 : 3;
  return `${new Intl.NumberFormat(LOCALE, { maximumFractionDigits: digits }).format(percent)}%`;
}

// A value already in percent (a canary's traffic share): 10 -> "10%".
export function fmtPercent(value) {
  return missing(value) ? DASH : `${PERCENT_VALUE.format(value)}%`;
}

export function fmtNum(value, significant = 4) {
  if (missing(value)) return DASH;
  if (typeof value !== 'number') return String(value);
  if (value !== 0 && Math.abs(value) < 1e-4) return value.toExponential(Math.max(0, significant - 2));
  if (Math.abs(value) >= 10 ** significant) return INTEGER.format(value);
  return new Intl.NumberFormat(LOCALE, { maximumSignificantDigits: significant }).format(value);
}

export function fmtMs(value) {
  return missing(value) ? DASH : `${fmtNum(value, 3)} ms`;
}

function toDate(value) {
  if (missing(value) || value === '') return null;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return isNaN(date.getTime()) ? null : date;
}

// ISO text or epoch seconds -> "2024-05-01 12:34:56" (UTC).
export function fmtTime(value) {
  const date = toDate(value);
  return date ? date.toISOString().slice(0, 19).replace('T', ' ') : DASH;
}

export function fmtAge(value, now = Date.now()) {
  const date = toDate(value);
  if (!date) return DASH;
  const seconds = Math.round((now - date.getTime()) / 1000);
  const future = seconds < 0;
  const text = fmtDuration(Math.abs(seconds));
  return future ? `in ${text}` : `${text} ago`;
}

export function fmtDuration(seconds) {
  if (missing(seconds)) return DASH;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${fmtNum(seconds / 3600, 2)} h`;
  return `${fmtNum(seconds / 86400, 2)} d`;
}

export function epoch(value) {
  const date = toDate(value);
  return date ? date.getTime() / 1000 : null;
}

export function orDash(value) {
  return missing(value) || value === '' ? DASH : String(value);
}
