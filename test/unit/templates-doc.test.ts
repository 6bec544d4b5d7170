import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import type { HaproxyView, FrontendView, BackendView, PolicyView } from '../../src/render/haproxy/view.ts';
import type { NginxView, ServerBlockView, LocationView, TrustView, UpstreamView } from '../../src/render/nginx/view.ts';
import { haproxyHelpers } from '../../src/render/haproxy/quote.ts';
import { nginxHelpers } from '../../src/render/nginx/quote.ts';
import { templatesReference } from '../../scripts/templates-reference.ts';

const DOC = readFileSync(new URL('../../docs/templates.md', import.meta.url), 'utf8');

/** The part of docs/templates.md about one dialect. */
function section(dialect: 'haproxy' | 'nginx'): string {
  const start = DOC.indexOf(dialect === 'haproxy' ? '\n## HAProxy\n' : '\n## nginx\n');
  assert.ok(start >= 0, dialect);
  const end = dialect === 'haproxy' ? DOC.indexOf('\n## nginx\n') : DOC.length;
  return DOC.slice(start, end);
}

/** The text of a `#### NAME` table in a dialect's section. */
function table(text: string, name: string): string {
  const start = text.indexOf(`\n#### ${name}\n`);
  assert.ok(start >= 0, `#### ${name}`);
  const next = text.indexOf('\n###', start + 1);
  return text.slice(start, next === -1 ? text.length : next);
}

// Every key of each view interface: a field added or removed there fails to compile here.
const HAPROXY_FIELDS = {
  runtimeSocket: true, timeouts: true, files: true, forwardedHeader: true, prefixDepth: true, prefixFields: true,
  frontends: true, backends: true, regexRoutes: true, conditionRoutes: true, queryParams: true, suffixMap: true, scopes: true, lookups: true, sslRedirect: true, routeValues: true, policies: true, serverTimeouts: true, judged: true, clientHops: true, defaultBackend: true, acme: true,
  requestLog: true, hasTls: true, mirror: true,
} as const satisfies Record<keyof HaproxyView, true>;
const FRONTEND_FIELDS = {
  name: true, bindHost: true, bindPort: true, publicPort: true, tls: true, proto: true, redirect: true, auth: true,
  routes: true, timeouts: true, trusted: true, allowEncodedSlashes: true, scopeBinds: true, scopes: true, entryPointSuffix: true, misdirected: true,
} as const satisfies Record<keyof FrontendView, true>;
const BACKEND_FIELDS = { id: true, name: true, servers: true, compacted: true, upstream: true } as const satisfies Record<keyof BackendView, true>;
const POLICY_FIELDS = {
  id: true, denied: true, deniedStatus: true, redirect: true, wwwRedirect: true, appRoot: true, cors: true, rate: true, allow: true, auth: true, externalAuth: true,
  maxBody: true, connections: true, rewrite: true, regexRewrite: true, serverTimeout: true, requestHeaders: true, responseHeaders: true, requestRemove: true, requestAdd: true, responseRemove: true, responseAdd: true, hsts: true, judgesClient: true, canary: true, split: true, mirror: true, backendHeaders: true,
} as const satisfies Record<keyof PolicyView, true>;
const NGINX_FIELDS = {
  workDir: true, pidFile: true, workerProcesses: true, workerUser: true, headersMoreModule: true, lua: true, shutdownTimeoutMs: true,
  timeouts: true, namesHash: true, forwardedHeader: true, acme: true, requestLog: true, sni: true,
  upstreams: true, servers: true, trust: true, responseValues: true, cors: true, limitZones: true, canaries: true, backendMaps: true, affinities: true, signinSteps: true, signinEscapes: true, dollar: true, queryValues: true, conditionMaps: true, mirrorSamples: true,
} as const satisfies Record<keyof NginxView, true>;
const SERVER_BLOCK_FIELDS = {
  listenHost: true, listenPort: true, publicPort: true, tls: true, defaultServer: true, names: true, proto: true,
  redirect: true, auth: true, locations: true, entryPoint: true, timeouts: true, trusted: true, authChecks: true, signins: true, mirrors: true, misdirected: true,
} as const satisfies Record<keyof ServerBlockView, true>;
const LOCATION_FIELDS = { modifier: true, path: true, regex: true, action: true, upstreamPath: true, replacesPath: true, rewrite: true, keepUri: true, policy: true, scheme: true, canary: true, grpc: true, choice: true } as const satisfies Record<keyof LocationView, true>;
const TRUST_FIELDS = { entryPoint: true, ranges: true, proto: true, port: true } as const satisfies Record<keyof TrustView, true>;
const UPSTREAM_FIELDS = { id: true, name: true, leastConn: true, servers: true, lua: true } as const satisfies Record<keyof UpstreamView, true>;

test('docs/templates.md is what the templates, views and helpers generate (run node scripts/templates-doc.ts)', () => {
  assert.equal(DOC, templatesReference());
});

test('docs/templates.md documents every field of the view interfaces each template receives', () => {
  const cases: [dialect: 'haproxy' | 'nginx', name: string, fields: Record<string, true>][] = [
    ['haproxy', 'HaproxyView', HAPROXY_FIELDS],
    ['haproxy', 'FrontendView', FRONTEND_FIELDS],
    ['haproxy', 'BackendView', BACKEND_FIELDS],
    ['haproxy', 'PolicyView', POLICY_FIELDS],
    ['nginx', 'NginxView', NGINX_FIELDS],
    ['nginx', 'ServerBlockView', SERVER_BLOCK_FIELDS],
    ['nginx', 'LocationView', LOCATION_FIELDS],
    ['nginx', 'TrustView', TRUST_FIELDS],
    ['nginx', 'UpstreamView', UPSTREAM_FIELDS],
  ];
  for (const [dialect, name, fields] of cases) {
    const text = table(section(dialect), name);
    for (const field of Object.keys(fields)) assert.ok(text.includes(`\n| \`${field}\` |`), `${dialect} ${name}.${field}`);
  }
  assert.ok(table(section('haproxy'), 'HaproxyView').includes('| `files.routes` |'));
});

test('docs/templates.md documents every helper of each dialect, and every template file', () => {
  for (const [dialect, helpers] of [['haproxy', haproxyHelpers], ['nginx', nginxHelpers]] as const) {
    const text = section(dialect);
    for (const name of Object.keys(helpers)) assert.match(text, new RegExp(`\\n\\| \`\\{\\{${name}[ }]`), `${dialect} helper ${name}`);
    const files = readdirSync(new URL(`../../templates/${dialect}/`, import.meta.url)).filter((f) => f.endsWith('.hbs'));
    for (const f of files) assert.ok(text.includes(`| \`${dialect}/${f}\` |`), `templates/${dialect}/${f}`);
    assert.ok(text.includes(`| \`${dialect === 'haproxy' ? 'haproxy.cfg.hbs' : 'nginx.conf.hbs'}\` |`));
  }
  assert.ok(DOC.includes('**Every value goes through a helper.**'));
});
