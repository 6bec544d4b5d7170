/*
 * deploy/ run as a cluster would run it: each overlay is applied to a real kube-apiserver, and its
 * Deployment's pod spec is started by the process kubelet (./kubelet.ts) exactly as written — the
 * image's entrypoint with the pod's args and env, the ConfigMap mounted as a file, a read-only root
 * with only the declared volumes writable, the ServiceAccount's token for the in-cluster client and
 * RBAC of deploy/base/rbac.yaml, and in the sidecar overlays the stock proxy as a separate process
 * tree that shares only the volume (and, for nginx, the process namespace the overlay asks for).
 * Then: the probes pass, traffic flows through the pod's ports (the redirect goes to https://host/),
 * a new Ingress is served, through the sidecar reload path where there is one, and the pod stops
 * within its grace period on SIGTERM.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { parse } from 'yaml';
import type { KubeObject } from '../../../src/model/k8s.ts';
import { installGatewayCrds } from '../../kube/gateway-crds.ts';
import { startCluster } from '../../kube/harness.ts';
import type { Cluster } from '../../kube/harness.ts';
import { endpointSlice, ingress, ns, service, waitFor } from '../kubernetes/helpers.ts';
import { cert, servedCN } from '../certs.ts';
import { Pod, dockerfileImage, stockImage } from './kubelet.ts';
import type { PodIdentity } from './kubelet.ts';
import { OVERLAYS, one, render } from './manifests.ts';
import type { ConfigMapObject, Deployment } from './manifests.ts';

const POD_IP = '192.0.2.1';
const APP = 'shop';

if (process.env['PASSERELLE_NETNS'] !== '1' || process.getuid?.() !== 0) {
  throw new Error('test/integration/deploy/pods.test.ts runs pods in mount and PID namespaces: run it as root through scripts/in-netns.sh (npm run test:integration does)');
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request to the pod's address, with the Host (and SNI) of `host`. */
function request(scheme: 'http' | 'https', port: number, host: string, path = '/', auth?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { host: POD_IP, port, path, headers: { Host: host, ...(auth === undefined ? {} : { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` }) }, timeout: 5000 };
    const done = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    };
    const req = scheme === 'https' ? https.get({ ...options, servername: host, rejectUnauthorized: false, agent: false }, done) : http.get({ ...options, agent: false }, done);
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** The value of a counter series on the controller's /metrics (0 when absent). */
async function metric(line: string): Promise<number> {
  const text = (await request('http', 8080, POD_IP, '/metrics')).body;
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

/** What each upstream received, by its id: `host path`. */
const received = new Map<string, string[]>();

/** An upstream that names itself. */
async function echo(address: string, id: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    received.set(id, [...(received.get(id) ?? []), `${req.headers.host ?? ''} ${req.url ?? ''}`]);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id, host: req.headers.host, forwardedPort: req.headers['x-forwarded-port'], path: req.url }));
  });
  server.listen(9000, address);
  await new Promise((r) => server.once('listening', r));
  return server;
}

let cluster: Cluster;
let identity: PodIdentity;
const upstreams: http.Server[] = [];

before(async () => {
  cluster = await startCluster();
  // With the Gateway API served, the controller watches it too and writes its status: what the ClusterRole must allow.
  await installGatewayCrds(cluster);
  await cluster.apply({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'passerelle' }, spec: { controllerName: 'passerelle.dev/gateway-controller' } });
  // The ServiceAccount's credentials, as the kubelet mounts them: the controller user of the harness
  // is passerelle/passerelle, bound by deploy/base/rbac.yaml.
  const kc = parse(await readFile(cluster.kubeconfig('controller'), 'utf8')) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
    users: { user: { token: string } }[];
  };
  const server = new URL(cluster.server);
  identity = {
    apiserverHost: server.hostname,
    apiserverPort: Number(server.port),
    token: kc.users[0]?.user.token ?? '',
    caPem: Buffer.from(kc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64').toString(),
  };
  upstreams.push(await echo('192.0.2.20', 'one'), await echo('192.0.2.21', 'two'));
  await cluster.apply(ns(APP));
  await cluster.apply(service(APP, 'one', 9000));
  await cluster.apply(endpointSlice(APP, 'one-1', 'one', ['192.0.2.20'], 9000));
  await cluster.apply(ingress(APP, 'one', 'one.example.test', 'one', { className: 'passerelle' }));
});

after(async () => {
  await cluster?.stop();
  for (const u of upstreams) u.close();
});

for (const overlay of OVERLAYS) {
  test(`deploy/overlays/${overlay}: the pod spec runs as written — probes pass, traffic flows, a change is applied`, async (t) => {
    const objs = render(overlay);
    for (const obj of objs) await cluster.apply(obj);
    const deployment = one<Deployment>(objs, 'Deployment', 'passerelle');
    const spec = deployment.spec.template.spec;
    const configMaps = new Map(objs.filter((o): o is ConfigMapObject => o.kind === 'ConfigMap').map((cm) => [cm.metadata?.name ?? '', cm.data]));
    const added: KubeObject[] = [service(APP, 'two', 9000), endpointSlice(APP, 'two-1', 'two', ['192.0.2.21'], 9000), ingress(APP, 'two', 'two.example.test', 'two', { className: 'passerelle' })];
    // The overlays' port 80 redirects to https: a Gateway served through them has an HTTPS listener (its hosts are served on its listeners' ports only).
    const gwCert = await cert('gw', 'gw.example.test');
    const gateway: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gw-tls', namespace: APP }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(gwCert.certPem).toString('base64'), 'tls.key': Buffer.from(gwCert.keyPem).toString('base64') } },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'edge', namespace: APP },
        spec: { gatewayClassName: 'passerelle', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }, { name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'gw-tls' }] } }] },
      },
      // A copy of each request goes to Service two (RequestMirror): in the HAProxy overlays, through its Lua filter and the unix socket in the work directory.
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'gw', namespace: APP },
        spec: { parentRefs: [{ name: 'edge' }], hostnames: ['gw.example.test'], rules: [{ backendRefs: [{ name: 'one', port: 80 }], filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'two', port: 80 } } }] }] },
      },
    ];
    added.push(...gateway);
    t.after(async () => {
      for (const obj of added) await cluster.remove(obj);
    });

    const pod = Pod.start({
      name: `passerelle-${overlay}-0`,
      namespace: deployment.metadata?.namespace ?? 'passerelle',
      spec,
      podIP: POD_IP,
      configMaps,
      // The controller images are the Dockerfile's targets; the stock proxies run Debian's binaries.
      image: (ref) => (ref.startsWith('passerelle') ? dockerfileImage(ref.replace(/:[^:/]*$/, '')) : stockImage(ref)),
      identity,
    });
    let stopped = false;
    t.after(async () => {
      if (!stopped) await pod.stop();
    });
    await pod.waitReady(90_000);
    const fail = (what: string): string => `${what}\n${pod.logs()}`;
    for (const c of spec.containers) assert.equal(await pod.probe(c.name, 'livenessProbe'), true, fail(`${c.name}: liveness probe`));

    const sidecar = spec.containers.find((c) => c.name !== 'passerelle');

    // Traffic: http redirects to the Service's port 443 (no container port), https serves.
    await waitFor('the Ingress is served', async () => (await request('https', 8443, 'one.example.test').catch(() => undefined))?.status === 200 || undefined, 30_000).catch((err: unknown) => {
      throw new Error(fail((err as Error).message));
    });
    const redirect = await request('http', 8000, 'one.example.test', '/cart?x=1');
    assert.equal(redirect.status, 308, fail('http → https'));
    assert.equal(redirect.headers.location, 'https://one.example.test/cart?x=1');
    const served = JSON.parse((await request('https', 8443, 'one.example.test', '/cart')).body) as { id: string; forwardedPort: string; path: string };
    assert.deepEqual(served, { id: 'one', host: 'one.example.test', forwardedPort: '443', path: '/cart' }, 'X-Forwarded-Port is the public port');

    // A change: a new Ingress and Service, applied through the reload path of the sidecar.
    const reloadsBefore = await metric('passerelle_config_updates_total{via="reload"}');
    for (const obj of added) await cluster.apply(obj);
    await waitFor('the new Ingress is served', async () => {
      const answer = await request('https', 8443, 'two.example.test').catch(() => undefined);
      return answer?.status === 200 && (JSON.parse(answer.body) as { id: string }).id === 'two' ? true : undefined;
    }, 30_000).catch((err: unknown) => {
      throw new Error(fail((err as Error).message));
    });
    // The Gateway API through the pod's ServiceAccount (applied with the change): the HTTPRoute is served and its status written.
    await waitFor('the HTTPRoute is served', async () => {
      const answer = await request('https', 8443, 'gw.example.test').catch(() => undefined);
      return answer?.status === 200 && (JSON.parse(answer.body) as { id: string }).id === 'one' ? true : undefined;
    }, 30_000).catch((err: unknown) => {
      throw new Error(fail((err as Error).message));
    });
    assert.equal(await servedCN(8443, 'gw.example.test', POD_IP), 'gw.example.test gw', fail("the HTTPS listener's certificate"));
    const marker = `/mirrored-${overlay}`;
    assert.equal((await request('https', 8443, 'gw.example.test', marker)).status, 200);
    await waitFor('the mirror copy reaches Service two', () => (received.get('two') ?? []).includes(`gw.example.test ${marker}`) || undefined, 10_000).catch((err: unknown) => {
      throw new Error(fail(`${(err as Error).message}; two received: ${(received.get('two') ?? []).slice(-5).join(', ')}`));
    });
    await waitFor('the HTTPRoute status is written by the pod', async () => {
      const route = await cluster.client('admin').request<{ status?: { parents?: { conditions?: { type: string; status: string }[] }[] } }>('GET', `/apis/gateway.networking.k8s.io/v1/namespaces/${APP}/httproutes/gw`);
      return route.status?.parents?.[0]?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True') === true ? true : undefined;
    }, 30_000).catch((err: unknown) => {
      throw new Error(fail((err as Error).message));
    });

    if (sidecar !== undefined) {
      // The new worker may serve before the controller's reload call returns and counts it: wait for the count.
      await waitFor('the reload counted', async () => ((await metric('passerelle_config_updates_total{via="reload"}')) > reloadsBefore ? true : undefined), 10_000).catch(() => undefined);
      assert.ok((await metric('passerelle_config_updates_total{via="reload"}')) > reloadsBefore, fail(`the change reloaded the ${sidecar.name} container`));
    }

    if (overlay === 'web') {
      // The dashboard, published by console.yaml through the pod itself, behind basic auth. The
      // EndpointSlice is what the endpoint controller would write for the Ready pod.
      const consoleSlice = { ...endpointSlice('passerelle', 'passerelle-console-1', 'passerelle-console', [POD_IP], 8080), ports: [{ name: 'web', port: 8080, protocol: 'TCP' }] };
      added.push(consoleSlice);
      await cluster.apply(consoleSlice);
      const host = 'passerelle.example.com';
      await waitFor('the console Ingress is served', async () => ((await request('https', 8443, host, '/').catch(() => undefined))?.status === 401 ? true : undefined), 30_000).catch((err: unknown) => {
        throw new Error(fail((err as Error).message));
      });
      const page = await request('https', 8443, host, '/api/overview', 'admin:change-me');
      assert.equal(page.status, 200, fail('the dashboard API with the documented user'));
      assert.match(page.headers['content-type'] ?? '', /json/);
      assert.equal((await request('https', 8443, host, '/api/overview', 'admin:wrong')).status, 401);
      assert.equal((await request('http', 8080, POD_IP, '/readyz')).status, 200, 'the probes stay open');
    }

    // Deleting the pod: every container ends on SIGTERM within terminationGracePeriodSeconds.
    stopped = true;
    const ends = await pod.stop();
    for (const [name, end] of ends) assert.equal(end.killed, false, fail(`${name} stopped on SIGTERM (${JSON.stringify(end)})`));
  });
}
