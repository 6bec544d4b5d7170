/*
 * Conformance, "Path rules" (kubernetes-sigs/ingress-controller-conformance,
 * features/path_rules.feature): every Exact / Prefix / mixed / trailing-slash scenario, plus the
 * examples table of the Kubernetes documentation ("Ingress > Path types > Examples"), each row an
 * Ingress rule of its own host. Through a real kube-apiserver; run inside scripts/in-netns.sh, in
 * every mode (PASSERELLE_MODE narrows).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/model/k8s.ts';
import { deployService, echoOf, send, waitFor, waitForStatus } from './env.ts';
import { describeFeature } from './suite.ts';

const NS = 'conformance-path-rules';
type PathType = 'Exact' | 'Prefix';

/** One Service per (pathType, path), named as in the feature file. */
const SERVICE_OF: Readonly<Record<string, string>> = {
  'Exact /foo': 'foo-exact',
  'Exact /foo/': 'foo-slash-exact',
  'Prefix /foo': 'foo-prefix',
  'Prefix /foo/': 'foo-slash-prefix',
  'Prefix /aaa': 'aaa-prefix',
  'Prefix /aaa/bb': 'aaa-slash-bb-prefix',
  'Prefix /aaa/bbb': 'aaa-slash-bbb-prefix',
  'Prefix /aaa/bbb/': 'aaa-slash-bbb-slash-prefix',
  'Prefix /': 'root-prefix',
};

function serviceOf(type: PathType, path: string): string {
  const name = SERVICE_OF[`${type} ${path}`];
  if (name === undefined) throw new Error(`no Service for ${type} ${path}`);
  return name;
}

function rule(host: string, paths: readonly (readonly [string, PathType])[]): Record<string, unknown> {
  return {
    host,
    http: { paths: paths.map(([path, pathType]) => ({ path, pathType, backend: { service: { name: serviceOf(pathType, path), port: { number: 8080 } } } })) },
  };
}

/** The Background Ingress of the feature file. */
const featureIngress: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: NS, name: 'path-rules' },
  spec: {
    rules: [
      rule('exact-path-rules', [['/foo', 'Exact']]),
      rule('prefix-path-rules', [
        ['/foo', 'Prefix'],
        ['/aaa/bbb', 'Prefix'],
        ['/aaa', 'Prefix'],
      ]),
      rule('mixed-path-rules', [
        ['/foo', 'Prefix'],
        ['/foo', 'Exact'],
      ]),
      rule('trailing-slash-path-rules', [
        ['/aaa/bbb/', 'Prefix'],
        ['/foo/', 'Exact'],
      ]),
    ],
  },
};

/** The scenarios of the feature file: host, request path, the Service that must answer (or 404). */
const SCENARIOS: readonly { host: string; path: string; expect: string | 404; why: string }[] = [
  { host: 'exact-path-rules', path: '/foo', expect: 'foo-exact', why: 'exact /foo matches request /foo' },
  { host: 'exact-path-rules', path: '/foo/', expect: 404, why: 'exact /foo does not match request /foo/' },
  { host: 'exact-path-rules', path: '/FOO', expect: 404, why: 'exact /foo does not match request /FOO (case sensitive)' },
  { host: 'exact-path-rules', path: '/bar', expect: 404, why: 'exact /foo does not match request /bar' },
  { host: 'prefix-path-rules', path: '/foo', expect: 'foo-prefix', why: 'prefix /foo matches request /foo' },
  { host: 'prefix-path-rules', path: '/foo/', expect: 'foo-prefix', why: 'prefix /foo matches request /foo/' },
  { host: 'prefix-path-rules', path: '/FOO', expect: 404, why: 'prefix /foo does not match request /FOO (case sensitive)' },
  { host: 'prefix-path-rules', path: '/aaa/bbb', expect: 'aaa-slash-bbb-prefix', why: 'prefix /aaa/bbb matches request /aaa/bbb (longest path)' },
  { host: 'prefix-path-rules', path: '/aaa/bbb/ccc', expect: 'aaa-slash-bbb-prefix', why: 'prefix /aaa/bbb matches request /aaa/bbb/ccc (subpath)' },
  { host: 'prefix-path-rules', path: '/aaa/ccc', expect: 'aaa-prefix', why: 'prefix /aaa matches request /aaa/ccc' },
  { host: 'prefix-path-rules', path: '/aaaccc', expect: 404, why: 'prefix /aaa does not match request /aaaccc (label-wise prefix)' },
  { host: 'mixed-path-rules', path: '/foo', expect: 'foo-exact', why: 'exact /foo is preferred over prefix /foo for request /foo' },
  { host: 'mixed-path-rules', path: '/foo/', expect: 'foo-prefix', why: 'prefix /foo matches request /foo/ that exact /foo does not' },
  { host: 'trailing-slash-path-rules', path: '/aaa/bbb', expect: 'aaa-slash-bbb-slash-prefix', why: 'prefix /aaa/bbb/ matches request /aaa/bbb (trailing slash ignored)' },
  { host: 'trailing-slash-path-rules', path: '/aaa/bbb/', expect: 'aaa-slash-bbb-slash-prefix', why: 'prefix /aaa/bbb/ matches request /aaa/bbb/' },
  { host: 'trailing-slash-path-rules', path: '/foo', expect: 404, why: 'exact /foo/ does not match request /foo' },
  { host: 'trailing-slash-path-rules', path: '/foo/', expect: 'foo-slash-exact', why: 'exact /foo/ matches request /foo/' },
];

/**
 * The examples table of https://kubernetes.io/docs/concepts/services-networking/ingress/#examples:
 * kind, the Ingress paths, the request paths, and whether (and which path) matches.
 */
const TABLE: readonly { paths: readonly (readonly [string, PathType])[]; requests: readonly string[]; expect: string | 404; note: string }[] = [
  { paths: [['/', 'Prefix']], requests: ['/', '/foo', '/aaa/bbb/ccc', '/x.html?q=1'], expect: 'root-prefix', note: 'Prefix / matches all paths' },
  { paths: [['/foo', 'Exact']], requests: ['/foo'], expect: 'foo-exact', note: 'Exact /foo matches /foo' },
  { paths: [['/foo', 'Exact']], requests: ['/bar'], expect: 404, note: 'Exact /foo does not match /bar' },
  { paths: [['/foo', 'Exact']], requests: ['/foo/'], expect: 404, note: 'Exact /foo does not match /foo/' },
  { paths: [['/foo/', 'Exact']], requests: ['/foo'], expect: 404, note: 'Exact /foo/ does not match /foo' },
  { paths: [['/foo', 'Prefix']], requests: ['/foo', '/foo/'], expect: 'foo-prefix', note: 'Prefix /foo matches /foo and /foo/' },
  { paths: [['/foo/', 'Prefix']], requests: ['/foo', '/foo/'], expect: 'foo-slash-prefix', note: 'Prefix /foo/ matches /foo and /foo/' },
  { paths: [['/aaa/bb', 'Prefix']], requests: ['/aaa/bbb'], expect: 404, note: 'Prefix /aaa/bb does not match /aaa/bbb' },
  { paths: [['/aaa/bbb', 'Prefix']], requests: ['/aaa/bbb'], expect: 'aaa-slash-bbb-prefix', note: 'Prefix /aaa/bbb matches /aaa/bbb' },
  { paths: [['/aaa/bbb/', 'Prefix']], requests: ['/aaa/bbb'], expect: 'aaa-slash-bbb-slash-prefix', note: 'Prefix /aaa/bbb/ matches /aaa/bbb, ignores trailing slash' },
  { paths: [['/aaa/bbb', 'Prefix']], requests: ['/aaa/bbb/'], expect: 'aaa-slash-bbb-prefix', note: 'Prefix /aaa/bbb matches /aaa/bbb/, matches trailing slash' },
  { paths: [['/aaa/bbb', 'Prefix']], requests: ['/aaa/bbb/ccc'], expect: 'aaa-slash-bbb-prefix', note: 'Prefix /aaa/bbb matches /aaa/bbb/ccc, matches subpath' },
  { paths: [['/aaa/bbb', 'Prefix']], requests: ['/aaa/bbbxyz'], expect: 404, note: 'Prefix /aaa/bbb does not match /aaa/bbbxyz, no string prefix match' },
  {
    paths: [
      ['/', 'Prefix'],
      ['/aaa', 'Prefix'],
    ],
    requests: ['/aaa/ccc'],
    expect: 'aaa-prefix',
    note: 'Prefix /, /aaa: /aaa/ccc matches the /aaa prefix',
  },
  {
    paths: [
      ['/', 'Prefix'],
      ['/aaa', 'Prefix'],
      ['/aaa/bbb', 'Prefix'],
    ],
    requests: ['/aaa/bbb'],
    expect: 'aaa-slash-bbb-prefix',
    note: 'Prefix /, /aaa, /aaa/bbb: /aaa/bbb matches the /aaa/bbb prefix',
  },
  {
    paths: [
      ['/', 'Prefix'],
      ['/aaa', 'Prefix'],
      ['/aaa/bbb', 'Prefix'],
    ],
    requests: ['/ccc'],
    expect: 'root-prefix',
    note: 'Prefix /, /aaa, /aaa/bbb: /ccc matches the / prefix',
  },
  { paths: [['/aaa', 'Prefix']], requests: ['/ccc'], expect: 404, note: 'Prefix /aaa does not match /ccc (default backend: none here, 404)' },
  {
    paths: [
      ['/foo', 'Prefix'],
      ['/foo', 'Exact'],
    ],
    requests: ['/foo'],
    expect: 'foo-exact',
    note: 'Mixed /foo (Prefix), /foo (Exact): /foo prefers Exact',
  },
];

const tableHost = (i: number): string => `row-${i + 1}.pathtype.example`;

const tableIngress: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: NS, name: 'pathtype-examples' },
  spec: { rules: TABLE.map((row, i) => rule(tableHost(i), row.paths)) },
};

describeFeature(
  'conformance: path rules',
  {
    namespace: NS,
    ingress: 'path-rules',
    deploy: async (cluster, pods) => {
      for (const svc of Object.values(SERVICE_OF)) pods.push(...(await deployService(cluster, NS, svc)));
      await cluster.apply(featureIngress);
      await cluster.apply(tableIngress);
    },
    // Both Ingresses are served (the last rule of the table is the last one written).
    served: ({ mode, pass: p, address }) =>
      waitFor(`${mode}: both Ingresses served`, async () => {
        const a = await send({ address, port: p.httpPort, host: 'exact-path-rules', path: '/foo' });
        const b = await send({ address, port: p.httpPort, host: tableHost(TABLE.length - 1), path: '/foo' });
        return a.status === 200 && b.status === 200;
      }),
  },
  (env) => {
    const check = async (host: string, path: string, expect: string | 404): Promise<void> => {
      const { address, pass } = env;
      const reply = await send({ address, port: pass.httpPort, host, path });
      if (expect === 404) {
        assert.equal(reply.status, 404, `${host}${path}: expected 404, got ${reply.status} ${reply.text.slice(0, 120)}`);
        return;
      }
      const echo = echoOf(reply);
      assert.equal(echo.service, expect, `${host}${path} served by ${expect}`);
      assert.equal(echo.path, path, 'the request path reaches the backend unchanged');
      assert.equal(echo.host, host);
    };

    test('the Ingress status shows the address where it is exposed', async () => {
      assert.equal(env.address, '192.0.2.1');
      assert.equal(await waitForStatus(env.cluster, NS, 'pathtype-examples'), '192.0.2.1');
    });

    for (const s of SCENARIOS) {
      test(`feature: ${s.why}`, () => check(s.host, s.path, s.expect));
    }

    TABLE.forEach((row, i) => {
      test(`pathType examples row ${i + 1}: ${row.note}`, async () => {
        for (const path of row.requests) await check(tableHost(i), path, row.expect);
      });
    });
  },
);
