/*
 * Misdirected requests (421) rendered for HAProxy: on a TLS entry point, an address scope with
 * listener hostnames (AddressScope.listenerHostnames) gets rules that find the listener the server
 * name (SNI) and the host fall to, and answer 421 when they differ; after the edge checks, before the
 * entry point's middlewares and routing. Compared with a golden render and read by haproxy -c; the
 * view's order is checked against the reference (match.ts listenerOf). Scopes without listener
 * hostnames, and plain HTTP entry points, get no rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listenerOf } from '../../src/model/match.ts';
import type { AddressScope, Backend, EntryPoint, RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildHaproxyView, renderHaproxy } from '../../src/render/haproxy/index.ts';
import { misdirectedView } from '../../src/render/haproxy/view.ts';
import type { MisdirectedView } from '../../src/render/haproxy/view.ts';
import { golden } from './golden.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';

const WORK = '/var/lib/passerelle';
const SRC = { kind: 'HTTPRoute', namespace: 'default', name: 'detect' };
const NAMES = ['', '*.wildcard.org', 'fourth-example.wildcard.org', 'second-example.org'];

const BACKEND: Backend = { id: 'default/v1:80', namespace: 'default', service: 'v1', servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1 }], protocol: 'http' };

function host(name: string, kind: VirtualHost['kind'] = 'exact'): VirtualHost {
  return { host: name, kind, sources: [SRC], routes: [{ path: '/', pathType: 'Prefix', backend: BACKEND.id, source: SRC, field: 'spec.rules[0]' }] };
}

function scope(address: string, entryPoint: string, listenerHostnames?: readonly string[]): AddressScope {
  return { address, entryPoint, virtualHosts: [host('example.org'), host('*.wildcard.org', 'suffix')], ...(listenerHostnames === undefined ? {} : { listenerHostnames }) };
}

const SCOPES = [scope('127.0.0.34', 'websecure', NAMES), scope('127.0.0.35', 'websecure'), scope('127.0.0.36', 'web', NAMES)];

function detectModel(scopes: AddressScope[] = SCOPES, middlewares: EntryPoint['middlewares'] = []): RoutingModel {
  return {
    entryPoints: [
      { name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] },
      { name: 'websecure', address: { host: '127.0.0.1', port: 8443 }, tls: true, middlewares },
    ],
    virtualHosts: [host('example.org')],
    backends: { [BACKEND.id]: BACKEND },
    certificates: [],
    diagnostics: [],
    addressScopes: scopes,
  };
}

test('golden: haproxy misdirected requests on a TLS scope with listener hostnames', () => {
  golden('haproxy-misdirected.txt', formatDryRun(renderHaproxy(detectModel(), { workDir: WORK })));
});

test('haproxy misdirected: only the TLS frontend of the scope\'s entry point, only scopes with listener hostnames', () => {
  const { view, diagnostics } = buildHaproxyView(detectModel(), { workDir: WORK });
  assert.deepEqual(diagnostics, []);
  const web = view.frontends.find((f) => f.name === 'ep_web');
  const secure = view.frontends.find((f) => f.name === 'ep_websecure');
  assert.deepEqual(web?.misdirected, [], 'a plain HTTP entry point has no server name');
  assert.deepEqual(secure?.misdirected, [
    {
      address: '127.0.0.34',
      exact: [{ id: 3, host: 'fourth-example.wildcard.org' }, { id: 4, host: 'second-example.org' }],
      wildcards: [{ id: 2, domain: 'wildcard.org', length: 13 }],
      unnamed: 1,
    },
  ]);
  const all = renderHaproxy(detectModel(), { workDir: WORK }).main.content;
  const main = all.slice(all.indexOf('\nfrontend ep_websecure\n'));
  assert.ok(main.length < all.length);
  const at = (text: string): number => {
    const i = main.indexOf(`\n  ${text}`);
    assert.ok(i >= 0, text);
    return i;
  };
  const start = at('http-request set-var(txn.pass_ls) str(none) if { dst 127.0.0.34 } { ssl_fc_sni -m found }');
  const answer = at("http-request return status 421 content-type text/plain string 'Misdirected Request' if { dst 127.0.0.34 } { var(txn.pass_ls) -m found } !{ var(txn.pass_ls),strcmp(txn.pass_lh) eq 0 }");
  at('http-request set-var(txn.pass_ls) str(l2) if { dst 127.0.0.34 } { var(txn.pass_ls) -m str none } { ssl_fc_sni,lower -m end .wildcard.org } { ssl_fc_sni -m len gt 13 }');
  at('http-request set-var(txn.pass_lh) str(l3) if { dst 127.0.0.34 } { var(txn.pass_lh) -m str none } { var(txn.host) -m str fourth-example.wildcard.org }');
  assert.ok(at('http-request deny deny_status 400 if { req.fhdr_cnt(host) gt 1 }') < start, 'after the edge checks');
  assert.ok(at('http-request set-var(txn.host)') < start);
  assert.ok(answer < at('http-request set-var(txn.ss)') && answer < at('http-request set-var(txn.vh)'), 'before routing');
  const rendered = renderHaproxy(detectModel(SCOPES, [{ kind: 'redirect', entryPoint: 'web', scheme: 'http', port: 80, status: 302 }]), { workDir: WORK }).main.content;
  const redirected = rendered.slice(rendered.indexOf('\nfrontend ep_websecure\n'));
  const answered = redirected.indexOf('return status 421');
  assert.ok(answered > 0 && answered < redirected.indexOf('http-request redirect location'), 'before the entry point\'s middlewares');
  assert.equal(main.match(/return status 421/g)?.length, 1, 'one scope: one answer');
  assert.doesNotMatch(main, /127\.0\.0\.35 \} \{ (ssl_fc_sni|var\(txn\.pass_l)/, 'a scope without listener hostnames has no rule');
});

test('haproxy misdirected: without listener hostnames, no rule and no comment', () => {
  const plain = renderHaproxy(detectModel([scope('127.0.0.34', 'websecure')]), { workDir: WORK }).main.content;
  assert.doesNotMatch(plain, /pass_ls|pass_lh|421|Misdirected/);
  const none = renderHaproxy({ ...detectModel(), addressScopes: [] }, { workDir: WORK }).main.content;
  assert.doesNotMatch(none, /pass_ls|pass_lh|421|Misdirected/);
});

/** The listener the view's rules give a name, in their order (exact, wildcards longest first, unnamed), as the template writes them. */
function ruleListener(v: MisdirectedView, name: string): number | 'none' {
  for (const e of v.exact) if (name === e.host) return e.id;
  for (const w of v.wildcards) if (name.endsWith(`.${w.domain}`) && name.length > w.length) return w.id;
  return v.unnamed ?? 'none';
}

test('haproxy misdirected: the rules\' order gives each name the listener the reference does', () => {
  const lists: string[][] = [NAMES, ['*.a.org', '*.b.a.org', 'x.b.a.org'], ['*.b.a.org', '*.a.org'], ['a.org', '*.a.org'], ['', 'a.org'], ['x.org', '*.x.org', '*.y.x.org', '']];
  const names = ['', 'a.org', '.a.org', 'x.a.org', 'b.a.org', '.b.a.org', 'x.b.a.org', 'y.b.a.org', 'z.y.b.a.org', 'x.org', 'q.x.org', 'q.y.x.org', '.y.x.org', 'y.x.org', 'example.org', 'second-example.org', 'third-example.wildcard.org', 'fourth-example.wildcard.org', '.wildcard.org', 'wildcard.org'];
  for (const list of lists) {
    const v = misdirectedView('127.0.0.34', list);
    assert.ok(v !== undefined, list.join());
    const ids = new Map<number, string>([...new Set(list)].map((h, i) => [i + 1, h]));
    for (const n of names) {
      const got = ruleListener(v, n);
      assert.equal(got === 'none' ? undefined : ids.get(got), listenerOf(list, n), `${list.join()} / ${n}`);
    }
  }
});

test('haproxy misdirected: a listener hostname that cannot be written leaves the scope without the check, with a warning', () => {
  for (const bad of ["a.org' }", 'A.org', '*.', 'a b', '*.*.a.org', 'a.org#x']) {
    assert.equal(misdirectedView('127.0.0.34', ['', bad]), undefined, bad);
    const { view, diagnostics } = buildHaproxyView(detectModel([scope('127.0.0.34', 'websecure', ['', bad])]), { workDir: WORK });
    assert.deepEqual(view.frontends.flatMap((f) => f.misdirected), [], bad);
    assert.ok(diagnostics.some((d) => d.code === 'PASS_HAPROXY_HOST' && d.message.includes('listener hostname')), bad);
    assert.doesNotMatch(renderHaproxy(detectModel([scope('127.0.0.34', 'websecure', ['', bad])]), { workDir: WORK }).main.content, /pass_ls/);
  }
});

test('haproxy -c accepts misdirected request rules, with and without answerPlainHttpOnTls', () => {
  for (const plainHttpOnTls of [false, true]) {
    const work = workWithDefaultCert('passerelle-misdirected-');
    const r = renderHaproxy(detectModel(), { workDir: work.dir, ...(plainHttpOnTls ? { answerPlainHttpOnTls: true } : {}) });
    assert.doesNotMatch(checkRendering(r, work.dir, work), /WARNING/, 'no warning');
    assert.ok(r.main.content.includes('return status 421'));
  }
});
