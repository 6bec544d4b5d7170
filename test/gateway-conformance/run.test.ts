/*
 * The official Gateway API conformance suite (sigs.k8s.io/gateway-api/conformance, the GATEWAY-HTTP
 * profile) run against Passerelle, in the mode PASSERELLE_MODE names (default native):
 *
 * - a real etcd + kube-apiserver (test/kube/harness.ts) with the Gateway API's standard CRDs;
 * - kube-controller-manager, kube-scheduler and kwok make the suite's Deployments into Ready pods with
 *   IPs of 192.0.2.128/25 and EndpointSlices (nodes.ts), and echo.ts starts echo-basic for each on its
 *   pod IP (all of 192.0.2.0/24 is local in the namespace of scripts/in-netns.sh); each one's output is
 *   its pod's log, which the apiserver gets from kwok's kubelet API (the mirror tests read it);
 * - Passerelle runs in this process on 192.0.2.1:80, :443 (TLS), :8080 and :8090 with the controller's RBAC-limited
 *   kubeconfig, serving the GatewayClass `passerelle`; each Gateway gets an address of its own from
 *   192.0.2.64/27 (`gatewayAddressPool`: Passerelle listens there too), published in its status;
 * - the suite (a Go test binary) then runs as admin; its report goes to docs/conformance/<mode>.yaml.
 *
 * Binaries: bash scripts/gateway-conformance-binaries.sh. Run: npm run test:gateway-conformance.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/model/k8s.ts';
import { GATEWAY_SUPPORTED_FEATURES } from '../../src/model/gateway-api.ts';
import { DEFAULT_GATEWAY_CONTROLLER_NAME } from '../../src/model/translate/index.ts';
import { KubeApiError } from '../../src/sources/kubernetes/client.ts';
import { ALL_MODES, NODE_ADDRESS, requireNetns, startPasserelle, type Mode, type Passerelle } from '../conformance/env.ts';
import { installGatewayCrds } from '../kube/gateway-crds.ts';
import { startCluster, type Cluster } from '../kube/harness.ts';
import { requireConformanceBinaries, type ConformanceBinaries } from './binaries.ts';
import { isEchoBasic, startEchoRunner, type EchoRunner } from './echo.ts';
import { startWorkloads, WORKLOAD_APISERVER_ARGS, type Workloads } from './nodes.ts';
import { startProc } from './procs.ts';

const root = path.resolve(import.meta.dirname, '../..');

function modeOfEnv(): Mode {
  const env = process.env['PASSERELLE_MODE'] ?? 'native';
  if (!(ALL_MODES as readonly string[]).includes(env)) throw new Error(`PASSERELLE_MODE must be one of ${ALL_MODES.join(', ')} for the Gateway API conformance run (one mode per run), not "${env}"`);
  return env as Mode;
}

const mode = modeOfEnv();
const GATEWAY_CLASS = 'passerelle';
/** The core features of the GATEWAY-HTTP profile (sigs.k8s.io/gateway-api/pkg/features). */
/** The features claimed: the profile's core ones and the extended ones Passerelle implements in the three modes (each must pass). */
/** The suite's namespaces of backends (its base manifests). */
const BACKEND_NAMESPACES = ['gateway-conformance-infra', 'gateway-conformance-app-backend', 'gateway-conformance-web-backend'];

interface PodLite {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: { containers: { name: string; image?: string; env?: { name: string }[] }[]; volumes?: { secret?: unknown; configMap?: unknown }[] };
  status?: { podIP?: string; phase?: string };
}

/** GET http://ip:port/path with node:http: the JSON echo-basic answers. */
function echoGet(ip: string, port: number, urlPath = '/'): Promise<{ pod?: string; namespace?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port, path: urlPath, timeout: 2000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { pod?: string; namespace?: string });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * A pod's log as the suite reads it (client-go's GetLogs with a container and a sinceTime): GET
 * /api/v1/namespaces/NS/pods/POD/log through the apiserver, as admin (from its kubeconfig), as text.
 */
function podLog(cluster: Cluster, namespace: string, pod: string, container: string, since: Date): Promise<string> {
  const config = parseYaml(readFileSync(cluster.kubeconfig('admin'), 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { token: string } }[];
  };
  const server = config.clusters[0]?.cluster;
  const token = config.users[0]?.user.token;
  assert.ok(server && token, 'the admin kubeconfig names a server and a token');
  const url = new URL(`/api/v1/namespaces/${namespace}/pods/${pod}/log`, server.server);
  url.searchParams.set('container', container);
  // Whole seconds, as metav1.Time is sent.
  url.searchParams.set('sinceTime', new Date(Math.floor(since.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z'));
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: Buffer.from(server['certificate-authority-data'], 'base64'), headers: { Authorization: `Bearer ${token}` }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`GET ${url.pathname}${url.search}: HTTP ${res.statusCode ?? 0}: ${text.slice(0, 500)}`));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: timeout`)));
    req.on('error', reject);
  });
}

async function waitUntil(what: string, ms: number, check: () => Promise<string | true>): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      const r = await check();
      if (r === true) return;
      last = r;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${last}`);
    await sleep(250);
  }
}

/** Each Gateway's own address (`gatewayAddressPool`): 192.0.2.64–95, local in the namespace, used by nothing else. */
const GATEWAY_POOL = Array.from({ length: 32 }, (_, i) => `192.0.2.${64 + i}`);

/** Whether an IPv4 address is in 192.0.2.128/25. */
const inPodCidr = (ip: string): boolean => /^192\.0\.2\.(\d+)$/.test(ip) && Number(ip.split('.')[3]) >= 128;

/** One line of `go test -v` output about a test of the suite. */
const RESULT = /^\s*--- (PASS|FAIL|SKIP): (TestConformance\/\S+) \(([\d.]+)s\)/;

describe(`Gateway API conformance, GATEWAY-HTTP (${mode} mode)`, () => {
  let bins: ConformanceBinaries;
  let dir: string;
  let cluster: Cluster | undefined;
  let workloads: Workloads | undefined;
  let echo: EchoRunner | undefined;
  let passerelle: Passerelle | undefined;

  const diagnostics = (): string =>
    [
      `--- echo runner: ${echo?.running().length ?? 0} echo-basic running; errors: ---`,
      ...(echo?.errors().slice(-20) ?? []),
      workloads?.logs(15) ?? '',
      '--- passerelle (warnings and errors) ---',
      ...(passerelle?.logger.lines.slice(-40) ?? []),
    ].join('\n');

  before(async () => {
    requireNetns();
    bins = requireConformanceBinaries();
    dir = await mkdtemp(path.join(tmpdir(), `passerelle-gwc-${mode}-`));
    cluster = await startCluster({ apiserverArgs: WORKLOAD_APISERVER_ARGS });
    await installGatewayCrds(cluster);
    workloads = await startWorkloads(cluster, bins);
    echo = startEchoRunner(cluster.client('admin'), bins.echoBasic, path.join(dir, 'pods'));
  });

  after(async () => {
    await passerelle?.stop();
    await echo?.stop();
    await workloads?.stop();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("the suite's backends run: Deployments Ready, pods with IPs of 192.0.2.128/25 answered by echo-basic, EndpointSlices", { timeout: 240_000 }, async (t) => {
    assert.ok(cluster && echo);
    const admin = cluster.client('admin');
    // The Namespaces, Deployments and Services of the suite's base manifests (the suite applies
    // them again, with its Gateways, once the GatewayClass is accepted).
    const objects = parseAllDocuments(readFileSync(bins.baseManifests, 'utf8'))
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o !== null && ['Namespace', 'Deployment', 'Service'].includes(o.kind ?? ''));
    for (const obj of objects) await cluster.apply(obj);
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    assert.ok(deployments.length >= 5, `the base manifests hold the suite's echo Deployments (found ${deployments.length})`);
    const started = Date.now();
    await waitUntil('every Deployment of the base manifests Ready', 180_000, async () => {
      const notReady: string[] = [];
      for (const d of deployments) {
        const cur = await admin.request<{ spec?: { replicas?: number }; status?: { readyReplicas?: number } }>('GET', `/apis/apps/v1/namespaces/${d.metadata?.namespace ?? ''}/deployments/${d.metadata?.name ?? ''}`);
        if ((cur.status?.readyReplicas ?? 0) !== (cur.spec?.replicas ?? 1)) notReady.push(`${d.metadata?.namespace ?? ''}/${d.metadata?.name ?? ''} ${cur.status?.readyReplicas ?? 0}/${cur.spec?.replicas ?? 1}`);
      }
      return notReady.length === 0 ? true : `not ready: ${notReady.join(', ')}\n${diagnostics()}`;
    });
    t.diagnostic(`${deployments.length} Deployments Ready in ${Date.now() - started} ms`);

    // Every plain HTTP echo pod (not the gRPC/TCP/UDP variants, nor those whose Secret volumes the
    // suite creates later) answers on its pod IP as itself.
    const pods: PodLite[] = [];
    for (const ns of BACKEND_NAMESPACES) pods.push(...(await admin.request<{ items: PodLite[] }>('GET', `/api/v1/namespaces/${ns}/pods`)).items);
    const httpEchoes = pods.filter((p) => {
      const c = p.spec.containers.find(isEchoBasic);
      return c !== undefined && !(c.env ?? []).some((e) => /^(GRPC|TCP|UDP)_ECHO_SERVER$/.test(e.name)) && !(p.spec.volumes ?? []).some((v) => v.secret !== undefined || v.configMap !== undefined);
    });
    assert.ok(httpEchoes.length >= 5, `plain HTTP echo pods (found ${httpEchoes.length})`);
    for (const p of pods) assert.ok(inPodCidr(p.status?.podIP ?? ''), `pod ${p.metadata.namespace}/${p.metadata.name} has an IP of 192.0.2.128/25 (${p.status?.podIP ?? 'none'})`);
    await waitUntil('echo-basic answering on every HTTP echo pod IP', 60_000, async () => {
      for (const p of httpEchoes) {
        const reply = await echoGet(p.status?.podIP ?? '', 3000);
        if (reply.pod !== p.metadata.name || reply.namespace !== p.metadata.namespace) return `${p.status?.podIP ?? ''}:3000 answered as ${reply.namespace ?? '?'}/${reply.pod ?? '?'}, not ${p.metadata.namespace}/${p.metadata.name}`;
      }
      return true;
    });
    t.diagnostic(`${httpEchoes.length} HTTP echo pods answer on their IPs; echo-basic processes: ${echo.running().length}`);

    // kube-controller-manager's EndpointSlices list the Ready pods of infra-backend-v1 (2 replicas).
    const backendIps = httpEchoes.filter((p) => p.metadata.namespace === 'gateway-conformance-infra' && p.metadata.labels?.['app'] === 'infra-backend-v1').map((p) => p.status?.podIP ?? '');
    assert.equal(backendIps.length, 2);
    await waitUntil('the EndpointSlices of infra-backend-v1', 30_000, async () => {
      const slices = await admin.request<{ items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[]; ports?: { port?: number }[] }[] }>(
        'GET',
        '/apis/discovery.k8s.io/v1/namespaces/gateway-conformance-infra/endpointslices',
        { query: { labelSelector: 'kubernetes.io/service-name=infra-backend-v1' } },
      );
      const ready = slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready === true).flatMap((e) => e.addresses));
      const ports = slices.items.flatMap((s) => (s.ports ?? []).map((p) => p.port));
      return JSON.stringify([...ready].sort()) === JSON.stringify([...backendIps].sort()) && ports.includes(3000) ? true : `ready ${ready.join(',')} ports ${ports.join(',')}, want ${backendIps.join(',')} port 3000`;
    });
  });

  test("each echo pod's output is its own log, read through the apiserver as the suite reads it (kwok's kubelet API)", { timeout: 60_000 }, async (t) => {
    assert.ok(cluster && echo && workloads);
    const c = cluster;
    const admin = c.client('admin');
    // The two replicas of infra-backend-v1: one is asked for a path of its own, the other is not.
    const pods = (await admin.request<{ items: PodLite[] }>('GET', '/api/v1/namespaces/gateway-conformance-infra/pods', { query: { labelSelector: 'app=infra-backend-v1' } })).items.filter(
      (p) => p.status?.phase === 'Running',
    );
    const [asked, other] = pods;
    assert.ok(asked && other, `two Running infra-backend-v1 pods (found ${pods.length})`);
    const container = asked.spec.containers.find(isEchoBasic)?.name ?? '';
    assert.equal(container, 'infra-backend-v1', "the echo container is named like the app (the suite reads the logs of the container named like the backend)");
    // Before the pods started (the start-up line is in the window).
    const since = new Date(Date.now() - 3_600_000);
    // The port is echo-basic's own (a local one; the relay listens on the pod's 3000).
    const started = /^Starting server, listening on port \d+ \(http\)$/m;
    const unique = `/passerelle-log-check-${Date.now()}`;
    const logs: Record<string, string> = {};
    try {
      const reply = await echoGet(asked.status?.podIP ?? '', 3000, unique);
      assert.equal(reply.pod, asked.metadata.name);
      await waitUntil(`the request to ${unique} in the log of ${asked.metadata.name}`, 20_000, async () => {
        for (const p of [asked, other]) logs[p.metadata.name] = await podLog(c, p.metadata.namespace, p.metadata.name, container, since);
        return (logs[asked.metadata.name] ?? '').includes(`Echoing back request made to ${unique} to client`) ? true : `log of ${asked.metadata.name}:\n${logs[asked.metadata.name] ?? ''}`;
      });
    } catch (err) {
      throw new Error(`pod logs do not work (kwok's kubelet API on ${workloads.kubelet}, log file ${echo.logFile(`${asked.metadata.namespace}/${asked.metadata.name}`) ?? 'none'}): ${(err as Error).message}\n${diagnostics()}`, { cause: err });
    }
    for (const p of [asked, other]) assert.match(logs[p.metadata.name] ?? '', started, `the log of ${p.metadata.name} holds echo-basic's start-up line:\n${logs[p.metadata.name] ?? ''}`);
    assert.ok(!(logs[other.metadata.name] ?? '').includes(unique), `the log of ${other.metadata.name} does not hold the other pod's request:\n${logs[other.metadata.name] ?? ''}`);
    // sinceTime is applied: nothing of a log is older than it.
    const none = await podLog(cluster, asked.metadata.namespace, asked.metadata.name, container, new Date(Date.now() + 5_000));
    assert.equal(none, '', 'a sinceTime after every line gives an empty log');
    t.diagnostic(`logs of ${asked.metadata.name} and ${other.metadata.name} read through the apiserver from kwok on ${workloads.kubelet}`);
  });

  test(`the official suite passes (${mode} mode)`, { timeout: 50 * 60_000 }, async (t) => {
    assert.ok(cluster && echo);
    passerelle = await startPasserelle(cluster, mode, {
      ports: { http: 80, https: 443 },
      // The suite's listeners on 8080 (GatewayPort8080) and 8090 (HTTPRouteListenerPortMatching).
      moreHttp: [
        { name: 'http8080', port: 8080 },
        { name: 'http8090', port: 8090 },
      ],
      kubernetes: ['leaderElection = false', `gatewayControllerName = "${DEFAULT_GATEWAY_CONTROLLER_NAME}"`, `gatewayAddresses = ["${NODE_ADDRESS}"]`, `gatewayAddressPool = [${GATEWAY_POOL.map((a) => `"${a}"`).join(', ')}]`],
    });
    const admin = cluster.client('admin');
    const gatewayClass = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: GATEWAY_CLASS }, spec: { controllerName: DEFAULT_GATEWAY_CONTROLLER_NAME } };
    try {
      await admin.request('POST', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', { body: gatewayClass });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    }
    // The suite reads the features to test from the GatewayClass's status, once, when it starts.
    await waitUntil('the GatewayClass status lists the supported features', 30_000, async () => {
      const gwc = await admin.request<{ status?: { supportedFeatures?: { name: string }[] } }>('GET', `/apis/gateway.networking.k8s.io/v1/gatewayclasses/${GATEWAY_CLASS}`);
      const names = (gwc.status?.supportedFeatures ?? []).map((f) => f.name);
      return JSON.stringify(names) === JSON.stringify(GATEWAY_SUPPORTED_FEATURES) ? true : `supportedFeatures ${names.join(',') || 'none'}`;
    });

    // PASSERELLE_GATEWAY_FEATURES (comma-separated) overrides them; the suite infers none for a single test.
    const features = process.env['PASSERELLE_GATEWAY_FEATURES'] ?? (process.env['PASSERELLE_GATEWAY_RUN_TEST'] ? GATEWAY_SUPPORTED_FEATURES.join(',') : '');
    const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
    const report = path.join(dir, 'report.yaml');
    const logFile = path.join(tmpdir(), `passerelle-gateway-conformance-${mode}.log`);
    const log = createWriteStream(logFile);
    const results: { result: string; name: string; seconds: number }[] = [];
    const args = [
      '-test.v',
      '-test.run=^TestConformance$',
      '-test.count=1',
      '-test.timeout=45m',
      `--gateway-class=${GATEWAY_CLASS}`,
      '--conformance-profiles=GATEWAY-HTTP',
      ...(features === '' ? [] : [`--supported-features=${features}`]),
      ...(process.env['PASSERELLE_GATEWAY_RUN_TEST'] ? [`--run-test=${process.env['PASSERELLE_GATEWAY_RUN_TEST']}`] : []),
      `--report-output=${report}`,
      '--organization=passerelle',
      '--project=passerelle',
      '--url=https://passerelle.dev',
      `--version=v${version}`,
      '--contact=https://passerelle.dev',
      `--mode=${mode}`,
      '--cleanup-base-resources=false',
      // GatewayStaticAddresses: the pool's last address (the suite's few Gateways take the first ones) and one outside it.
      `--usable-address=${GATEWAY_POOL[GATEWAY_POOL.length - 1] ?? ''}`,
      '--unusable-address=198.51.100.7',
      // A local cluster: what is not accepted within a minute will not be.
      '--timeout-config-overrides=GWCMustBeAccepted:60;NamespacesMustBeReady:180',
    ];
    const started = Date.now();
    const suite = startProc('conformance', bins.suite, args, {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig('admin') },
      cwd: dir,
      keep: 400,
      onLine: (line) => {
        log.write(`${line}\n`);
        const m = RESULT.exec(line);
        // Only the suite's tests, not their subtests.
        if (m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined && m[2].split('/').length === 2) {
          results.push({ result: m[1], name: m[2].slice('TestConformance/'.length), seconds: Number(m[3]) });
          if (m[1] !== 'SKIP') process.stdout.write(`# ${m[1]} ${m[2]} (${m[3]} s)\n`);
        }
      },
    });
    const code = await new Promise<number | null>((resolve) => suite.child.on('exit', (c) => resolve(c)));
    await new Promise<void>((resolve) => log.end(() => resolve()));
    const seconds = Math.round((Date.now() - started) / 1000);

    const count = (r: string): number => results.filter((x) => x.result === r).length;
    const summary = [
      `suite exit code ${code ?? 'signal'} after ${seconds} s; ${count('PASS')} passed, ${count('FAIL')} failed, ${count('SKIP')} skipped; full output: ${logFile}`,
      ...results.filter((r) => r.result !== 'SKIP').map((r) => `${r.result.padEnd(4)} ${r.name} (${r.seconds} s)`),
      // Tests outside the profile and features claimed: one line.
      `SKIP ${results.filter((r) => r.result === 'SKIP').map((r) => r.name).join(', ')}`,
    ].join('\n');
    for (const line of summary.split('\n')) t.diagnostic(line);

    // A run of one test is no report of the profile: it stays in the temp directory.
    if (existsSync(report) && !process.env['PASSERELLE_GATEWAY_RUN_TEST'] && process.env['PASSERELLE_GATEWAY_NO_REPORT'] !== '1') {
      const target = path.join(root, 'docs', 'conformance', `${mode}.yaml`);
      mkdirSync(path.dirname(target), { recursive: true });
      copyFileSync(report, target);
      // The suite writes it 0600; the copy is a file of the repository.
      chmodSync(target, 0o644);
      t.diagnostic(`report: ${path.relative(root, target)}`);
    }
    assert.equal(code, 0, `the conformance suite failed:\n${summary}\n--- suite output (last lines) ---\n${suite.tail(80)}\n${diagnostics()}`);
    assert.ok(existsSync(report), 'the suite wrote its report');
    const text = await readFile(report, 'utf8');
    assert.match(text, /GATEWAY-HTTP/);
    if (!process.env['PASSERELLE_GATEWAY_RUN_TEST']) {
      // Exit code 0 with every test skipped would pass too: the report must say the profile's core and extended parts succeeded.
      assert.match(text, /- core:\n\s+result: success\n/, 'the core profile succeeded');
      assert.match(text, /extended:\n\s+result: success\n/, 'the claimed extended features succeeded');
      assert.ok(count('PASS') >= 40, `${count('PASS')} tests passed`);
    }
  });
});
