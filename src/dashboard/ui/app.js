// @ts-check
/*
 * The Passerelle dashboard: one page, one section per tab (#overview, #routers, ...), filled from the
 * read-only JSON API of src/dashboard/server.ts (field names: docs/api.md) and from /metrics for the
 * live rates. Plain DOM, no framework, nothing fetched from outside this server. Every value from the
 * cluster (host names, paths, messages) goes in as text, never as HTML.
 */
import { countersByRoute, parsePrometheus, ratesBetween } from './metrics.js';
import { expiry, rate, relative, utc } from './format.js';

/** @typedef {import('./metrics.js').RouteCounters} RouteCounters */
/** @typedef {import('./metrics.js').RouteRates} RouteRates */

/**
 * The API's shapes as the dashboard reads them (docs/api.md, src/dashboard/api.ts). Every field is
 * read as optional or null: a field the server leaves out shows as empty, never breaks a page.
 * @typedef {{ kind?: string, namespace?: string, name?: string }} ObjectRef
 * @typedef {{ file?: string, line?: number | null }} SourceLocation
 * @typedef {{ kind?: string, entryPoint?: string, scheme?: string, port?: number, status?: number, realm?: string, users?: string[] }} MiddlewareInfo
 * @typedef {{ name?: string, address?: string | { host?: string, port?: number }, tls?: boolean, middlewares?: (string | MiddlewareInfo)[] }} EntryPointInfo
 * @typedef {{ at?: string | null, hash?: string | null, durationMs?: number | null, error?: string | null, errorAt?: string | null, applies?: number, failures?: number }} ApplyInfo
 * @typedef {{ mode?: string, version?: string, entryPoints?: EntryPointInfo[], counts?: Record<string, number>, lastApply?: ApplyInfo }} Overview
 * @typedef {{ path?: string, pathType?: string, conditions?: string | null, backend?: string, source?: ObjectRef | string, field?: string }} RouteInfo
 * @typedef {{ host?: string, kind?: string, address?: string | null, entryPoint?: string | null, entryPoints?: string[] | null, certificate?: string | null, routes?: RouteInfo[], sources?: ObjectRef[] }} RouterInfo
 * @typedef {{ address?: string, port?: number, weight?: number, name?: string | null, state?: string, live?: string | null }} EndpointInfo
 * @typedef {{ id?: string, namespace?: string, service?: string, servicePort?: number | string, endpoints?: EndpointInfo[], usedBy?: string[] }} BackendInfo
 * @typedef {{ detail?: string, cause?: string, type?: string | null, at?: string }} AcmeProblem
 * @typedef {{ state?: string, detail?: string | null, renewAt?: string | null, nextAttemptAt?: string | null, lastError?: AcmeProblem | null, requestedBy?: ObjectRef[] }} AcmeInfo
 * @typedef {{ id?: string, source?: string, object?: ObjectRef | null, names?: string[], subject?: string | null, issuer?: string | null, notAfter?: string | null, expiresInSeconds?: number | null, served?: boolean, acme?: AcmeInfo | null }} CertificateInfo
 * @typedef {{ domain?: string, used?: number, limit?: number, left?: number }} BudgetInfo
 * @typedef {{ storage?: string, caServer?: string, leading?: boolean, budget?: BudgetInfo[] }} AcmeSummary
 * @typedef {{ certificates?: CertificateInfo[], acme?: AcmeSummary | null }} CertificatesInfo
 * @typedef {{ severity?: string, code?: string, message?: string, object?: ObjectRef | null, field?: string | null, location?: SourceLocation | null }} DiagnosticInfo
 * @typedef {{ status?: number, entryPoint?: string | null, virtualHost?: string | null, route?: { pathType?: string, path?: string, source?: string } | null, backend?: string | null, lines?: string[], error?: { code?: string, message?: string } }} ExplainInfo
 */

/** @typedef {'overview' | 'routers' | 'backends' | 'certificates' | 'diagnostics' | 'traffic' | 'explain'} Page */

/** @type {readonly Page[]} */
const PAGES = ['overview', 'routers', 'backends', 'certificates', 'diagnostics', 'traffic', 'explain'];
/** How often the open page and the rates are refreshed. */
const POLL_MS = 2000;
/** The API and /metrics relative to /dashboard/, so the dashboard also works behind a path prefix. */
const API = new URL('../', document.baseURI);

/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * Builds an element; strings become text nodes (never parsed as HTML).
 * @param {string} tag
 * @param {Record<string, string | undefined> | null} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) if (v !== undefined) e.setAttribute(k, v);
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
  }
  return e;
}

/**
 * A table, or a line saying it is empty.
 * @param {string[]} head
 * @param {Child[][]} rows
 * @param {string} empty
 * @param {string} [cls]
 */
function table(head, rows, empty, cls) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    { class: cls },
    h('thead', null, h('tr', null, head.map((c) => h('th', null, c)))),
    h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c))))),
  );
}

/** @param {string} text @param {string} kind */
function badge(text, kind) {
  return h('span', { class: `badge ${kind}` }, text);
}

/** @param {ObjectRef | string | null | undefined} ref */
function refText(ref) {
  if (ref === undefined || ref === null) return '';
  if (typeof ref === 'string') return ref;
  const name = ref.namespace ? `${ref.namespace}/${ref.name ?? ''}` : ref.name ?? '';
  return ref.kind ? `${ref.kind} ${name}` : name;
}

/** @param {EntryPointInfo['address']} a */
function addressText(a) {
  if (a === undefined) return '';
  if (typeof a === 'string') return a;
  return `${a.host ?? ''}:${a.port ?? ''}`;
}

/**
 * The array at `key` of an answer, or the answer itself when it is an array.
 * @template T
 * @param {unknown} data
 * @param {string} key
 * @returns {T[]}
 */
function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data !== null && typeof data === 'object') {
    const v = /** @type {Record<string, unknown>} */ (data)[key];
    if (Array.isArray(v)) return v;
  }
  return [];
}

/**
 * GETs a JSON document of the API.
 * @param {string} path  e.g. `api/overview`
 * @returns {Promise<unknown>}
 */
async function getJson(path) {
  const res = await fetch(new URL(path, API), { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return /** @type {unknown} */ (await res.json());
}

// --- state -------------------------------------------------------------------------------------

const state = {
  /** @type {Page} */
  page: 'overview',
  /** The last rates per route (Traffic page and the Routers page's columns). @type {RouteRates[]} */
  rates: [],
  /** @type {Map<string, RouteCounters> | undefined} */
  lastCounters: undefined,
  lastCountersAt: 0,
  /** Whether /metrics holds the request counter at all. */
  metricsSeen: false,
  /** @type {string | undefined} */
  metricsError: undefined,
  /** Requests per second per route, the last samples (for the sparklines). @type {Map<string, number[]>} */
  history: new Map(),
  /** @type {RouterInfo[]} */
  routers: [],
  /** @type {string | null} */
  defaultBackend: null,
};

/** @param {Page} page */
function section(page) {
  const s = document.getElementById(`page-${page}`);
  if (s === null) throw new Error(`no section for ${page}`);
  return s;
}

/**
 * Replaces the body of a page (the part under its toolbar) and marks it loaded.
 * @param {Page} page
 * @param {...(Child | Child[])} children
 */
function fill(page, ...children) {
  const s = section(page);
  const body = s.querySelector('.body');
  if (body === null) return;
  body.replaceChildren(...Array.from(h('div', null, ...children).childNodes));
  s.dataset['loaded'] = 'true';
}

/** @param {unknown} err */
function showError(err) {
  const bar = document.getElementById('error');
  if (bar === null) return;
  if (err === undefined) {
    bar.hidden = true;
    bar.textContent = '';
    return;
  }
  bar.hidden = false;
  bar.textContent = `Could not load: ${err instanceof Error ? err.message : String(err)}`;
}

// --- pages -------------------------------------------------------------------------------------

/**
 * One middleware in words: `redirect -> websecure (302)`, `basic auth (realm "x": demo, klefevre)`.
 * @param {string | MiddlewareInfo} m
 */
function middlewareText(m) {
  if (typeof m === 'string') return m;
  if (m.kind === 'redirect') return `redirect -> ${m.entryPoint ?? '?'} (${m.status ?? 302})`;
  if (m.kind === 'basicAuth') return `basic auth (realm "${m.realm ?? ''}": ${(m.users ?? []).join(', ')})`;
  return m.kind ?? '';
}

/**
 * The header's mode and version, and the count of diagnostics on the Diagnostics tab.
 * @param {Overview} o
 */
function renderHeader(o) {
  const version = document.getElementById('version');
  if (version) version.textContent = [o.mode ? `${o.mode} mode` : '', o.version ? `v${o.version}` : ''].filter(Boolean).join(' · ');
  const errors = o.counts?.['errors'] ?? 0;
  const warnings = o.counts?.['warnings'] ?? 0;
  const tab = document.querySelector('nav a[href="#diagnostics"] .count');
  if (tab) {
    tab.textContent = errors + warnings === 0 ? '' : String(errors + warnings);
    tab.className = `count ${errors > 0 ? 'error' : 'warning'}`;
  }
}

/** @param {Overview} o */
function renderOverview(o) {
  const now = Date.now();
  const a = o.lastApply ?? {};
  const counts = Object.entries(o.counts ?? {});
  const applyState = a.error ? badge('last apply failed', 'error') : a.at ? badge('applied', 'ok') : badge('not applied yet', 'warning');
  fill(
    'overview',
    h(
      'div',
      { class: 'cards' },
      h('div', { class: 'card', id: 'card-mode' }, h('div', { class: 'label' }, 'Mode'), h('div', { class: 'value' }, o.mode ?? '?')),
      h('div', { class: 'card', id: 'card-version' }, h('div', { class: 'label' }, 'Version'), h('div', { class: 'value' }, o.version ?? '?')),
      counts.map(([k, v]) => h('div', { class: 'card', 'data-count': k }, h('div', { class: 'label' }, words(k)), h('div', { class: 'value' }, String(v)))),
    ),
    h('h3', null, 'Last apply'),
    h(
      'dl',
      { class: 'facts', id: 'last-apply' },
      h('dt', null, 'State'),
      h('dd', null, applyState),
      h('dt', null, 'When'),
      h('dd', null, a.at ? `${utc(a.at)} (${relative(a.at, now)})` : '—'),
      h('dt', null, 'Duration'),
      h('dd', null, a.durationMs === undefined || a.durationMs === null ? '—' : `${Math.round(a.durationMs * 10) / 10} ms`),
      h('dt', null, 'Config hash'),
      h('dd', null, h('code', null, a.hash ?? '—')),
      a.applies === undefined ? null : [h('dt', null, 'Applies / failures'), h('dd', null, `${a.applies} / ${a.failures ?? 0}`)],
      a.error ? [h('dt', null, 'Error'), h('dd', { class: 'error-text' }, a.error, a.errorAt ? ` (${relative(a.errorAt, now)})` : '')] : null,
    ),
    h('h3', null, 'Entry points'),
    table(
      ['Name', 'Address', 'TLS', 'Middlewares'],
      (o.entryPoints ?? []).map((e) => [
        h('strong', null, e.name ?? ''),
        h('code', null, addressText(e.address)),
        e.tls ? badge('TLS', 'ok') : '',
        (e.middlewares ?? []).map(middlewareText).join('; '),
      ]),
      'No entry point.',
    ),
  );
}

/** `virtualHosts` → `Virtual hosts` */
/** @param {string} key */
function words(key) {
  const s = key.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The key of a route in the traffic counters: `host path pathType` (RequestRecord.route). */
/** @param {string} host @param {RouteInfo} r */
function routeKey(host, r) {
  return `${host} ${r.path ?? ''} ${r.pathType ?? ''}`;
}

/** Where a host is served: a Gateway's own address through one entry point, some entry points, or all. @param {RouterInfo} v */
function servedOn(v) {
  if (v.address) return `${v.address} via ${v.entryPoint ?? '?'}`;
  return v.entryPoints ? v.entryPoints.join(', ') : 'all';
}

function renderRouters() {
  const input = /** @type {HTMLInputElement | null} */ (document.getElementById('router-search'));
  const q = (input?.value ?? '').trim().toLowerCase();
  const rates = new Map(state.rates.map((r) => [r.route, r]));
  const shown = state.routers.filter((v) => q === '' || (v.host ?? '').toLowerCase().includes(q));
  /** @type {Child[][]} */
  const rows = [];
  for (const v of shown) {
    const routes = v.routes ?? [];
    if (routes.length === 0) rows.push([h('strong', { class: 'host' }, v.host ?? ''), v.kind ?? '', servedOn(v), '—', '', '', v.certificate ?? '', '', '']);
    routes.forEach((r, i) => {
      const live = rates.get(routeKey(v.host ?? '', r));
      rows.push([
        i === 0 ? h('strong', { class: 'host' }, v.host ?? '') : '',
        i === 0 ? v.kind ?? '' : '',
        i === 0 ? servedOn(v) : '',
        h('span', null, h('code', null, r.path ?? ''), r.conditions ? h('span', { class: 'muted' }, ` if ${r.conditions}`) : ''),
        r.pathType ?? '',
        h('code', null, r.backend ?? ''),
        i === 0 ? v.certificate ?? '' : '',
        refText(r.source),
        live ? `${rate(live.requestRate)} · ${rate(live.errorRate)} 5xx` : '',
      ]);
    });
  }
  const count = document.getElementById('router-count');
  if (count) count.textContent = `${shown.length} of ${state.routers.length} hosts`;
  fill(
    'routers',
    table(['Host', 'Kind', 'Entry points', 'Path', 'Type', 'Backend', 'Certificate', 'Source', 'Live'], rows, q ? `No host matches “${q}”.` : 'No router.', 'routers'),
    state.defaultBackend ? h('p', null, 'Default backend (no host or route matches): ', h('code', null, state.defaultBackend)) : h('p', { class: 'muted' }, 'No default backend: a request no host or route matches gets 404.'),
  );
}

/** @param {EndpointInfo} e */
function endpointState(e) {
  const s = e.state;
  if (s === undefined) return badge('unknown', 'muted');
  const kind = /^(up|ok|ready|healthy|open)/i.test(s) ? 'ok' : /^(down|fail|unhealthy|error|closed)/i.test(s) ? 'error' : 'warning';
  return badge(s, kind);
}

/**
 * What the proxy saw of an endpoint (`live`): up, down, or unknown (no traffic yet, or nginx mode).
 * @param {EndpointInfo} e
 */
function endpointLive(e) {
  if (e.live === undefined) return '';
  if (e.live === null) return badge('live: unknown', 'muted');
  return badge(`live: ${e.live}`, e.live === 'up' ? 'ok' : e.live === 'down' ? 'error' : 'warning');
}

/** @param {BackendInfo[]} backends */
function renderBackends(backends) {
  fill(
    'backends',
    table(
      ['Backend', 'Service port', 'Endpoints', 'Used by'],
      backends.map((b) => [
        h('strong', null, b.id ?? `${b.namespace ?? ''}/${b.service ?? ''}`),
        String(b.servicePort ?? ''),
        (b.endpoints ?? []).length === 0
          ? badge('no ready endpoint: 503', 'error')
          : h(
              'ul',
              { class: 'endpoints' },
              (b.endpoints ?? []).map((e) => h('li', null, endpointState(e), ' ', endpointLive(e), ' ', h('code', null, `${e.address ?? ''}:${e.port ?? ''}`), e.weight === undefined ? '' : ` weight ${e.weight}`, e.name ? ` · ${e.name}` : '')),
            ),
        h('div', { class: 'names' }, (b.usedBy ?? []).map((u) => h('div', null, u))),
      ]),
      'No backend.',
    ),
  );
}

/** @param {CertificateInfo} c */
function acmeCell(c) {
  const a = c.acme;
  if (a === undefined || a === null) return c.source === 'acme' ? '?' : h('span', { class: 'muted' }, 'not ACME');
  const now = Date.now();
  const kind = a.state === 'valid' ? 'ok' : a.state === 'failed' ? 'error' : a.state === 'pending' ? 'warning' : 'muted';
  const err = a.lastError ? [a.lastError.cause, a.lastError.detail].filter(Boolean).join(': ') : '';
  return h(
    'div',
    { class: 'acme' },
    badge(a.state ?? '?', kind),
    a.detail ? h('div', null, a.detail) : null,
    a.renewAt ? h('div', null, `renews ${relative(a.renewAt, now)} (${utc(a.renewAt)})`) : null,
    a.nextAttemptAt ? h('div', null, `next attempt ${relative(a.nextAttemptAt, now)}`) : null,
    err ? h('div', { class: 'error-text' }, `last error: ${err}`) : null,
  );
}

/** @param {CertificateInfo} c */
function sourceText(c) {
  const where = refText(c.object);
  const kind = c.source === 'secret' ? 'Secret' : c.source === 'acme' ? 'ACME' : c.source === 'default' ? 'default' : c.source ?? '';
  return where && !where.startsWith(kind) ? `${kind}: ${where}` : where || kind;
}

/** @param {CertificatesInfo} data */
function renderCertificates(data) {
  const now = Date.now();
  const acme = data.acme;
  fill(
    'certificates',
    table(
      ['Certificate', 'Names', 'Issuer', 'Not after', 'Expiry', 'Source', 'ACME'],
      (data.certificates ?? []).map((c) => {
        const ex = expiry(c.notAfter ?? undefined, now);
        const names = c.names ?? [];
        return [
          h('strong', null, c.id ?? ''),
          h('div', { class: 'names' }, names.length === 0 && c.source === 'default' ? h('div', { class: 'muted' }, 'any other name') : names.map((n) => h('div', null, n))),
          c.issuer ?? (c.source === 'default' ? h('span', { class: 'muted' }, 'self-signed at start') : ''),
          h('span', { class: 'nowrap' }, utc(c.notAfter ?? undefined)),
          ex.level === 'unknown' ? '—' : badge(ex.text, ex.level === 'ok' ? 'ok' : ex.level === 'soon' ? 'warning' : 'error'),
          h('div', null, sourceText(c), c.served === false ? h('div', { class: 'muted' }, 'not served yet') : null),
          acmeCell(c),
        ];
      }),
      'No certificate.',
    ),
    acme
      ? [
          h('h3', null, 'ACME'),
          h(
            'dl',
            { class: 'facts', id: 'acme-facts' },
            h('dt', null, 'CA'),
            h('dd', null, h('code', null, acme.caServer ?? '')),
            h('dt', null, 'Storage'),
            h('dd', null, h('code', null, acme.storage ?? '')),
            h('dt', null, 'Orders from this replica'),
            h('dd', null, acme.leading ? 'yes (leader)' : 'no (another replica leads)'),
          ),
          h('h3', null, 'Weekly budget'),
          table(
            ['Registered domain', 'New certificates', 'Limit', 'Left'],
            (acme.budget ?? []).map((b) => [b.domain ?? '', String(b.used ?? ''), String(b.limit ?? ''), badge(String(b.left ?? ''), (b.left ?? 0) > 0 ? 'ok' : 'error')]),
            'No certificate ordered this week.',
          ),
        ]
      : null,
  );
}

/** @param {DiagnosticInfo[]} diags */
function renderDiagnostics(diags) {
  fill(
    'diagnostics',
    table(
      ['Severity', 'Code', 'Object', 'Field', 'Message', 'Where'],
      diags.map((d) => [
        badge(d.severity ?? '?', d.severity === 'error' ? 'error' : 'warning'),
        h('code', null, d.code ?? ''),
        refText(d.object),
        d.field ? h('code', null, d.field) : '',
        d.message ?? '',
        d.location?.file ? `${d.location.file}${d.location.line === undefined || d.location.line === null ? '' : `:${d.location.line}`}` : '',
      ]),
      'No diagnostic: every object is fine.',
      'diagnostics',
    ),
  );
}

/**
 * A small inline SVG line of the last rates.
 * @param {number[]} values
 */
function sparkline(values) {
  if (values.length < 2) values = [0, ...values, ...(values.length === 0 ? [0] : [])];
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 100 20');
  svg.setAttribute('preserveAspectRatio', 'none');
  const max = Math.max(...values, 0.001);
  const step = values.length > 1 ? 100 / (values.length - 1) : 100;
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', values.map((v, i) => `${(i * step).toFixed(1)},${(19 - (v / max) * 18).toFixed(1)}`).join(' '));
  svg.append(line);
  return svg;
}

function renderTraffic() {
  if (state.metricsError !== undefined && state.lastCounters === undefined) {
    fill('traffic', h('p', { class: 'empty' }, `No request metrics: ${state.metricsError}`));
    return;
  }
  fill(
    'traffic',
    table(
      ['Route', 'Requests/s', '5xx/s', 'Error %', 'Requests', '5xx', 'Last minute'],
      state.rates.map((r) => [
        h('code', { class: 'route' }, r.route),
        h('span', { class: 'rate' }, rate(r.requestRate)),
        h('span', { class: r.errorRate > 0 ? 'rate error-text' : 'rate' }, rate(r.errorRate)),
        r.requests === 0 ? '—' : `${((100 * r.errors) / r.requests).toFixed(1)} %`,
        String(r.requests),
        String(r.errors),
        sparkline(state.history.get(r.route) ?? [0]),
      ]),
      state.metricsSeen ? 'No request yet.' : 'No request counted yet (the counters appear with the first request).',
      'traffic',
    ),
  );
}

// --- data --------------------------------------------------------------------------------------

async function pollMetrics() {
  try {
    const res = await fetch(new URL('metrics', API), { cache: 'no-store' });
    if (!res.ok) throw new Error(`metrics: HTTP ${res.status}`);
    const text = await res.text();
    const at = performance.now();
    const samples = parsePrometheus(text);
    state.metricsSeen = samples.some((s) => s.name.startsWith('passerelle_requests'));
    const counters = countersByRoute(samples);
    state.rates = ratesBetween(state.lastCounters, counters, (at - state.lastCountersAt) / 1000);
    for (const r of state.rates) {
      const hist = state.history.get(r.route) ?? [];
      hist.push(r.requestRate);
      if (hist.length > 30) hist.shift();
      state.history.set(r.route, hist);
    }
    state.lastCounters = counters;
    state.lastCountersAt = at;
    state.metricsError = undefined;
  } catch (err) {
    state.metricsError = err instanceof Error ? err.message : String(err);
  }
}

/** @param {Page} page */
async function load(page) {
  switch (page) {
    case 'overview':
      break;
    case 'routers': {
      const data = /** @type {{ virtualHosts?: RouterInfo[], defaultBackend?: string | null }} */ (await getJson('api/routers'));
      state.routers = data.virtualHosts ?? [];
      state.defaultBackend = data.defaultBackend ?? null;
      renderRouters();
      break;
    }
    case 'backends':
      renderBackends(listOf(await getJson('api/backends'), 'backends'));
      break;
    case 'certificates':
      renderCertificates(/** @type {CertificatesInfo} */ (await getJson('api/certificates')));
      break;
    case 'diagnostics':
      renderDiagnostics(listOf(await getJson('api/diagnostics'), 'diagnostics'));
      break;
    case 'traffic':
      renderTraffic();
      break;
    case 'explain':
      section('explain').dataset['loaded'] = 'true';
      break;
  }
}

let polling = false;
async function refresh() {
  if (polling) return;
  polling = true;
  try {
    await pollMetrics();
    // The header (mode, version) and the diagnostics count in the tab bar, whatever page is open.
    const o = /** @type {Overview} */ (await getJson('api/overview'));
    renderHeader(o);
    if (state.page === 'overview') renderOverview(o);
    else await load(state.page);
    showError(undefined);
    const stamp = document.getElementById('updated');
    if (stamp) stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    showError(err);
  } finally {
    polling = false;
  }
}

// --- explain -----------------------------------------------------------------------------------

/** @param {SubmitEvent} ev */
async function explain(ev) {
  ev.preventDefault();
  const url = /** @type {HTMLInputElement | null} */ (document.getElementById('explain-url'))?.value.trim() ?? '';
  const method = /** @type {HTMLSelectElement | null} */ (document.getElementById('explain-method'))?.value ?? 'GET';
  const out = document.getElementById('explain-result');
  if (out === null || url === '') return;
  out.replaceChildren(h('p', { class: 'empty' }, 'Explaining…'));
  try {
    const q = new URLSearchParams({ url });
    if (method !== 'GET') q.set('method', method);
    const res = await fetch(new URL(`api/explain?${q}`, API), { cache: 'no-store' });
    const e = /** @type {ExplainInfo} */ (await res.json());
    if (!res.ok || e.lines === undefined) throw new Error(e.error?.message ?? `HTTP ${res.status}`);
    out.replaceChildren(
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, 'Answer'),
        h('dd', null, badge(String(e.status ?? '?'), (e.status ?? 500) < 400 ? 'ok' : (e.status ?? 500) < 500 ? 'warning' : 'error')),
        h('dt', null, 'Entry point'),
        h('dd', null, e.entryPoint ?? '—'),
        h('dt', null, 'Virtual host'),
        h('dd', null, e.virtualHost ?? '—'),
        h('dt', null, 'Route'),
        h('dd', null, e.route ? `${e.route.pathType ?? ''} ${e.route.path ?? ''} (${e.route.source ?? ''})` : '—'),
        h('dt', null, 'Backend'),
        h('dd', null, e.backend ?? '—'),
      ),
      h('pre', { class: 'explain-lines' }, (e.lines ?? []).join('\n')),
    );
  } catch (err) {
    out.replaceChildren(h('p', { class: 'error-text' }, err instanceof Error ? err.message : String(err)));
  }
}

// --- navigation --------------------------------------------------------------------------------

function route() {
  const want = location.hash.replace(/^#\/?/, '');
  const page = /** @type {Page} */ (PAGES.find((p) => p === want) ?? 'overview');
  state.page = page;
  for (const p of PAGES) section(p).hidden = p !== page;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.getAttribute('href') === `#${page}`);
  void refresh();
}

document.getElementById('router-search')?.addEventListener('input', renderRouters);
document.getElementById('explain-form')?.addEventListener('submit', (ev) => void explain(ev));
window.addEventListener('hashchange', route);
route();
setInterval(() => void refresh(), POLL_MS);
