/*
 * A real Kubernetes control plane for the integration tests (the envtest approach): etcd and
 * kube-apiserver, built by scripts/kube-binaries.sh, started on 127.0.0.1 with free ports, temp data
 * dirs, generated serving certificates, a service-account key pair, static tokens and RBAC on.
 *
 * Users: `admin` (system:masters) sets up the tests; `controller` authenticates as the
 * ServiceAccount passerelle/passerelle, so the ClusterRole and Role of deploy/base/rbac.yaml (applied by
 * startCluster) are exactly what it may do: a missing permission fails a test; `nobody` is
 * authenticated and granted nothing.
 *
 * Faults: the apiserver can be stopped and started (etcd keeps the data), and a relay (a TCP proxy
 * in this process, used by the kubeconfigs asked for with `{ relay: true }`) can reset every
 * connection through it, as a load balancer's idle reset or a rolling apiserver restart would.
 */

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir, homedir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/model/k8s.ts';
import { KubeApiError, KubeClient, loadKubeConfig } from '../../src/sources/kubernetes/client.ts';
import { resourcePath, type ResourceType } from '../../src/sources/kubernetes/informer.ts';
import { freePort } from '../ports.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

/** The users of the test cluster. */
export type ClusterUser = 'admin' | 'controller' | 'nobody';

/** Options of {@link Cluster.kubeconfig}. */
export interface KubeconfigOptions {
  /** Through the relay whose connections {@link Cluster.resetConnections} resets (default false). */
  readonly relay?: boolean;
}

/** The ServiceAccount the controller user authenticates as (deploy/base/rbac.yaml binds it). */
export const CONTROLLER_NAMESPACE = 'passerelle';
export const CONTROLLER_SERVICE_ACCOUNT = 'passerelle';

/** A running etcd + kube-apiserver. */
export interface Cluster {
  /** `https://127.0.0.1:PORT`. */
  readonly server: string;
  /** A kubeconfig file for that user. */
  kubeconfig(user: ClusterUser, options?: KubeconfigOptions): string;
  /** A client of that user. */
  client(user: ClusterUser): KubeClient;
  /** Creates an object as admin, or replaces it when it exists; returns what the apiserver stored. */
  apply(obj: KubeObject): Promise<KubeObject>;
  /** Deletes an object as admin (no error when it is already gone). */
  remove(obj: KubeObject): Promise<void>;
  /** Compacts etcd up to its current revision: older resourceVersions are gone (410) from then on. */
  compactEtcd(): Promise<number>;
  /** Stops kube-apiserver, waits `downMs`, starts it again on the same port (etcd keeps the data). */
  restartApiserver(downMs?: number): Promise<void>;
  /** Stops kube-apiserver (SIGTERM, then SIGKILL after 5 s); its port then refuses connections. */
  stopApiserver(): Promise<void>;
  /** Starts kube-apiserver again on the same port; resolves when /readyz answers 200. */
  startApiserver(): Promise<void>;
  /** Resets (TCP RST) every connection through the relay, both ways; returns how many there were. */
  resetConnections(): number;
  /** The last lines of the apiserver's and etcd's logs. */
  logs(): string;
  stop(): Promise<void>;
}

/** Where scripts/kube-binaries.sh puts the binaries, unless PASSERELLE_KUBE_APISERVER / PASSERELLE_ETCD say otherwise. */
export function kubeBinaries(): { apiserver: string; etcd: string; version: string } {
  const goMod = readFileSync(path.join(root, 'test/kube/go.mod'), 'utf8');
  const version = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\S+)/m.exec(goMod)?.[1] ?? 'unknown';
  const cache = process.env['PASSERELLE_CACHE'] ?? path.join(homedir(), '.cache', 'passerelle');
  const dir = path.join(cache, 'kube', version);
  return {
    apiserver: process.env['PASSERELLE_KUBE_APISERVER'] ?? path.join(dir, 'kube-apiserver'),
    etcd: process.env['PASSERELLE_ETCD'] ?? path.join(dir, 'etcd'),
    version,
  };
}

/** Throws a clear error when the binaries are missing (the tests never skip). */
export function requireKubeBinaries(): { apiserver: string; etcd: string } {
  const bins = kubeBinaries();
  const missing = [bins.apiserver, bins.etcd].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `the Kubernetes integration tests need a real kube-apiserver and etcd (${bins.version}), missing: ${missing.join(', ')}.\n` +
        'Build them once with: bash scripts/kube-binaries.sh (about 10 minutes on 2 cores, cached afterwards), ' +
        'or set PASSERELLE_KUBE_APISERVER and PASSERELLE_ETCD.',
    );
  }
  return bins;
}


async function makeCerts(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  const cert = path.join(dir, 'apiserver.crt');
  const key = path.join(dir, 'apiserver.key');
  const csr = path.join(dir, 'apiserver.csr');
  const ext = path.join(dir, 'apiserver.ext');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=passerelle-test-ca']);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=kube-apiserver']);
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { ca, cert, key };
}

function kubeconfigText(server: string, caPem: string, user: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: test\n  cluster:\n    server: ${server}\n    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}\n  user:\n    token: ${token}`,
    'contexts:',
    `- name: ${user}\n  context:\n    cluster: test\n    user: ${user}\n    namespace: default`,
    `current-context: ${user}`,
    '',
  ].join('\n');
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'IngressClass',
  'GatewayClass',
  'CustomResourceDefinition',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

/** The resource type of any object (plural by the usual English rules of Kubernetes kinds). */
export function typeOf(obj: KubeObject): ResourceType {
  const kind = obj.kind ?? '';
  const lower = kind.toLowerCase();
  const plural = lower.endsWith('s') ? `${lower}es` : /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : `${lower}s`;
  return { kind, apiVersion: obj.apiVersion ?? 'v1', plural, namespaced: !CLUSTER_SCOPED.has(kind) };
}

/** Reads the objects of a YAML file of the repository (e.g. `deploy/base/rbac.yaml`). */
export async function readManifests(rel: string): Promise<KubeObject[]> {
  const text = await readFile(path.join(root, rel), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null && typeof o === 'object');
}

interface Proc {
  child: ChildProcess;
  log: string[];
}

function startProcess(name: string, bin: string, args: string[]): Proc {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') log.push(line);
    if (log.length > 400) log.splice(0, log.length - 400);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => log.push(`${name}: ${err.message}`));
  return { child, log };
}

async function stopProcess(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = once(p.child, 'exit');
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

const live = new Set<Proc>();
process.once('exit', () => {
  for (const p of live) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

function get(url: string, ca: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, headers: { Authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/** A TCP relay to the apiserver whose connections can be reset. */
interface Relay {
  readonly port: number;
  reset(): number;
  close(): Promise<void>;
}

/**
 * Resets a socket (RST), or destroys it when a reset is not possible: Node cannot reset a socket
 * whose end() is under way (uv_tcp_close_reset fails with EINVAL and the handle is never closed,
 * which hangs the process at exit), nor one still connecting.
 */
function hangUp(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting || socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * Relays 127.0.0.1:(free port) to the apiserver's port, byte for byte (TLS goes through untouched:
 * the serving certificate names 127.0.0.1). A connection the apiserver refuses is reset.
 */
async function startRelay(upstreamPort: number): Promise<Relay> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const reset = (): number => {
    const n = pairs.size;
    for (const { client, upstream } of pairs) {
      hangUp(client);
      hangUp(upstream);
    }
    pairs.clear();
    return n;
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // Whatever ends one side ends the other, as a reset when it was one.
    upstream.on('error', () => hangUp(client));
    client.on('error', () => hangUp(upstream));
    upstream.on('close', () => {
      client.destroy();
      pairs.delete(pair);
    });
    client.on('close', () => {
      upstream.destroy();
      pairs.delete(pair);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : 0,
    reset,
    async close() {
      reset();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Options of {@link startCluster}. */
export interface StartClusterOptions {
  /** More kube-apiserver flags, after the harness's own (e.g. how to reach kubelets, for a run with nodes). */
  readonly apiserverArgs?: readonly string[];
}

/** Starts etcd and kube-apiserver and applies deploy/base/namespace.yaml and deploy/base/rbac.yaml. */
export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const bins = requireKubeBinaries();
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-kube-'));
  let etcd: Proc | undefined;
  let apiserver: Proc | undefined;
  let relay: Relay | undefined;
  const tail = (): string =>
    [`--- etcd ---`, ...(etcd?.log.slice(-30) ?? []), `--- kube-apiserver ---`, ...(apiserver?.log.slice(-60) ?? [])].join('\n');
  const cleanup = async (): Promise<void> => {
    await relay?.close();
    await stopProcess(apiserver);
    await stopProcess(etcd);
    if (apiserver) live.delete(apiserver);
    if (etcd) live.delete(etcd);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    await mkdir(path.join(dir, 'etcd'), { mode: 0o700 });
    etcd = startProcess('etcd', bins.etcd, [
      '--name=test',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    live.add(etcd);

    const certs = await makeCerts(dir);
    const caPem = await readFile(certs.ca, 'utf8');
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = path.join(dir, 'sa.key');
    const saPub = path.join(dir, 'sa.pub');
    await writeFile(saKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(saPub, sa.publicKey.export({ type: 'spki', format: 'pem' }));
    const tokens: Record<ClusterUser, string> = { admin: randomBytes(24).toString('hex'), controller: randomBytes(24).toString('hex'), nobody: randomBytes(24).toString('hex') };
    const saUser = `system:serviceaccount:${CONTROLLER_NAMESPACE}:${CONTROLLER_SERVICE_ACCOUNT}`;
    await writeFile(
      path.join(dir, 'tokens.csv'),
      `${tokens.admin},admin,admin,"system:masters"\n${tokens.controller},${saUser},passerelle-sa,"system:serviceaccounts,system:serviceaccounts:${CONTROLLER_NAMESPACE}"\n` +
        `${tokens.nobody},nobody,nobody\n`,
      { mode: 0o600 },
    );
    const server = `https://127.0.0.1:${apiPort}`;
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${dir}`,
      `--tls-cert-file=${certs.cert}`,
      `--tls-private-key-file=${certs.key}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      '--v=1',
      ...(options.apiserverArgs ?? []),
    ];
    const startApiserver = (): Proc => {
      const p = startProcess('kube-apiserver', bins.apiserver, apiArgs);
      live.add(p);
      return p;
    };
    const waitReady = async (p: Proc): Promise<void> => {
      const deadline = Date.now() + 90_000;
      while ((await get(`${server}/readyz`, caPem, tokens.admin)) !== 200) {
        if (p.child.exitCode !== null) throw new Error(`kube-apiserver exited with code ${p.child.exitCode}`);
        if (Date.now() > deadline) throw new Error('kube-apiserver not ready within 90 s');
        await sleep(200);
      }
    };
    apiserver = startApiserver();
    await waitReady(apiserver);
    relay = await startRelay(apiPort);

    const users: Record<ClusterUser, string> = { admin: 'admin', controller: saUser.replaceAll(':', '-'), nobody: 'nobody' };
    const kubeconfigs = new Set<string>();
    const kubeconfig = (user: ClusterUser, options: KubeconfigOptions = {}): string => {
      const file = path.join(dir, `${user}${options.relay === true ? '-relay' : ''}.kubeconfig`);
      if (!kubeconfigs.has(file)) {
        // Written once, synchronously: callers use the path at once.
        writeFileSync(file, kubeconfigText(options.relay === true ? `https://127.0.0.1:${relay?.port ?? 0}` : server, caPem, users[user], tokens[user]), { mode: 0o600 });
        kubeconfigs.add(file);
      }
      return file;
    };
    const clients = new Map<ClusterUser, KubeClient>();
    const client = (user: ClusterUser): KubeClient => {
      let c = clients.get(user);
      if (c === undefined) {
        c = new KubeClient(loadKubeConfig({ kubeconfig: kubeconfig(user) }));
        clients.set(user, c);
      }
      return c;
    };
    const admin = client('admin');
    const apply = async (obj: KubeObject): Promise<KubeObject> => {
      const type = typeOf(obj);
      const ns = type.namespaced ? (obj.metadata?.namespace ?? 'default') : undefined;
      const name = obj.metadata?.name ?? '';
      try {
        return await admin.request<KubeObject>('POST', resourcePath(type, ns), { body: obj });
      } catch (err) {
        if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
      }
      const current = await admin.request<KubeObject>('GET', resourcePath(type, ns, name));
      const body = { ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata?.resourceVersion } };
      return admin.request<KubeObject>('PUT', resourcePath(type, ns, name), { body });
    };
    const remove = async (obj: KubeObject): Promise<void> => {
      const type = typeOf(obj);
      const ns = type.namespaced ? (obj.metadata?.namespace ?? 'default') : undefined;
      try {
        await admin.request('DELETE', resourcePath(type, ns, obj.metadata?.name ?? ''));
      } catch (err) {
        if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
      }
    };

    for (const obj of [...(await readManifests('deploy/base/namespace.yaml')), ...(await readManifests('deploy/base/rbac.yaml'))]) await apply(obj);
    const stopApiserver = async (): Promise<void> => {
      const old = apiserver;
      await stopProcess(old);
      if (old) live.delete(old);
    };
    const startAgain = async (): Promise<void> => {
      if (apiserver && apiserver.child.exitCode === null && apiserver.child.signalCode === null) throw new Error('kube-apiserver is already running');
      apiserver = startApiserver();
      await waitReady(apiserver);
    };

    return {
      server,
      kubeconfig,
      client,
      apply,
      remove,
      async compactEtcd() {
        // etcd's JSON gateway of its gRPC API.
        const post = async (api: string, body: unknown): Promise<{ header?: { revision?: string } }> => {
          const res = await fetch(`${etcdUrl}${api}`, { method: 'POST', body: JSON.stringify(body) });
          if (!res.ok) throw new Error(`etcd ${api}: HTTP ${res.status} ${await res.text()}`);
          return (await res.json()) as { header?: { revision?: string } };
        };
        const revision = Number((await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') })).header?.revision ?? 0);
        await post('/v3/kv/compaction', { revision, physical: true });
        return revision;
      },
      async restartApiserver(downMs = 0) {
        await stopApiserver();
        await sleep(downMs);
        await startAgain();
      },
      stopApiserver,
      startApiserver: startAgain,
      resetConnections: () => relay?.reset() ?? 0,
      logs: tail,
      stop: cleanup,
    };
  } catch (err) {
    const logs = tail();
    await cleanup();
    throw new Error(`could not start the test cluster: ${(err as Error).message}\n${logs}`, { cause: err });
  }
}
