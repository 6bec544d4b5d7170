/*
 * Hosts served on some entry points only (`VirtualHost.entryPoints`) rendered for HAProxy: their
 * routing map keys carry `@@ENTRYPOINT@` (one per entry point serving them), each frontend looks its
 * own entry point's key up after the plain one at every stage, and the suffix map keys every main
 * suffix host per entry point (so that one map_end still takes the longest domain served there).
 * A model without such hosts renders none of it; address scopes keep their keys. Compared with a
 * golden render and read by haproxy -c.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildHaproxyView, renderHaproxy, ROUTES_MAP } from '../../src/render/haproxy/index.ts';
import { mapEdits } from '../../src/drivers/haproxy/runtime.ts';
import { golden } from './golden.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';

const WORK = '/var/lib/passerelle';
const SRC = { kind: 'HTTPRoute', namespace: 'default', name: 'hosts' };

function backend(name: string): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1 }], protocol: 'http' };
}

function host(name: string, service: string, entryPoints?: string[]): VirtualHost {
  const kind = name === '*' ? 'any' : name.startsWith('*.') ? (name.startsWith('*.s.') ? 'suffix' : 'wildcard') : 'exact';
  const vh: VirtualHost = { host: name, kind, sources: [SRC], routes: [{ path: '/', pathType: 'Prefix', backend: `default/${service}:80`, source: SRC, field: 'spec.rules[0]' }] };
  return entryPoints === undefined ? vh : { ...vh, entryPoints };
}

/** Two entry points; restricted hosts of every kind beside unrestricted ones. */
function epModel(hosts: VirtualHost[] = HOSTS, scopes = false): RoutingModel {
  return {
    entryPoints: [
      { name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] },
      { name: 'alt', address: { host: '127.0.0.1', port: 8001 }, tls: false, middlewares: [] },
    ],
    virtualHosts: hosts,
    backends: { 'default/v1:80': backend('v1'), 'default/v2:80': backend('v2'), 'default/v3:80': backend('v3') },
    defaultBackend: 'default/v1:80',
    certificates: [],
    diagnostics: [],
    ...(scopes ? { addressScopes: [{ address: '127.0.0.31', entryPoint: 'web', virtualHosts: [host('web-only.test', 'v3'), host('*.s.test', 'v3')] }] } : {}),
  };
}

const HOSTS: VirtualHost[] = [
  host('both.test', 'v1'),
  host('web-only.test', 'v2', ['web']),
  host('everywhere.test', 'v3', ['alt', 'web']),
  host('nowhere.test', 'v3', []),
  host('*.wild.test', 'v2', ['alt']),
  host('*.s.test', 'v2'),
  host('*.s.deep.test', 'v3', ['alt']),
  host('*', 'v3', ['web']),
];

const mapOf = (m: RoutingModel, file: string): readonly (readonly [string, string])[] => buildHaproxyView(m, { workDir: WORK }).maps.find((x) => x.path === file)?.entries ?? [];

test('golden: haproxy hosts served on some entry points only', () => {
  golden('haproxy-entry-points.txt', formatDryRun(renderHaproxy(epModel(HOSTS, true), { workDir: WORK })));
});

test('haproxy entry point hosts: one key per entry point serving a restricted host, plain keys for the others, ids by the plain key', () => {
  const { view, layout, diagnostics } = buildHaproxyView(epModel(), { workDir: WORK });
  assert.deepEqual(diagnostics, []);
  const hostKeys = mapOf(epModel(), ROUTES_MAP).filter(([k]) => !/^v\d/.test(k));
  const id = (key: string): string => `v${layout.vhosts?.[key]}`;
  assert.deepEqual(hostKeys, [
    ['h:both.test', id('h:both.test')],
    ['h:web-only.test@@web@', id('h:web-only.test')],
    ['h:everywhere.test@@alt@', id('h:everywhere.test')],
    ['h:everywhere.test@@web@', id('h:everywhere.test')],
    ['w:wild.test@@alt@', id('w:wild.test')],
    ['s:s.test', id('s:s.test')],
    ['s:s.deep.test', id('s:s.deep.test')],
    ['any@@web@', id('any')],
  ]);
  assert.equal(layout.vhosts?.['h:nowhere.test'], undefined, 'a host served on no entry point is left out');
  // The suffix map gates suffix hosts per entry point, longest domain first.
  assert.deepEqual(mapOf(epModel(), 'maps/suffix.map'), [
    ['.s.deep.test@@alt@', 's:s.deep.test'],
    ['.s.test@@alt@', 's:s.test'],
    ['.s.test@@web@', 's:s.test'],
  ]);
  assert.deepEqual(view.frontends.map((f) => f.entryPointSuffix), ['@@web@', '@@alt@']);
  const main = renderHaproxy(epModel(), { workDir: WORK }).main.content;
  assert.ok(main.includes('\n  http-request set-var(txn.es) str(@@alt@)\n'), 'without scopes: set on every request');
  assert.ok(main.includes(`\n  http-request set-var(txn.vh) str(h:),concat(,txn.host),concat(,txn.es),map_str('${WORK}/${ROUTES_MAP}') if !{ var(txn.vh) -m found } { var(txn.es) -m found }\n`));
  assert.ok(main.includes(`,concat(,txn.es),map_end('${WORK}/maps/suffix.map'),`), 'the suffix lookup carries the entry point');
});

test('haproxy entry point hosts: a model without restricted hosts renders none of it', () => {
  const plain = epModel(HOSTS.map(({ entryPoints: _, ...vh }) => vh));
  const { view } = buildHaproxyView(plain, { workDir: WORK });
  assert.deepEqual(view.frontends.map((f) => f.entryPointSuffix), [null, null]);
  const r = renderHaproxy(plain, { workDir: WORK });
  for (const f of [r.main, ...r.files]) {
    assert.doesNotMatch(f.content, /txn\.es|@@/, f.path);
  }
  assert.deepEqual(mapOf(plain, 'maps/suffix.map'), [
    ['.s.deep.test', 's:s.deep.test'],
    ['.s.test', 's:s.test'],
  ]);
});

test('haproxy entry point hosts: address scopes keep their keys; txn.es is set off their addresses only', () => {
  const m = epModel(HOSTS, true);
  const keys = mapOf(m, ROUTES_MAP).map(([k]) => k);
  assert.ok(keys.includes('h:web-only.test@127.0.0.31@web@') && keys.includes('s:s.test@127.0.0.31@web@'));
  assert.ok(mapOf(m, 'maps/suffix.map').some(([k, v]) => k === '.s.test@127.0.0.31@web@' && v === 's:s.test@127.0.0.31@web@'));
  const main = renderHaproxy(m, { workDir: WORK }).main.content;
  assert.ok(main.includes('\n  http-request set-var(txn.es) str(@@web@) if !{ var(txn.ss) -m found }\n'));
  assert.ok(main.includes(`var(txn.host),concat(,txn.ss),concat(,txn.es),map_end('${WORK}/maps/suffix.map')`));
});

test('haproxy entry point hosts: moving a host to another entry point is a runtime map edit of its key alone', () => {
  const before = epModel();
  const after = epModel(HOSTS.map((v) => (v.host === 'web-only.test' ? { ...v, entryPoints: ['alt'] } : v)));
  const a = renderHaproxy(before, { workDir: WORK });
  const b = renderHaproxy(after, { workDir: WORK }, buildHaproxyView(before, { workDir: WORK }).layout);
  assert.equal(a.structure, b.structure, 'no reload');
  const routes = (r: typeof a): string => r.files.find((f) => f.path === ROUTES_MAP)?.content ?? '';
  const edits = mapEdits(routes(a), routes(b), 100, (k) => /^(?:any(?:@|$)|[hws]:)/.test(k));
  const vid = buildHaproxyView(before, { workDir: WORK }).layout.vhosts?.['h:web-only.test'];
  assert.deepEqual(edits, [
    { op: 'add', key: 'h:web-only.test@@alt@', value: `v${vid}` },
    { op: 'del', key: 'h:web-only.test@@web@' },
  ]);
});

test('haproxy -c accepts hosts served on some entry points only, with address scopes', () => {
  const work = workWithDefaultCert('passerelle-entry-points-');
  const r = renderHaproxy(epModel(HOSTS, true), { workDir: work.dir });
  assert.doesNotMatch(checkRendering(r, work.dir, work), /WARNING/, 'no warning');
});
