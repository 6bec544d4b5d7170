import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '../../src/cli/flags.ts';
import { buildOnce } from '../../src/cli/build.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { formatDryRun, lineDiff } from '../../src/render/dryrun.ts';
import { buildHaproxyView, createHaproxyRenderer, renderHaproxy } from '../../src/render/haproxy/index.ts';
import * as hq from '../../src/render/haproxy/quote.ts';
import { renderNginx } from '../../src/render/nginx/index.ts';
import * as nq from '../../src/render/nginx/quote.ts';
import { declaredChecksum } from '../../src/render/checksum.ts';
import { golden } from './golden.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORK = '/var/lib/passerelle';
const ACME = { host: '127.0.0.1', port: 8089 };

/** Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it. */

async function modelOf(...args: string[]): Promise<RoutingModel> {
  const cwd = process.cwd();
  process.chdir(root);
  try {
    return (await buildOnce(parseFlags(['run', ...args]))).model;
  } finally {
    process.chdir(cwd);
  }
}

const seedArgs = ['--configfile=test/fixtures/seed/traefik.toml', '--directory', 'test/fixtures/seed'];
const exampleArgs = ['--configfile=examples/passerelle.toml'];

test('golden: haproxy and nginx configurations of the seed and of examples/', async () => {
  for (const [label, args] of [['seed', seedArgs], ['examples', exampleArgs]] as const) {
    const model = await modelOf(...args);
    golden(`haproxy-${label}.txt`, formatDryRun(renderHaproxy(model, { workDir: WORK, acmeChallengeAddress: ACME })));
    golden(`nginx-${label}.txt`, formatDryRun(renderNginx(model, { workDir: WORK, acmeChallengeAddress: ACME })));
  }
});

test('dry-run output marks auxiliary files and never prints keys or password hashes', async () => {
  const model = await modelOf(...exampleArgs);
  for (const text of [formatDryRun(renderHaproxy(model, { workDir: WORK })), formatDryRun(renderNginx(model, { workDir: WORK }))]) {
    assert.doesNotMatch(text, /PRIVATE KEY/);
    assert.doesNotMatch(text, /\$apr1\$M7pJ5fVy/);
    assert.match(text, /^# ===== (haproxy\.cfg|nginx\.conf) \(mode 0644\) =====$/m);
    assert.match(text, /secret: contents not shown/);
  }
  const h = formatDryRun(renderHaproxy(model, { workDir: WORK }));
  for (const f of ['maps/routes.map', 'certs/crt-list.txt', 'lua/passerelle.lua']) {
    assert.match(h, new RegExp(`^# ===== ${f.replace(/[.]/g, '\\.')} `, 'm'), f);
  }
  assert.match(h, /^w:apps\.localhost v\d+$/m, 'wildcards are keyed by the parent domain');
  assert.match(h, /^h:[a-z0-9.-]+ v\d+$/m, 'exact hosts');
});

test('the seed in haproxy mode: the $apr1$ user is checked by the controller, its hash never written', async () => {
  const model = await modelOf(...seedArgs);
  const r = renderHaproxy(model, { workDir: WORK });
  assert.deepEqual(r.diagnostics, []);
  const map = r.files.find((f) => f.path === 'auth/https-controller.map');
  assert.equal(map?.content, 'klefevre https\n');
  assert.match(r.main.content, /http-request lua\.pass_auth 'unix@\/var\/lib\/passerelle\/auth\.sock' https if /);
  assert.ok(!formatDryRun(r).includes('$apr1$k2qslCn6'), 'the hash is never written');
  // nginx reads $apr1$ itself.
  assert.deepEqual(renderNginx(model, { workDir: WORK }).diagnostics, []);
});

test('checksum header, and a structure checksum that ignores endpoints and routes (runtime API) but not backends', async () => {
  const model = await modelOf(...exampleArgs);
  const a = renderHaproxy(model, { workDir: WORK });
  assert.equal(declaredChecksum(a.main.content), a.checksum);
  assert.equal(renderHaproxy(model, { workDir: WORK }).checksum, a.checksum, 'deterministic');
  const [id, be] = Object.entries(model.backends)[0]!;
  const moved: RoutingModel = { ...model, backends: { ...model.backends, [id]: { ...be, endpoints: [{ address: '127.0.0.9', port: 9999, weight: 3 }] } } };
  const b = renderHaproxy(moved, { workDir: WORK });
  assert.notEqual(b.checksum, a.checksum);
  assert.equal(b.structure, a.structure);
  const lessRoutes: RoutingModel = { ...model, virtualHosts: model.virtualHosts.slice(1) };
  const c = renderHaproxy(lessRoutes, { workDir: WORK });
  assert.notEqual(c.checksum, a.checksum);
  assert.equal(c.structure, a.structure, 'routes live in the routing map, replaced through the runtime API');
  const { [id]: _gone, ...rest } = model.backends;
  assert.notEqual(renderHaproxy({ ...model, backends: rest }, { workDir: WORK }).structure, a.structure, 'a backend section less is a reload');
});

test('server slots: empty slots wait in maintenance; a known allocation is kept while endpoints fit', async () => {
  const model = await modelOf(...exampleArgs);
  const r = renderHaproxy(model, { workDir: WORK });
  assert.match(r.main.content, /server s2 127\.0\.0\.1:1 weight 1 disabled/);
  const ids = Object.keys(model.backends);
  const slots = Object.fromEntries(ids.map((id) => [id, Array.from({ length: 16 }, () => null)]));
  const kept = renderHaproxy(model, { workDir: WORK }, { slots, prefixDepth: 4 });
  assert.match(kept.main.content, /server s16 /);
});

test('server slots: an endpoint keeps its slot; a new address never takes a slot another address held', () => {
  const ep = (host: string, port: number) => ({ address: host, port, weight: 1, name: host });
  const be = (eps: ReturnType<typeof ep>[]) => ({ id: 'd/s:80', namespace: 'd', service: 's', servicePort: 80, endpoints: eps, protocol: 'http' as const });
  const m = (eps: ReturnType<typeof ep>[]): RoutingModel => ({ entryPoints: [], virtualHosts: [], backends: { 'd/s:80': be(eps) }, certificates: [], diagnostics: [] });
  const servers = (r: ReturnType<typeof buildHaproxyView>) => r.view.backends[0]!.servers.map((s) => `${s.host}:${s.port}${s.disabled ? '-' : '+'}`);
  const first = buildHaproxyView(m([ep('10.0.0.1', 80)]), { workDir: WORK });
  assert.deepEqual(servers(first), ['10.0.0.1:80+', '127.0.0.1:1-', '127.0.0.1:1-', '127.0.0.1:1-']);
  const slots = { 'd/s:80': [{ host: '10.0.0.1', port: 80 }, null, null, null] };
  const swapped = buildHaproxyView(m([ep('10.0.0.2', 80)]), { workDir: WORK }, { slots, prefixDepth: 4 });
  assert.deepEqual(servers(swapped), ['10.0.0.1:80-', '10.0.0.2:80+', '127.0.0.1:1-', '127.0.0.1:1-']);
  assert.equal(swapped.view.backends[0]!.compacted, false);
  const back = buildHaproxyView(m([ep('10.0.0.1', 80)]), { workDir: WORK }, { slots: { 'd/s:80': [{ host: '10.0.0.1', port: 80 }, { host: '10.0.0.2', port: 80 }, null, null] }, prefixDepth: 4 });
  assert.deepEqual(servers(back), ['10.0.0.1:80+', '10.0.0.2:80-', '127.0.0.1:1-', '127.0.0.1:1-']);
  const full = buildHaproxyView(m([ep('10.0.0.9', 80)]), { workDir: WORK }, { slots: { 'd/s:80': [{ host: '10.0.0.1', port: 80 }] }, prefixDepth: 4 });
  assert.equal(full.view.backends[0]!.compacted, true, 'no never-used slot left: a fresh layout, applied by a reload');
  assert.deepEqual(servers(full), ['10.0.0.9:80+', '127.0.0.1:1-', '127.0.0.1:1-', '127.0.0.1:1-']);
});

test('a user template directory overrides single partials', async () => {
  const model = await modelOf(...exampleArgs);
  const r = createHaproxyRenderer(path.join(root, 'test/fixtures/render/templates')).render(model, { workDir: WORK });
  assert.match(r.main.content, /Nothing here \(custom template\)/);
  assert.match(r.main.content, /^frontend ep_web$/m, 'the other templates are the built-in ones');
});

test('nginx: a one-label wildcard becomes a regex server_name, never nginx\'s own *.domain', async () => {
  assert.equal(nq.serverName('*.apps.example.com'), '"~^[^.]+\\.apps\\.example\\.com$"');
  assert.equal(nq.serverName('www.example.com'), '"www.example.com"');
  const model = await modelOf(...exampleArgs);
  const text = renderNginx(model, { workDir: WORK }).main.content;
  assert.doesNotMatch(text, /server_name[^;]*"\*\./);
  assert.match(text, /server_name "~\^\[\^\.\]\+\\\.apps\\\.localhost\$";/);
});

test('nginx: Prefix /p gives "= /p" and "^~ /p/"; Exact gives "= /p"; an Exact wins its location', () => {
  const src = { kind: 'Ingress', namespace: 'd', name: 'i' };
  const model: RoutingModel = {
    entryPoints: [{ name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] }],
    virtualHosts: [
      {
        host: 'a.test',
        kind: 'exact',
        sources: [src],
        routes: [
          { path: '/api', pathType: 'Exact', backend: 'd/e:80', source: src, field: 'f' },
          { path: '/api', pathType: 'Prefix', backend: 'd/p:80', source: src, field: 'f' },
        ],
      },
    ],
    backends: {
      'd/e:80': { id: 'd/e:80', namespace: 'd', service: 'e', servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 80, weight: 1 }], protocol: 'http' },
      'd/p:80': { id: 'd/p:80', namespace: 'd', service: 'p', servicePort: 80, endpoints: [{ address: '10.0.0.2', port: 80, weight: 1 }], protocol: 'http' },
    },
    certificates: [],
    diagnostics: [],
  };
  const text = renderNginx(model, { workDir: WORK }).main.content;
  assert.match(text, /location = "\/api" \{\n\s+proxy_pass "http:\/\/be_d\.e_80\/api";/);
  assert.match(text, /location \^~ "\/api\/" \{\n\s+proxy_pass "http:\/\/be_d\.p_80\/api\/";/);
  assert.equal(text.match(/location = "\/api" /g)?.length, 1);
});

test('quoting helpers refuse what they cannot quote', () => {
  for (const bad of ["a'b", 'a\\b', 'a\nb', 'x\u0000', 'é']) assert.throws(() => hq.literal(bad), /PASS|refusing/);
  for (const bad of ['a"b', 'a\\b', 'a$b', 'a\nb', '{;}\u007f']) assert.throws(() => nq.literal(bad), /refusing/);
  assert.equal(nq.literal('a {;} b'), '"a {;} b"');
  for (const bad of ['be x', 'be\n', 'be;', 'be#', '']) assert.throws(() => hq.name(bad));
  for (const bad of ['-1', 1.5, 70000, 'x']) assert.throws(() => hq.address('127.0.0.1', bad));
  assert.throws(() => hq.address('1.2.3.4 ssl crt /etc/passwd', 80));
  assert.throws(() => nq.address('127.0.0.1;', 80));
  assert.throws(() => nq.serverName('*.a b'));
  assert.throws(() => nq.serverName('a.*.b'));
  assert.throws(() => nq.locationPath('/a b'));
  assert.throws(() => nq.locationPath('/a"{'));
  assert.throws(() => hq.mapWord('/a b'));
  assert.throws(() => hq.file('relative/path'));
  assert.throws(() => nq.htpasswdLine('a:b', '{SHA}xO2etOilyqtV8o1RvvnmkeBx7QI='));
  assert.equal(hq.address('::1', 80), '[::1]:80');
});

test('lineDiff shows removed and added lines with context', () => {
  assert.deepEqual(lineDiff('a\nb\nc\n', 'a\nB\nc\n', 1), [' a', '+B', '-b', ' c']);
  assert.deepEqual(lineDiff('', 'x\n'), ['+x']);
});
