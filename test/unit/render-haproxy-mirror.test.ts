/*
 * The route policy `mirror` (Gateway API RequestMirror) rendered for HAProxy: a route mirrored to two
 * backends (every request, and 20 %), compared with a golden render and read by haproxy -c; the
 * shares in hundredths of a percent (fractions kept), and a route without the policy carries no rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { Backend, Route, RoutingModel } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildHaproxyView, renderHaproxy } from '../../src/render/haproxy/index.ts';
import { golden } from './golden.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';

const WORK = '/var/lib/passerelle';
const SRC = { kind: 'HTTPRoute', namespace: 'default', name: 'mirror' };

function backend(name: string): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1 }], protocol: 'http' };
}

function route(p: string, policy?: RoutePolicy): Route {
  return { path: p, pathType: 'Prefix', backend: 'default/site:80', source: SRC, field: `spec.rules[${p}]`, ...(policy === undefined ? {} : { policy }) };
}

function mirrorModel(targets: { backend: string; percent: number }[] = [{ backend: 'default/copy:80', percent: 100 }, { backend: 'default/sample:80', percent: 20 }]): RoutingModel {
  return {
    entryPoints: [{ name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] }],
    virtualHosts: [
      {
        host: 'mirror.test',
        kind: 'exact',
        sources: [SRC],
        routes: [route('/mirrored', { mirror: { targets }, headers: { request: { 'X-Set': 'set' } }, rewrite: { kind: 'prefix', target: '/v1' } }), route('/')],
      },
    ],
    backends: { 'default/site:80': backend('site'), 'default/copy:80': backend('copy'), 'default/sample:80': backend('sample') },
    certificates: [],
    diagnostics: [],
  };
}

test('golden: haproxy mirrored route (one target for every request, one for 20 %)', () => {
  golden('haproxy-mirror.txt', formatDryRun(renderHaproxy(mirrorModel(), { workDir: WORK })));
});

test('haproxy mirror: the targets draw their share in hundredths of a percent; a model without mirror renders no filter nor mirror frontend', () => {
  const { view } = buildHaproxyView(mirrorModel([{ backend: 'default/copy:80', percent: 12.345 }, { backend: 'default/sample:80', percent: 99.999 }, { backend: 'default/missing:80', percent: 50 }]), { workDir: WORK });
  const p = view.policies.find((x) => x.mirror.length > 0);
  assert.deepEqual(p?.mirror, [
    { backend: 'be_default.copy:80', share: 1235 },
    { backend: 'be_default.sample:80', share: null },
  ], 'rounded to 0.01 %; a target without a backend section is left out');
  assert.equal(view.mirror, true);
  const main = renderHaproxy(mirrorModel(), { workDir: WORK }).main.content;
  assert.match(main, /http-request lua\.pass_mirror_to be_default\.copy:80 if pass_p[0-9a-f]{12}\n/);
  assert.match(main, /http-request lua\.pass_mirror_to be_default\.sample:80 if pass_p[0-9a-f]{12} \{ rand\(10000\) lt 2000 \}\n/);
  assert.ok(main.indexOf('lua.pass_mirror_to') < main.indexOf('http-request set-path'), 'drawn before the rewrite: the copy has the client path');
  assert.match(main, /\n {2}lua-load-per-thread '\/var\/lib\/passerelle\/lua\/passerelle\.lua'\n/, 'HAProxy 2.6 runs a Lua filter safely only in per-thread states');
  assert.match(main, /\n {2}filter lua\.pass_mirror 'unix@\/var\/lib\/passerelle\/mirror\.sock' 60000\n/);
  assert.match(main, /\nfrontend pass_mirror\n {2}bind 'unix@\/var\/lib\/passerelle\/mirror\.sock' mode 600\n/);
  const plain = mirrorModel();
  const none: RoutingModel = { ...plain, virtualHosts: [{ ...plain.virtualHosts[0]!, routes: [route('/mirrored', { headers: { request: { 'X-Set': 'set' } } }), route('/')] }] };
  const text = renderHaproxy(none, { workDir: WORK }).main.content;
  assert.doesNotMatch(text, /pass_mirror/);
  assert.match(text, /\n {2}lua-load '/);
});

test('haproxy -c accepts a mirrored route', () => {
  const work = workWithDefaultCert('passerelle-mirror-');
  const r = renderHaproxy(mirrorModel(), { workDir: work.dir });
  checkRendering(r, work.dir, work);
});
