// @ts-check
/* Pure formatting helpers of the dashboard (no DOM): durations, countdowns, rates. */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A duration in words, coarse: `45 s`, `12 min`, `5 h 3 min`, `3 d 4 h`, `412 d`.
 * @param {number} ms  a length of time, >= 0
 * @returns {string}
 */
export function duration(ms) {
  const t = Math.abs(ms);
  if (t < MINUTE) return `${Math.round(t / 1000)} s`;
  if (t < HOUR) return `${Math.floor(t / MINUTE)} min`;
  if (t < DAY) {
    const h = Math.floor(t / HOUR);
    const m = Math.floor((t % HOUR) / MINUTE);
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  }
  const d = Math.floor(t / DAY);
  if (d >= 30) return `${d} d`;
  const h = Math.floor((t % DAY) / HOUR);
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

/**
 * How far a time is from now: `in 3 d 4 h` or `5 min ago`.
 * @param {string | number | Date} when
 * @param {number} now  ms since the epoch
 * @returns {string}  `""` when `when` is not a date
 */
export function relative(when, now) {
  const t = when instanceof Date ? when.getTime() : typeof when === 'number' ? when : Date.parse(when);
  if (Number.isNaN(t)) return '';
  const d = t - now;
  return d >= 0 ? `in ${duration(d)}` : `${duration(d)} ago`;
}

/**
 * @typedef {object} Expiry
 * @property {string} text   `expires in 3 d 4 h`, `expired 2 d ago`
 * @property {'ok' | 'soon' | 'urgent' | 'expired' | 'unknown'} level  ok > 30 d, soon <= 30 d, urgent <= 7 d
 * @property {number} days   whole days left (negative once expired)
 */

/**
 * The expiry countdown of a certificate.
 * @param {string | undefined} notAfter  ISO date
 * @param {number} now
 * @returns {Expiry}
 */
export function expiry(notAfter, now) {
  const t = notAfter === undefined ? NaN : Date.parse(notAfter);
  if (Number.isNaN(t)) return { text: 'unknown', level: 'unknown', days: NaN };
  const left = t - now;
  const days = Math.floor(left / DAY);
  if (left <= 0) return { text: `expired ${duration(left)} ago`, level: 'expired', days };
  return { text: `expires in ${duration(left)}`, level: left <= 7 * DAY ? 'urgent' : left <= 30 * DAY ? 'soon' : 'ok', days };
}

/**
 * A rate per second, short: `0`, `0.25/s`, `12/s`, `1.2k/s`.
 * @param {number} perSecond
 * @returns {string}
 */
export function rate(perSecond) {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '0/s';
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k/s`;
  if (perSecond >= 10) return `${Math.round(perSecond)}/s`;
  return `${perSecond.toFixed(2).replace(/\.?0+$/, '')}/s`;
}

/**
 * A date as `2026-11-23 08:16 UTC` (stable whatever the browser's locale).
 * @param {string | number | Date | undefined} when
 * @returns {string}
 */
export function utc(when) {
  if (when === undefined) return '';
  const d = when instanceof Date ? when : new Date(when);
  if (Number.isNaN(d.getTime())) return String(when);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
