/*
 * Several replicas behind a Service: the CA's validation request reaches a follower, not the
 * leader. Real kube-apiserver (test/kube/harness.ts, the controller ServiceAccount of
 * deploy/base/rbac.yaml) and real Pebble, whose HTTP-01 and TLS-ALPN-01 validations go to the
 * FOLLOWER's ports only. The leader publishes its challenges in the `PREFIX-challenges` Secret
 * before telling the CA to validate; the follower answers from it; the Secret is gone after the
 * order. First HTTP-01, then (both replicas restarted with `challenge = "tls-alpn-01"`) TLS-ALPN-01.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunningController } from '../../../src/cli/run.ts';
import type { KubeObject } from '../../../src/model/k8s.ts';
import type { SharedChallenge } from '../../../src/acme/types.ts';
import { KubeApiError } from '../../../src/sources/kubernetes/client.ts';
import { startCluster } from '../../kube/harness.ts';
import type { Cluster } from '../../kube/harness.ts';
import { startPebble } from './pebble.ts';
import { chainsTo, kubernetesToml, proxyPorts, startFromToml, servedChain, startEcho, waitUntil } from './env.ts';
import type { ProxyPorts } from './env.ts';

const NS = 'web';
const PREFIX = 'acme-replicas';

function ingress(name: string, host: string): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { namespace: NS, name },
    spec: {
      ingressClassName: 'passerelle',
      tls: [{ hosts: [host], secretName: `${name}-tls` }],
      rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'echo', port: { number: 80 } } } }] } }],
    },
  };
}


/** Starts the leader (waits until it leads), then the follower; each joins `running` (stopped by the test's end) once started. */
async function startPair(dir: string, texts: { a: string; b: string }, running: RunningController[]): Promise<[RunningController, RunningController]> {
  const a = await startFromToml(dir, 'a', texts.a);
  running.push(a);
  await waitUntil(() => a.acme!.manager.leading, 20_000, 'controller a leads');
  const b = await startFromToml(dir, 'b', texts.b);
  running.push(b);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(b.acme!.manager.leading, false, 'controller b follows');
  return [a, b];
}

/** Records every challenge `c` answers while `until` runs. */
async function recordChallenges(c: RunningController, until: Promise<void>): Promise<SharedChallenge[]> {
  const seen = new Map<string, SharedChallenge>();
  let done = false;
  void until.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    for (const x of c.acme!.challenges.pending()) seen.set(`${x.type}/${x.token}`, x);
    await new Promise((r) => setTimeout(r, 20));
  }
  await until;
  return [...seen.values()];
}

function httpGet(port: number, urlPath: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: urlPath, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

async function challengesSecretExists(cluster: Cluster): Promise<boolean> {
  try {
    await cluster.client('admin').request('GET', `/api/v1/namespaces/passerelle/secrets/${PREFIX}-challenges`);
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return false;
    throw err;
  }
}

test('several replicas: the CA validates through the follower (HTTP-01, then TLS-ALPN-01), the leader publishes challenges in a Secret first and removes them after', { timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-replicas-'));
  const cluster = await startCluster();
  const portsA = await proxyPorts();
  const portsB = await proxyPorts();
  // Validation goes to the follower's http and https entry points only.
  const pebble = await startPebble({ dir, httpPort: portsB.http, tlsPort: portsB.https, vaSleepSeconds: 2 });
  const echo = await startEcho('echo');
  const running: RunningController[] = [];
  t.after(async () => {
    for (const r of running) await r.stop().catch(() => undefined);
    await pebble.stop();
    await echo.close();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });
  t.diagnostic(`pebble: ${pebble.binaries.version}`);
  const kubeconfig = cluster.kubeconfig('controller');
  await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await cluster.apply({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'passerelle' }, spec: { controller: 'passerelle.dev/ingress-controller' } });
  await cluster.apply({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: NS, name: 'echo' }, spec: { ports: [{ name: 'http', port: 80, targetPort: echo.port, protocol: 'TCP' }] } });
  await cluster.apply({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: NS, name: 'echo-1', labels: { 'kubernetes.io/service-name': 'echo' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['192.0.2.11'], conditions: { ready: true } }],
    ports: [{ name: 'http', port: echo.port, protocol: 'TCP' }],
  });
  const root = async (): Promise<string> => pebble.root();

  // ---- HTTP-01 through the follower.
  const http = (ports: ProxyPorts): string => kubernetesToml({ ports, pebble, kubeconfig, prefix: PREFIX, acmeExtra: 'challenge = "http-01"\n' });
  let [a, b] = await startPair(dir, { a: http(portsA), b: http(portsB) }, running);
  await cluster.apply(ingress('one', 'one.example.test'));
  const issued1 = waitUntil(() => a.acme!.manager.certificates().length === 1, 90_000, 'the leader issued one.example.test through the follower');
  const followerSaw1 = await recordChallenges(b, issued1);
  assert.equal(a.acme!.manager.counters.failures, 0, 'no failed order');
  assert.ok(a.acme!.manager.counters.ordersPlaced >= 1);
  assert.equal(b.acme!.manager.counters.ordersPlaced, 0, 'the follower placed no order');
  const tokens = followerSaw1.filter((c) => c.type === 'http-01' && c.name === 'one.example.test');
  assert.ok(tokens.length >= 1, `the follower answered the leader's HTTP-01 token (saw ${JSON.stringify(followerSaw1)})`);
  // After the order: the Secret is gone, the follower forgot the token, and its path answers 404.
  await waitUntil(async () => !(await challengesSecretExists(cluster)), 10_000, 'the challenges Secret removed');
  await waitUntil(() => b.acme!.challenges.size === 0 && a.acme!.challenges.size === 0, 10_000, 'no challenge left on either replica');
  for (const c of tokens) assert.equal(await httpGet(portsB.http, `/.well-known/acme-challenge/${c.token}`, 'one.example.test'), 404);
  const r = await root();
  await waitUntil(async () => chainsTo(await servedChain(portsB.https, 'one.example.test'), 'one.example.test', r), 10_000, 'the follower serves the certificate');

  // ---- TLS-ALPN-01 through the follower (both restarted with challenge = "tls-alpn-01").
  await b.stop();
  await a.stop();
  running.length = 0;
  const alpn = (ports: ProxyPorts): string => kubernetesToml({ ports, pebble, kubeconfig, prefix: PREFIX, acmeExtra: 'challenge = "tls-alpn-01"\n' });
  [a, b] = await startPair(dir, { a: alpn(portsA), b: alpn(portsB) }, running);
  await cluster.apply(ingress('two', 'two.example.test'));
  const issued2 = waitUntil(() => a.acme!.manager.certificates().length === 2, 90_000, 'the leader issued two.example.test through the follower');
  const followerSaw2 = await recordChallenges(b, issued2);
  assert.equal(a.acme!.manager.counters.failures, 0, 'no failed order');
  assert.equal(b.acme!.manager.counters.ordersPlaced, 0, 'the follower placed no order');
  assert.ok(
    followerSaw2.some((c) => c.type === 'tls-alpn-01' && c.name === 'two.example.test'),
    `the follower answered the leader's TLS-ALPN-01 challenge (saw ${JSON.stringify(followerSaw2)})`,
  );
  await waitUntil(async () => !(await challengesSecretExists(cluster)), 10_000, 'the challenges Secret removed');
  await waitUntil(() => b.acme!.challenges.size === 0, 10_000, 'no challenge left on the follower');
  await waitUntil(async () => chainsTo(await servedChain(portsB.https, 'two.example.test'), 'two.example.test', r), 10_000, 'the follower serves the new certificate');
  assert.equal(pebble.ordersCreated(), 2, 'one order per certificate');
});
