// @ts-check
/*
 * Pure helpers of the dashboard's Traffic page: the Prometheus text format read back into samples,
 * the request counters summed per route, and rates between two polls. No DOM, no IO: the unit
 * test (test/unit/dashboard/ui.test.ts) runs them in Node.
 */

/** @typedef {{ name: string, labels: Record<string, string>, value: number }} Sample */

/**
 * @typedef {object} RouteCounters
 * @property {string} route     the `route` label ("host path pathType" or a backend id), else the host
 * @property {string} host      the `host` label when there is one
 * @property {number} requests  every request counted for it
 * @property {number} errors    requests answered 5xx
 * @property {number} clientErrors requests answered 4xx
 */

/**
 * @typedef {object} RouteRates
 * @property {string} route
 * @property {string} host
 * @property {number} requests      total so far
 * @property {number} errors        5xx so far
 * @property {number} requestRate   requests per second between the two polls
 * @property {number} errorRate     5xx per second between the two polls
 */

/** The request counter the dashboard reads (M's metric, issue 11 item 5). */
export const REQUESTS_METRIC = 'passerelle_requests_total';

/**
 * One label set `{a="x",b="y"}` starting at `text[start] === '{'`.
 * @param {string} text
 * @param {number} start
 * @returns {{ labels: Record<string, string>, end: number }} `end`: the index after `}`
 */
function parseLabels(text, start) {
  /** @type {Record<string, string>} */
  const labels = {};
  let i = start + 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq === -1 || text[eq + 1] !== '"') throw new Error(`bad label at ${i}`);
    const name = text.slice(i, eq).trim();
    let value = '';
    i = eq + 2;
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const n = text[i + 1];
        value += n === 'n' ? '\n' : (n ?? '');
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
  }
}

/**
 * Reads the Prometheus text exposition format (what `/metrics` answers). Comments, blank lines and
 * lines that do not parse are skipped.
 * @param {string} text
 * @returns {Sample[]}
 */
export function parsePrometheus(text) {
  /** @type {Sample[]} */
  const out = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
      if (!m) continue;
      const name = m[0];
      let rest = line.slice(name.length);
      /** @type {Record<string, string>} */
      let labels = {};
      if (rest.startsWith('{')) {
        const parsed = parseLabels(rest, 0);
        labels = parsed.labels;
        rest = rest.slice(parsed.end);
      }
      const field = rest.trim().split(/\s+/)[0] ?? '';
      const value = field === '+Inf' ? Infinity : field === '-Inf' ? -Infinity : Number(field);
      if (field === '' || Number.isNaN(value) && field !== 'NaN') continue;
      out.push({ name, labels, value });
    } catch {
      // a line we cannot read is left out; the rest of the page still works
    }
  }
  return out;
}

/**
 * The status class of a sample: from a `code`/`status` label (`502`) or a class label (`5xx`).
 * @param {Record<string, string>} labels
 * @returns {string} `"5"`, `"4"`, ... or `""` when unknown
 */
export function statusClass(labels) {
  for (const key of ['code', 'status', 'status_code', 'status_class', 'code_class', 'class']) {
    const v = labels[key];
    if (v !== undefined && /^[1-5]/.test(v)) return v.charAt(0);
  }
  return '';
}

/**
 * Sums the request counter per route (the `route` label, else the host, else the entry point).
 * @param {readonly Sample[]} samples
 * @param {string} [metric]
 * @returns {Map<string, RouteCounters>}
 */
export function countersByRoute(samples, metric = REQUESTS_METRIC) {
  /** @type {Map<string, RouteCounters>} */
  const out = new Map();
  for (const s of samples) {
    if (s.name !== metric || !Number.isFinite(s.value)) continue;
    const host = s.labels['host'] ?? '';
    const route = s.labels['route'] || host || s.labels['entrypoint'] || s.labels['entry_point'] || '(unrouted)';
    let c = out.get(route);
    if (c === undefined) {
      c = { route, host, requests: 0, errors: 0, clientErrors: 0 };
      out.set(route, c);
    }
    if (c.host === '' && host !== '') c.host = host;
    c.requests += s.value;
    const cls = statusClass(s.labels);
    if (cls === '5') c.errors += s.value;
    if (cls === '4') c.clientErrors += s.value;
  }
  return out;
}

/**
 * Rates between two polls of the counters; a counter that went down (the process restarted)
 * counts from zero. Sorted by request rate, then by total, then by name.
 * @param {Map<string, RouteCounters> | undefined} previous
 * @param {Map<string, RouteCounters>} current
 * @param {number} seconds  time between the polls
 * @returns {RouteRates[]}
 */
export function ratesBetween(previous, current, seconds) {
  /** @type {RouteRates[]} */
  const out = [];
  for (const c of current.values()) {
    const p = previous?.get(c.route);
    const dr = p === undefined || c.requests < p.requests ? (previous === undefined ? 0 : c.requests) : c.requests - p.requests;
    const de = p === undefined || c.errors < p.errors ? (previous === undefined ? 0 : c.errors) : c.errors - p.errors;
    out.push({
      route: c.route,
      host: c.host,
      requests: c.requests,
      errors: c.errors,
      requestRate: seconds > 0 ? dr / seconds : 0,
      errorRate: seconds > 0 ? de / seconds : 0,
    });
  }
  return out.sort((a, b) => b.requestRate - a.requestRate || b.requests - a.requests || a.route.localeCompare(b.route));
}
