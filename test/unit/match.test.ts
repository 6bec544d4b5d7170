/*
 * The "Examples" tables of the Kubernetes Ingress documentation (path types and host wildcards),
 * run twice: through match.ts on hand-built routes, and through translate() + resolveRequest() on
 * a real Ingress object, so the tables test the whole chain.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, Snapshot } from '../../src/model/k8s.ts';
import { compareRoutes, hostMatches, misdirected, normalizeHost, normalizeRulePath, resolveRequest, selectRoute } from '../../src/model/match.ts';
import { translate } from '../../src/model/translate/index.ts';
import type { TranslateOptions } from '../../src/model/translate/index.ts';
import type { HostKind, PathType, Route, RoutingModel, VirtualHost } from '../../src/model/types.ts';

type IngressPathType = PathType | 'ImplementationSpecific';

interface PathRow {
  readonly name: string;
  readonly paths: readonly { readonly path: string; readonly pathType: IngressPathType }[];
  readonly requests: readonly string[];
  /** Index in `paths` of the path that serves the requests, or `default` (no match: default backend). */
  readonly expected: number | 'default';
}

const prefix = (...paths: string[]): PathRow['paths'] => paths.map((path) => ({ path, pathType: 'Prefix' as const }));
const exact = (path: string): PathRow['paths'] => [{ path, pathType: 'Exact' }];

// https://kubernetes.io/docs/concepts/services-networking/ingress/#examples, row by row.
const pathRows: readonly PathRow[] = [
  { name: 'Prefix / matches all paths', paths: prefix('/'), requests: ['/', '/foo', '/foo/bar', '/aaa/bbb/ccc'], expected: 0 },
  { name: 'Exact /foo matches /foo', paths: exact('/foo'), requests: ['/foo'], expected: 0 },
  { name: 'Exact /foo does not match /bar', paths: exact('/foo'), requests: ['/bar'], expected: 'default' },
  { name: 'Exact /foo does not match /foo/', paths: exact('/foo'), requests: ['/foo/'], expected: 'default' },
  { name: 'Exact /foo/ does not match /foo', paths: exact('/foo/'), requests: ['/foo'], expected: 'default' },
  { name: 'Prefix /foo matches /foo and /foo/', paths: prefix('/foo'), requests: ['/foo', '/foo/'], expected: 0 },
  { name: 'Prefix /foo/ matches /foo and /foo/', paths: prefix('/foo/'), requests: ['/foo', '/foo/'], expected: 0 },
  { name: 'Prefix /aaa/bb does not match /aaa/bbb', paths: prefix('/aaa/bb'), requests: ['/aaa/bbb'], expected: 'default' },
  { name: 'Prefix /aaa/bbb matches /aaa/bbb', paths: prefix('/aaa/bbb'), requests: ['/aaa/bbb'], expected: 0 },
  { name: 'Prefix /aaa/bbb/ matches /aaa/bbb (ignores trailing slash)', paths: prefix('/aaa/bbb/'), requests: ['/aaa/bbb'], expected: 0 },
  { name: 'Prefix /aaa/bbb matches /aaa/bbb/ (matches trailing slash)', paths: prefix('/aaa/bbb'), requests: ['/aaa/bbb/'], expected: 0 },
  { name: 'Prefix /aaa/bbb matches /aaa/bbb/ccc (matches subpath)', paths: prefix('/aaa/bbb'), requests: ['/aaa/bbb/ccc'], expected: 0 },
  { name: 'Prefix /aaa/bbb does not match /aaa/bbbxyz (not a string prefix)', paths: prefix('/aaa/bbb'), requests: ['/aaa/bbbxyz'], expected: 'default' },
  { name: 'Prefix /, /aaa: /aaa/ccc matches the /aaa prefix', paths: prefix('/', '/aaa'), requests: ['/aaa/ccc'], expected: 1 },
  { name: 'Prefix /, /aaa, /aaa/bbb: /aaa/bbb matches the /aaa/bbb prefix', paths: prefix('/', '/aaa', '/aaa/bbb'), requests: ['/aaa/bbb'], expected: 2 },
  { name: 'Prefix /, /aaa, /aaa/bbb: /ccc matches the / prefix', paths: prefix('/', '/aaa', '/aaa/bbb'), requests: ['/ccc'], expected: 0 },
  { name: 'Prefix /aaa: /ccc does not match, the default backend serves', paths: prefix('/aaa'), requests: ['/ccc'], expected: 'default' },
  {
    name: 'Mixed /foo (Prefix) and /foo (Exact): /foo prefers Exact',
    paths: [
      { path: '/foo', pathType: 'Prefix' },
      { path: '/foo', pathType: 'Exact' },
    ],
    requests: ['/foo'],
    expected: 1,
  },
  // Not a row of the docs table: ImplementationSpecific is served as Prefix by Passerelle.
  { name: 'ImplementationSpecific /aaa behaves as Prefix', paths: [{ path: '/aaa', pathType: 'ImplementationSpecific' }], requests: ['/aaa', '/aaa/b'], expected: 0 },
];

const options: TranslateOptions = {
  entryPoints: [],
  ingressClass: 'passerelle',
  controllerName: 'passerelle.dev/ingress-controller',
  classAliases: [],
  watchIngressWithoutClass: false,
};

function service(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port: 80 }] } };
}

function backend(name: string): Record<string, unknown> {
  return { service: { name, port: { number: 80 } } };
}

/** A real networking.k8s.io/v1 Ingress: one rule (path i → Service svc-i), a default backend, through translate(). */
function modelFor(host: string | undefined, paths: PathRow['paths'], withDefault: boolean): RoutingModel {
  const ingress: KubeObject = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'table', namespace: 'default' },
    spec: {
      ingressClassName: 'passerelle',
      ...(withDefault ? { defaultBackend: backend('default-svc') } : {}),
      rules: [
        {
          ...(host === undefined ? {} : { host }),
          http: { paths: paths.map((p, i) => ({ path: p.path, pathType: p.pathType, backend: backend(`svc-${i}`) })) },
        },
      ],
    },
  };
  const snapshot: Snapshot = {
    ingresses: [ingress],
    ingressClasses: [],
    services: [service('default-svc'), ...paths.map((_, i) => service(`svc-${i}`))],
    endpointSlices: [],
    secrets: [],
    configMaps: [],
  };
  const model = translate(snapshot, options);
  assert.deepEqual(model.diagnostics, []);
  return model;
}

/** The same rule built by hand: routes normalised and sorted the way translate does. */
function vhostFor(paths: PathRow['paths']): VirtualHost {
  const source = { kind: 'Ingress', namespace: 'default', name: 'table' };
  const routes: Route[] = paths.map((p, i) => {
    const pathType: PathType = p.pathType === 'Exact' ? 'Exact' : 'Prefix';
    return { path: normalizeRulePath(p.path, pathType), pathType, backend: `svc-${i}`, source, field: `spec.rules[0].http.paths[${i}]` };
  });
  return { host: '*', kind: 'any', routes: routes.sort(compareRoutes), sources: [source] };
}

for (const row of pathRows) {
  for (const request of row.requests) {
    test(`path table (match.ts): ${row.name} — request ${request}`, () => {
      const route = selectRoute(vhostFor(row.paths), request);
      assert.equal(route?.backend, row.expected === 'default' ? undefined : `svc-${row.expected}`);
    });

    test(`path table (translate + resolveRequest): ${row.name} — request ${request}`, () => {
      const res = resolveRequest(modelFor('foo.bar.com', row.paths, true), 'foo.bar.com', request);
      if (row.expected === 'default') {
        assert.equal(res.outcome, 'default');
        assert.equal(res.outcome === 'default' ? res.backend?.id : undefined, 'default/default-svc:80');
      } else {
        assert.equal(res.outcome, 'route');
        assert.equal(res.outcome === 'route' ? res.backend?.id : undefined, `default/svc-${row.expected}:80`);
      }
    });
  }
}

interface HostRow {
  readonly name: string;
  /** The rule host; undefined for a rule without host. */
  readonly host: string | undefined;
  readonly kind: HostKind;
  readonly header: string;
  readonly matches: boolean;
}

// The host examples of the docs ("Hostname wildcards") plus the exact and host-less rule cases.
const hostRows: readonly HostRow[] = [
  { name: '*.foo.com matches bar.foo.com (shared suffix)', host: '*.foo.com', kind: 'wildcard', header: 'bar.foo.com', matches: true },
  { name: '*.foo.com does not match baz.bar.foo.com (one label only)', host: '*.foo.com', kind: 'wildcard', header: 'baz.bar.foo.com', matches: false },
  { name: '*.foo.com does not match foo.com (one label only)', host: '*.foo.com', kind: 'wildcard', header: 'foo.com', matches: false },
  { name: 'foo.bar.com matches foo.bar.com exactly', host: 'foo.bar.com', kind: 'exact', header: 'foo.bar.com', matches: true },
  { name: 'foo.bar.com does not match bar.foo.com', host: 'foo.bar.com', kind: 'exact', header: 'bar.foo.com', matches: false },
  { name: 'foo.bar.com matches a Host header with port and upper case', host: 'foo.bar.com', kind: 'exact', header: 'Foo.Bar.com:8080', matches: true },
  { name: 'a rule without host matches any host', host: undefined, kind: 'any', header: 'anything.example', matches: true },
];

for (const row of hostRows) {
  test(`host table (match.ts): ${row.name}`, () => {
    assert.equal(hostMatches({ host: row.host ?? '*', kind: row.kind }, normalizeHost(row.header)), row.matches);
  });

  test(`host table (translate + resolveRequest): ${row.name}`, () => {
    const model = modelFor(row.host, prefix('/'), false);
    assert.deepEqual(model.virtualHosts.map((v) => [v.host, v.kind]), [[row.host ?? '*', row.kind]]);
    const res = resolveRequest(model, row.header, '/');
    assert.equal(res.outcome, row.matches ? 'route' : 'not-found');
  });
}

const LISTENERS = ['', '*.wildcard.org', 'fourth.wildcard.org', 'second.org'];
const misdirectRows: readonly [name: string, names: readonly string[] | undefined, sni: string | undefined, host: string, expected: boolean][] = [
  ['same-exact-listener', LISTENERS, 'second.org', 'second.org', false],
  ['exact-sni-other-host', LISTENERS, 'second.org', 'example.org', true],
  ['catch-all-both', LISTENERS, 'example.org', 'unknown.org', false],
  ['catch-all-sni-exact-host', LISTENERS, 'example.org', 'second.org', true],
  ['wildcard-both', LISTENERS, 'third.wildcard.org', 'fifth.wildcard.org', false],
  ['wildcard-deeper-label', LISTENERS, 'a.b.wildcard.org', 'c.wildcard.org', false],
  ['wildcard-sni-exact-under-it', LISTENERS, 'third.wildcard.org', 'fourth.wildcard.org', true],
  ['wildcard-never-matches-its-domain', LISTENERS, 'third.wildcard.org', 'wildcard.org', true],
  ['sni-in-capitals', LISTENERS, 'SECOND.org', 'second.org', false],
  ['no-sni', LISTENERS, undefined, 'second.org', false],
  ['empty-sni', LISTENERS, '', 'second.org', false],
  ['no-listener-hostnames', undefined, 'second.org', 'example.org', false],
  ['no-catch-all-both-unlisted', ['a.org', 'b.org'], 'x.org', 'y.org', false],
  ['no-catch-all-unlisted-host', ['a.org', 'b.org'], 'a.org', 'y.org', true],
];
for (const [name, names, sni, host, expected] of misdirectRows) {
  test(`misdirected: ${name}`, () => {
    assert.equal(misdirected(names, sni, host), expected);
  });
}
