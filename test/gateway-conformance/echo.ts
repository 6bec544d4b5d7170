/*
 * The conformance run's only stand-in for a container runtime: for each Running pod (kwok gives it
 * an IP) whose container is the suite's echo-basic image, an echo-basic process with the env the pod
 * spec gives it (values, field references such as POD_NAME and NAMESPACE, Secret and ConfigMap keys;
 * the files of Secret volumes written to a directory and paths under their mountPath rewritten to it),
 * reachable on the pod IP at the pod's ports; stopped when the pod goes.
 *
 * echo-basic listens on every address (":3000"), so two of them cannot share a port even on
 * different pod IPs: each gets free ports on 127.0.0.1 and a TCP relay in this process listens on
 * podIP:port for each of its ports (HTTP_PORT 3000, H2C_PORT 3001, HTTPS_PORT 8443 by default; see
 * portEnv for the gRPC, TCP and UDP variants).
 *
 * Its output is the pod's log, as a kubelet keeps it: each line goes to a file of its own for the pod
 * in the CRI log format, and a kwok `Logs` object named like the pod names that file for the pod's
 * container, so kwok's kubelet server answers `GET /api/v1/namespaces/NS/pods/POD/log` through the
 * apiserver (the suite's mirror tests read the backends' logs that way). The object and the file go
 * with the pod.
 */

import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, type KubeClient } from '../../src/sources/kubernetes/client.ts';
import { freePort } from '../ports.ts';
import { startProc, type Proc } from './procs.ts';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string }[];
}

interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  configMap?: { name: string; items?: { key: string; path: string }[] };
}

/** The fields of a Pod the runner reads. */
interface Pod {
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: Container[]; volumes?: Volume[]; serviceAccountName?: string };
  status?: { phase?: string; podIP?: string; hostIP?: string };
}

/** One echo-basic started for a pod. */
interface Running {
  readonly key: string;
  readonly ip: string;
  readonly proc: Proc;
  readonly relays: net.Server[];
  readonly dir: string;
  readonly ports: Record<string, number>;
  /** The pod's log file (CRI format) and the kwok Logs object naming it. */
  readonly log: PodLog;
}

/**
 * The TCP ports of each kind of echo-basic (chosen by an env variable: HTTP by default), by the env
 * variable that changes each, with their defaults. The UDP server (UDP_ECHO_SERVER, UDP_PORT 8080)
 * gets a free port but no relay: only TCP is relayed.
 */
function portEnv(env: Record<string, string>): Record<string, number> {
  if (env['GRPC_ECHO_SERVER']) return { HTTP_PORT: 3000, HTTPS_PORT: 8443 };
  if (env['TCP_ECHO_SERVER']) return { TCP_PORT: 3000, TLS_PORT: 8443 };
  if (env['UDP_ECHO_SERVER']) return { UDP_PORT: 8080 };
  return { HTTP_PORT: 3000, H2C_PORT: 3001, HTTPS_PORT: 8443 };
}

/** The kwok API of the `Logs` objects (its Logs CRD, installed by nodes.ts). */
const KWOK_LOGS = '/apis/kwok.x-k8s.io/v1alpha1';

/**
 * One line of a container log file as a CRI runtime writes it and k8s.io/cri-client/pkg/logs reads
 * it: `<RFC 3339 timestamp> <stdout|stderr> F <line>` (F: a full line, not a partial one).
 */
export function criLogLine(stream: 'stdout' | 'stderr', line: string, at: Date = new Date()): string {
  return `${at.toISOString()} ${stream} F ${line}\n`;
}

/** A pod's log: the file the echo-basic's lines are appended to, and the kwok Logs object naming it. */
interface PodLog {
  readonly file: string;
  /** Appends one line (nothing once closed). */
  write(line: string, stream: 'stdout' | 'stderr'): void;
  /** Deletes the Logs object, closes and removes the file. */
  remove(): Promise<void>;
}

/**
 * Creates the pod's log file (empty) and the kwok Logs object `namespace/podName` that points the
 * container's logs at it (replacing one left by an earlier pod of the same name).
 */
async function openPodLog(client: KubeClient, pod: Pod, container: string, file: string): Promise<PodLog> {
  const { namespace, name } = pod.metadata;
  const fd = openSync(file, 'w', 0o644);
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
  const url = `${KWOK_LOGS}/namespaces/${namespace}/logs`;
  const body = { apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Logs', metadata: { name, namespace }, spec: { logs: [{ containers: [container], logsFile: file }] } };
  try {
    try {
      await client.request('POST', url, { body });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
      const current = await client.request<{ metadata?: { resourceVersion?: string } }>('GET', `${url}/${name}`);
      await client.request('PUT', `${url}/${name}`, { body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } } });
    }
  } catch (err) {
    close();
    rmSync(file, { force: true });
    throw new Error(`the kwok Logs object ${namespace}/${name}: ${(err as Error).message}`, { cause: err });
  }
  return {
    file,
    write(line, stream) {
      // One write per line: kwok never reads half a line.
      if (open) writeSync(fd, criLogLine(stream, line));
    },
    async remove() {
      close();
      rmSync(file, { force: true });
      try {
        await client.request('DELETE', `${url}/${name}`);
      } catch (err) {
        if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
      }
    },
  };
}

/** What {@link startEchoRunner} returns. */
export interface EchoRunner {
  /** `namespace/name` of the pods an echo-basic serves now, with their IPs. */
  running(): { pod: string; ip: string; ports: Record<string, number> }[];
  /** Errors met so far (a pod whose Secret is missing is retried, not an error). */
  errors(): string[];
  /** The log file (CRI format) of the pod `namespace/name` an echo-basic serves now. */
  logFile(pod: string): string | undefined;
  /** The last lines of each echo-basic's log. */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

/** Whether a container is the suite's echo backend (registry.k8s.io/gateway-api/echo-basic:TAG). */
export function isEchoBasic(container: Container): boolean {
  return /(^|\/)echo-basic(:|@|$)/.test(container.image ?? '');
}

class Postpone extends Error {}

async function readData(client: KubeClient, kind: 'secrets' | 'configmaps', namespace: string, name: string): Promise<Record<string, Buffer> | undefined> {
  try {
    const obj = await client.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${namespace}/${kind}/${name}`);
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(obj.data ?? {})) out[k] = kind === 'secrets' ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8');
    return out;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

function fieldOf(pod: Pod, fieldPath: string): string {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP':
      return pod.status?.podIP ?? '';
    case 'status.hostIP':
      return pod.status?.hostIP ?? '';
    default:
      throw new Error(`pod ${pod.metadata.namespace}/${pod.metadata.name}: field reference ${fieldPath} is not supported by the echo runner`);
  }
}

/** The env and files a kubelet would give the container; throws Postpone while a Secret or ConfigMap it needs is missing. */
async function materialize(client: KubeClient, pod: Pod, container: Container, dir: string): Promise<Record<string, string>> {
  const ns = pod.metadata.namespace;
  const mounts: { mountPath: string; dir: string }[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.spec.volumes?.find((v) => v.name === mount.name);
    const source = volume?.secret ? { kind: 'secrets' as const, name: volume.secret.secretName, items: volume.secret.items } : volume?.configMap ? { kind: 'configmaps' as const, name: volume.configMap.name, items: volume.configMap.items } : undefined;
    if (source === undefined) continue;
    const data = await readData(client, source.kind, ns, source.name);
    if (data === undefined) throw new Postpone(`${source.kind} ${ns}/${source.name} is missing`);
    const target = path.join(dir, 'volumes', mount.name);
    mkdirSync(target, { recursive: true });
    const items = source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of items) {
      const bytes = data[item.key];
      if (bytes === undefined) throw new Postpone(`${source.kind} ${ns}/${source.name} has no key ${item.key}`);
      mkdirSync(path.dirname(path.join(target, item.path)), { recursive: true });
      writeFileSync(path.join(target, item.path), bytes, { mode: 0o600 });
    }
    mounts.push({ mountPath: mount.mountPath.replace(/\/+$/, ''), dir: target });
  }
  const env: Record<string, string> = {};
  for (const v of container.env ?? []) {
    let value: string | undefined;
    if (v.value !== undefined) value = v.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => env[name] ?? all);
    else if (v.valueFrom?.fieldRef) value = fieldOf(pod, v.valueFrom.fieldRef.fieldPath);
    else if (v.valueFrom?.secretKeyRef ?? v.valueFrom?.configMapKeyRef) {
      const ref = v.valueFrom.secretKeyRef ?? v.valueFrom.configMapKeyRef;
      if (ref === undefined) continue;
      const data = await readData(client, v.valueFrom.secretKeyRef ? 'secrets' : 'configmaps', ns, ref.name);
      const bytes = data?.[ref.key];
      if (bytes === undefined) {
        if (ref.optional === true) continue;
        throw new Postpone(`${ns}/${ref.name} key ${ref.key} is missing`);
      }
      value = bytes.toString('utf8');
    } else value = '';
    // A path into a volume the runner wrote out: the same file under its directory.
    for (const m of mounts) if (value === m.mountPath || value.startsWith(`${m.mountPath}/`)) value = m.dir + value.slice(m.mountPath.length);
    env[v.name] = value;
  }
  return env;
}

/** Relays podIP:port to 127.0.0.1:target, byte for byte. */
async function relay(ip: string, port: number, target: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen({ host: ip, port, exclusive: true });
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
  return server;
}

/**
 * Watches the cluster's Pods (a list every `intervalMs`) and keeps one echo-basic per Running
 * echo-basic pod with an IP, as described above.
 */
export function startEchoRunner(client: KubeClient, echoBasic: string, dir: string, intervalMs = 250): EchoRunner {
  const running = new Map<string, Running>();
  const errors: string[] = [];
  const postponed = new Map<string, string>();
  let stopped = false;
  const stopOne = async (r: Running): Promise<void> => {
    running.delete(r.key);
    for (const s of r.relays) s.close();
    await r.proc.stop(2000);
    rmSync(r.dir, { recursive: true, force: true });
    try {
      await r.log.remove();
    } catch (err) {
      if (!stopped) errors.push(`pod ${r.key}: deleting its kwok Logs object: ${(err as Error).message}`);
    }
  };
  const startOne = async (pod: Pod, key: string, ip: string, container: Container): Promise<void> => {
    const podDir = path.join(dir, `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid.slice(0, 8)}`);
    mkdirSync(podDir, { recursive: true });
    let env: Record<string, string>;
    try {
      env = await materialize(client, pod, container, podDir);
    } catch (err) {
      rmSync(podDir, { recursive: true, force: true });
      throw err;
    }
    const ports: Record<string, number> = {};
    const local: Record<string, string> = {};
    // A port of a server that does not listen (HTTPS without a certificate) is relayed all the same:
    // the connection is refused, as the pod's would be.
    for (const [name, fallback] of Object.entries(portEnv(env))) {
      const localPort = await freePort();
      if (name !== 'UDP_PORT') ports[name] = Number(env[name] ?? fallback);
      local[name] = String(localPort);
    }
    // Beside the pod's directory, not in it: the directory is the container's, the log the node's.
    let log: PodLog;
    try {
      log = await openPodLog(client, pod, container.name, `${podDir}.log`);
    } catch (err) {
      rmSync(podDir, { recursive: true, force: true });
      throw err;
    }
    // The pod's env, not this process's: only PATH and HOME besides (as a container's own env would).
    const proc = startProc(`echo-basic ${key}`, echoBasic, [], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: podDir, ...env, ...local },
      cwd: podDir,
      keep: 50,
      onLine: (line, stream) => log.write(line, stream),
    });
    const relays: net.Server[] = [];
    try {
      for (const [name, podPort] of Object.entries(ports)) relays.push(await relay(ip, podPort, Number(local[name])));
    } catch (err) {
      for (const s of relays) s.close();
      await proc.stop(1000);
      rmSync(podDir, { recursive: true, force: true });
      await log.remove().catch(() => undefined);
      throw err;
    }
    running.set(key, { key, ip, proc, relays, dir: podDir, ports, log });
  };
  const sync = async (): Promise<void> => {
    const list = await client.request<{ items: Pod[] }>('GET', '/api/v1/pods');
    const wanted = new Map<string, { pod: Pod; ip: string; container: Container }>();
    for (const pod of list.items) {
      const container = pod.spec.containers.find(isEchoBasic);
      const ip = pod.status?.podIP;
      if (container === undefined || ip === undefined || ip === '' || pod.status?.phase !== 'Running' || pod.metadata.deletionTimestamp !== undefined) continue;
      wanted.set(`${pod.metadata.namespace}/${pod.metadata.name}/${pod.metadata.uid}`, { pod, ip, container });
    }
    for (const r of [...running.values()]) {
      const w = wanted.get(r.key);
      if (w === undefined || w.ip !== r.ip || r.proc.exited()) {
        if (r.proc.exited() && w !== undefined) errors.push(`echo-basic of ${r.key} exited:\n${r.proc.tail(20)}`);
        await stopOne(r);
      }
    }
    for (const [key, w] of wanted) {
      if (running.has(key) || stopped) continue;
      try {
        await startOne(w.pod, key, w.ip, w.container);
        postponed.delete(key);
      } catch (err) {
        if (err instanceof Postpone) postponed.set(key, err.message);
        else errors.push(`pod ${key}: ${(err as Error).message}`);
      }
    }
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        await sync();
      } catch (err) {
        if (!stopped) errors.push(`listing pods: ${(err as Error).message}`);
      }
      await sleep(intervalMs);
    }
  })();
  return {
    running: () => [...running.values()].map((r) => ({ pod: r.key.split('/').slice(0, 2).join('/'), ip: r.ip, ports: r.ports })),
    errors: () => [...errors, ...[...postponed].map(([k, why]) => `pod ${k} waits: ${why}`)],
    logFile: (pod) => [...running.values()].find((r) => r.key.startsWith(`${pod}/`))?.log.file,
    logs: (lines = 10) => [...running.values()].map((r) => `--- ${r.proc.name} ---\n${r.proc.tail(lines)}`).join('\n'),
    async stop() {
      stopped = true;
      await loop;
      await Promise.all([...running.values()].map(stopOne));
    },
  };
}
