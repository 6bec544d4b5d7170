/*
 * Misdirected requests (AddressScope.listenerHostnames) rendered for nginx: on a TLS entry point, an
 * address scope's server blocks answer 421 when the Host falls to another listener hostname than the
 * TLS server name (`hostnames` maps on $ssl_server_name and $host, compared by a third map); compared
 * with a golden render, checked against the reference's listenerOf, and accepted by `nginx -t`.
 * Scopes without listener hostnames render as before (the other goldens).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { listenerOf } from '../../src/model/match.ts';
import type { AddressScope, RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildNginxView, renderNginx } from '../../src/render/nginx/index.ts';
import { backend, entryPoint, model, route, vhost } from '../behaviour/harness.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';
import { golden } from './golden.ts';

const WORK = '/var/lib/passerelle';
const LISTENERS = ['', '*.wildcard.org', 'fourth-example.wildcard.org', 'second-example.org'];
const suffix = (host: string, backendName: string): VirtualHost => ({ ...vhost(host, [route('/', 'Prefix', backendName)]), kind: 'suffix' });

function scoped(listenerHostnames: readonly string[] | undefined, address = '127.0.0.34', ep = 'https'): AddressScope {
  return {
    address,
    entryPoint: ep,
    virtualHosts: [vhost('example.org', [route('/', 'Prefix', 'v1')]), vhost('second-example.org', [route('/', 'Prefix', 'v2')]), suffix('*.wildcard.org', 'v3')],
    ...(listenerHostnames === undefined ? {} : { listenerHostnames }),
  };
}

function misdirectedModel(scopes: readonly AddressScope[]): RoutingModel {
  const ep = (address: string) => [{ address, port: 8080, weight: 1 }];
  return {
    ...model({
      entryPoints: [entryPoint('https', 8443, { tls: true }), entryPoint('http', 8000)],
      virtualHosts: [vhost('example.org', [route('/', 'Prefix', 'v1')])],
      backends: [backend('v1', ep('10.0.0.1')), backend('v2', ep('10.0.0.2')), backend('v3', ep('10.0.0.3'))],
    }),
    addressScopes: scopes,
  };
}

// Two scopes with listener hostnames on the TLS entry point, one without, one on the plain entry point.
const full = (): RoutingModel =>
  misdirectedModel([scoped(LISTENERS), scoped(['a.test', '*.b.test'], '127.0.0.35'), scoped(undefined, '127.0.0.36'), scoped(LISTENERS, '127.0.0.37', 'http')]);

const render = (m: RoutingModel): string => renderNginx(m, { workDir: WORK, headersMoreModule: null }).main.content;

test('golden: nginx misdirected-request maps and checks of address scopes with listener hostnames', () => {
  golden('nginx-misdirected.txt', formatDryRun(renderNginx(full(), { workDir: WORK, headersMoreModule: null })));
});

test('nginx misdirected: only the TLS server blocks of scopes with listener hostnames check, each scope with its own maps', () => {
  const { view, diagnostics } = buildNginxView(full(), { workDir: WORK });
  assert.deepEqual(diagnostics, []);
  const of = (address: string) => view.servers.filter((s) => s.listenHost === address);
  for (const [address, index] of [['127.0.0.34', 0], ['127.0.0.35', 1]] as const) {
    const blocks = of(address);
    assert.ok(blocks.length >= 2, address);
    assert.deepEqual(blocks.map((s) => s.misdirected?.index), blocks.map(() => index), `every block of ${address} checks`);
    assert.deepEqual(blocks.map((s) => s.misdirected?.maps), blocks.map((_, i) => i === 0), `the maps of ${address} once, before its first block`);
  }
  for (const address of ['127.0.0.36', '127.0.0.37', '127.0.0.1']) assert.ok(of(address).every((s) => s.misdirected === null), `${address}: no check`);
  const text = render(full());
  assert.equal(text.match(/^ {2}map \$ssl_server_name \$pass_lsni_/gm)?.length, 2);
  assert.equal(text.match(/return 421;/g)?.length, of('127.0.0.34').length + of('127.0.0.35').length);
});

test('nginx misdirected: the maps number the listener a name falls to as the reference listenerOf does', () => {
  const { view } = buildNginxView(full(), { workDir: WORK });
  const check = view.servers.find((s) => s.listenHost === '127.0.0.34')?.misdirected;
  assert.ok(check);
  assert.deepEqual(check.listeners, [
    { name: '*.wildcard.org', value: 1 },
    { name: 'fourth-example.wildcard.org', value: 2 },
    { name: 'second-example.org', value: 3 },
  ]);
  assert.equal(check.fallback, 4, 'the listener without hostname: the default');
  const numberOf = (listener: string | undefined): number => (listener === undefined ? 0 : listener === '' ? check.fallback : (check.listeners.find((l) => l.name === listener)?.value ?? -1));
  // nginx's `hostnames` map: the exact name, else the longest `*.d` the name is under (any depth, never `d` itself), else default.
  const nginxLookup = (name: string): number =>
    check.listeners.find((l) => l.name === name)?.value ??
    check.listeners.filter((l) => l.name.startsWith('*.') && name.endsWith(l.name.slice(1))).sort((a, b) => b.name.length - a.name.length)[0]?.value ??
    check.fallback;
  for (const name of ['example.org', 'second-example.org', 'wildcard.org', 'x.wildcard.org', 'a.b.wildcard.org', 'fourth-example.wildcard.org', 'x.fourth-example.wildcard.org', 'other.test']) {
    assert.equal(nginxLookup(name), numberOf(listenerOf(LISTENERS, name)), name);
  }
  // Without a listener without hostname, a name under no listener is 0 (the same for the server name and the Host).
  const other = view.servers.find((s) => s.listenHost === '127.0.0.35')?.misdirected;
  assert.equal(other?.fallback, 0);
  assert.equal(listenerOf(['*.b.test', 'a.test'], 'c.test'), undefined);
});

test('nginx misdirected: the check comes after the edge checks and before any location; an empty server name is never misdirected', () => {
  const text = render(full());
  const start = text.indexOf('    listen 127.0.0.34:8443 ssl http2 default_server;');
  const block = text.slice(start, text.indexOf('\n  }\n', start));
  const reject = block.indexOf('if ($pass_reject)');
  const check = block.indexOf('if ($pass_misdirected_0) {\n      return 421;');
  assert.ok(reject > 0 && check > reject, 'after the 400 of a malformed request');
  assert.ok(block.indexOf('location ') === -1 || block.indexOf('location ') > check, 'before the locations');
  assert.match(text, /map \$ssl_server_name \$pass_lsni_0 \{\n {4}hostnames;\n {4}"" "";\n/);
  assert.match(text, /map "\$pass_lsni_0:\$pass_lhost_0" \$pass_misdirected_0 \{\n {4}"~\^:" "";\n {4}"~\^\(\[0-9\]\+\):\\1\$" "";\n {4}default 1;\n/);
});

test('nginx misdirected: scopes without listener hostnames render as before', () => {
  const plain = render(misdirectedModel([scoped(undefined), scoped(undefined, '127.0.0.37', 'http')]));
  assert.doesNotMatch(plain, /pass_lsni|pass_lhost|pass_misdirected|hostnames;|421/);
  // Listener hostnames on a plain entry point change nothing.
  assert.equal(render(misdirectedModel([scoped(undefined), scoped(LISTENERS, '127.0.0.37', 'http')])), plain);
  assert.notEqual(render(misdirectedModel([scoped(LISTENERS), scoped(undefined, '127.0.0.37', 'http')])), plain);
});

test('nginx misdirected: a listener hostname nginx cannot hold leaves the scope unchecked, with a diagnostic; nothing is injected', () => {
  for (const bad of ['a.test"; return 200 "x', 'a.test;', '$host', 'A.test', '~^.*$', '*.', '*', 'a b', '**.a.test', '*.*.a.test']) {
    const m = misdirectedModel([scoped(['second-example.org', bad])]);
    const { view, diagnostics } = buildNginxView(m, { workDir: WORK });
    assert.deepEqual(diagnostics.map((d) => d.code), ['PASS_NGINX_HOST'], bad);
    assert.ok(view.servers.every((s) => s.misdirected === null), bad);
    if (bad.length > 3) assert.ok(!render(m).includes(bad), bad);
  }
});

test('nginx misdirected: nginx -t accepts the rendering', () => {
  const work = workWithDefaultCert('passerelle-misdirected-');
  const dir = path.join(work.dir, 'plain');
  checkRendering(renderNginx(full(), { workDir: dir }), dir, work);
});
