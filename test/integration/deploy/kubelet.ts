/*
 * A "process kubelet" for the deploy tests: runs a pod spec of deploy/ on this machine as a kubelet
 * would, one Linux process tree per container, without a container runtime (none here):
 *
 * - each container gets its own mount namespace whose root is an empty tmpfs holding only the
 *   image's files (the host's /usr and /etc under a copy-on-write overlay as the distribution layer,
 *   the image's own files bound from the repository as its Dockerfile COPYs them), then the pod's
 *   volumes at their mountPaths; all of it is then remounted read-only when
 *   `readOnlyRootFilesystem` says so, so a write anywhere but a declared volume fails as in the pod;
 * - it runs as the pod's `runAsUser`/`runAsGroup`, with the env a kubelet gives (the container's
 *   `env` with field references resolved, the Kubernetes service variables, HOSTNAME) and the image's
 *   ENV, ENTRYPOINT/CMD overridden by `command`/`args` as Kubernetes does;
 * - volumes: an `emptyDir` is one directory shared by the pod's containers (mode 0777), a
 *   `configMap` volume has the kubelet's layout (`..data` symlink, read-only), and the
 *   ServiceAccount token, CA and namespace are mounted at /var/run/secrets/kubernetes.io/serviceaccount;
 * - containers share the network (the test's private network namespace: the pod IP is one of its
 *   addresses) and, only with `shareProcessNamespace: true`, the process namespace; otherwise each
 *   has its own PID namespace, so the containers meet only through the volumes.
 *
 * Needs root (mount and PID namespaces) and `unshare`, `chroot`, `env` from util-linux/coreutils.
 */

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { root } from './manifests.ts';
import type { Container, PodSpec, Probe } from './manifests.ts';

/** What a container image holds, as far as running it here needs. */
export interface Image {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workdir: string;
  /** Files of the image that are not the distribution's: host path → path in the image. */
  readonly files: readonly { readonly source: string; readonly target: string }[];
  /** Folders of the host's distribution layer the image does not have (they are empty in it). */
  readonly hidden?: readonly string[];
}

/** A container's first process and its output. */
export interface RunningContainer {
  readonly name: string;
  readonly proc: ChildProcess;
  log(): string;
}

/** The ServiceAccount credentials and the apiserver address a kubelet gives a pod. */
export interface PodIdentity {
  readonly apiserverHost: string;
  readonly apiserverPort: number;
  readonly token: string;
  readonly caPem: string;
}

/** A pod to run. */
export interface PodOptions {
  readonly name: string;
  readonly namespace: string;
  readonly spec: PodSpec;
  /** One of the test network namespace's addresses: probes and EndpointSlices use it. */
  readonly podIP: string;
  /** The data of the ConfigMaps the volumes name. */
  readonly configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** The image a container's `image` names. */
  readonly image: (ref: string) => Image;
  readonly identity: PodIdentity;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// The containers run in their own process groups: nothing outlives the test process.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of live) if (proc.exitCode === null && proc.signalCode === null) signalGroup(proc, 'SIGKILL');
});

/**
 * A stock proxy image (`haproxy:2.6`, `nginx:1.28`), played by the distribution's binary in /usr. The
 * official nginx image has none of Debian's dynamic modules: they are hidden.
 */
export function stockImage(ref: string): Image {
  const hidden = ref.startsWith('nginx:') ? ['/usr/lib/nginx/modules', '/usr/share/nginx/modules', '/etc/nginx/modules-enabled'] : [];
  return { entrypoint: [], cmd: [], env: { PATH: DEFAULT_PATH }, workdir: '/', files: [], hidden };
}

/**
 * The image a Dockerfile target builds, read from the Dockerfile: ENV, WORKDIR, ENTRYPOINT and CMD
 * of the target and the stages it is FROM, and its COPY lines as files bound from the repository
 * (a COPY --from=STAGE of node_modules binds the repository's node_modules: same packages, plus the
 * dev ones). Node is the repository's pinned Node 24, at /usr/local/bin/node as in the node image.
 */
export function dockerfileImage(target: string): Image {
  const text = readFileSync(path.join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages = new Map<string, { from: string; lines: string[] }>();
  let current: { from: string; lines: string[] } | undefined;
  for (const line of text.split('\n')) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      current = { from: from[1] ?? '', lines: [] };
      if (from[2] !== undefined) stages.set(from[2], current);
    } else if (current && /^[A-Z]+\s/.test(line)) current.lines.push(line);
  }
  const chain: string[][] = [];
  for (let name: string | undefined = target; name !== undefined && stages.has(name); ) {
    const stage = stages.get(name);
    chain.unshift(stage?.lines ?? []);
    name = stage?.from;
  }
  if (chain.length === 0) throw new Error(`the Dockerfile has no target ${target}`);
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  const files: { source: string; target: string }[] = [{ source: realpathSync(path.join(root, 'node_modules/node/bin/node')), target: '/usr/local/bin/node' }];
  let workdir = '/';
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  const json = (rest: string): string[] => JSON.parse(rest) as string[];
  for (const line of chain.flat()) {
    const [, op = '', rest = ''] = /^(\S+)\s+(.*)$/.exec(line.trim()) ?? [];
    switch (op.toUpperCase()) {
      case 'ENV':
        for (const m of rest.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) env[m[1] ?? ''] = (m[2] ?? '').replace(/^"|"$/g, '');
        break;
      case 'WORKDIR':
        workdir = path.posix.resolve(workdir, rest.trim());
        break;
      case 'ENTRYPOINT':
        entrypoint = json(rest);
        break;
      case 'CMD':
        cmd = json(rest);
        break;
      case 'COPY': {
        const words = rest.trim().split(/\s+/).filter((w) => !w.startsWith('--chown') && !w.startsWith('--chmod'));
        const fromStage = words[0]?.startsWith('--from=') === true;
        const args = fromStage ? words.slice(1) : words;
        const dest = path.posix.resolve(workdir, args[args.length - 1] ?? '.');
        for (const src of args.slice(0, -1)) {
          const host = fromStage ? path.join(root, path.posix.basename(src)) : path.join(root, src);
          const into = args.length > 2 || dest.endsWith('/') || (args[args.length - 1] ?? '').endsWith('/') ? path.posix.join(dest, path.posix.basename(src)) : dest;
          files.push({ source: host, target: into });
        }
        break;
      }
      default:
        break;
    }
  }
  return { entrypoint, cmd, env, workdir, files };
}

const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/** A running pod: its containers, its probes, its volumes. */
export class Pod {
  readonly #options: PodOptions;
  readonly #dir: string;
  readonly #volumes = new Map<string, string>();
  readonly #containers = new Map<string, RunningContainer>();

  private constructor(options: PodOptions) {
    this.#options = options;
    this.#dir = mkdtempSync(path.join(tmpdir(), `pod-${options.name}-`));
    chmodSync(this.#dir, 0o755);
  }

  /** Creates the pod's volumes and starts every container. */
  static start(options: PodOptions): Pod {
    const pod = new Pod(options);
    pod.#makeVolumes();
    for (const c of options.spec.containers) pod.#containers.set(c.name, pod.#startContainer(c));
    return pod;
  }

  /** The host directory of a volume (an emptyDir's contents are what the containers wrote). */
  volume(name: string): string {
    const dir = this.#volumes.get(name);
    if (dir === undefined) throw new Error(`pod ${this.#options.name} has no volume ${name}`);
    return dir;
  }

  container(name: string): RunningContainer {
    const c = this.#containers.get(name);
    if (c === undefined) throw new Error(`pod ${this.#options.name} has no container ${name}`);
    return c;
  }

  /** Every container's output, for failure messages. */
  logs(): string {
    return [...this.#containers.values()].map((c) => `--- ${c.name} ---\n${c.log().slice(-6000)}`).join('\n');
  }

  /** Runs a container's probe once, as the kubelet does (HTTP 200–399, or a TCP connect). */
  async probe(containerName: string, kind: 'readinessProbe' | 'livenessProbe'): Promise<boolean> {
    const spec = this.#spec(containerName);
    const probe: Probe | undefined = spec[kind];
    if (probe === undefined) return true;
    if (probe.httpGet !== undefined) {
      const port = this.#port(spec, probe.httpGet.port);
      return new Promise((resolve) => {
        const req = http.get({ host: this.#options.podIP, port, path: probe.httpGet?.path, timeout: 1000, headers: { 'User-Agent': 'kube-probe/1.35' } }, (res) => {
          res.resume();
          resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
        });
        req.on('error', () => resolve(false));
        req.on('timeout', () => req.destroy());
      });
    }
    if (probe.tcpSocket !== undefined) {
      const port = this.#port(spec, probe.tcpSocket.port);
      return new Promise((resolve) => {
        const socket = net.connect({ host: this.#options.podIP, port, timeout: 1000 }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
        socket.on('timeout', () => {
          socket.destroy();
          resolve(false);
        });
      });
    }
    throw new Error(`${containerName}: a ${kind} this kubelet does not run`);
  }

  /** Resolves when every container's readiness probe passes; fails with the logs when one exits or the time is up. */
  async waitReady(ms = 60_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (const c of this.#containers.values()) {
        if (c.proc.exitCode !== null || c.proc.signalCode !== null) throw new Error(`container ${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}) before the pod was ready\n${this.logs()}`);
      }
      const ready = await Promise.all(this.#options.spec.containers.map((c) => this.probe(c.name, 'readinessProbe')));
      if (ready.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`pod ${this.#options.name} not ready within ${ms} ms (readiness: ${ready.join(', ')})\n${this.logs()}`);
      await sleep(250);
    }
  }

  /**
   * Deletes the pod as the kubelet does: SIGTERM to every container, SIGKILL after the pod's grace
   * period. Returns how each container ended, and removes the volumes.
   */
  async stop(): Promise<Map<string, { code: number | null; signal: NodeJS.Signals | null; killed: boolean }>> {
    const grace = (this.#options.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const ends = new Map<string, { code: number | null; signal: NodeJS.Signals | null; killed: boolean }>();
    await Promise.all(
      [...this.#containers.values()].map(async (c) => {
        let killed = false;
        if (c.proc.exitCode === null && c.proc.signalCode === null) {
          const exited = once(c.proc, 'exit');
          signalGroup(c.proc, 'SIGTERM');
          const timer = setTimeout(() => {
            killed = true;
            signalGroup(c.proc, 'SIGKILL');
          }, grace);
          await exited;
          clearTimeout(timer);
        }
        ends.set(c.name, { code: c.proc.exitCode, signal: c.proc.signalCode, killed });
      }),
    );
    rmSync(this.#dir, { recursive: true, force: true });
    return ends;
  }

  #spec(name: string): Container {
    const spec = this.#options.spec.containers.find((c) => c.name === name);
    if (spec === undefined) throw new Error(`no container ${name}`);
    return spec;
  }

  #port(spec: Container, port: string | number): number {
    if (typeof port === 'number') return port;
    const found = spec.ports?.find((p) => p.name === port);
    if (found === undefined) throw new Error(`${spec.name}: no port named ${port}`);
    return found.containerPort;
  }

  #makeVolumes(): void {
    for (const v of this.#options.spec.volumes ?? []) {
      const dir = path.join(this.#dir, 'volumes', v.name);
      mkdirSync(dir, { recursive: true });
      if (v.emptyDir !== undefined) {
        chmodSync(dir, 0o777);
      } else if (v.configMap !== undefined) {
        const data = this.#options.configMaps.get(v.configMap.name);
        if (data === undefined) throw new Error(`volume ${v.name}: ConfigMap ${v.configMap.name} does not exist`);
        this.#kubeletLayout(dir, data);
      } else {
        throw new Error(`volume ${v.name}: a kind this kubelet does not mount`);
      }
      this.#volumes.set(v.name, dir);
    }
    const { token, caPem } = this.#options.identity;
    const sa = path.join(this.#dir, 'volumes', '.serviceaccount');
    mkdirSync(sa, { recursive: true });
    this.#kubeletLayout(sa, { token, 'ca.crt': caPem, namespace: this.#options.namespace });
  }

  /** The atomic-writer layout of ConfigMap and projected volumes: files are links through `..data`. */
  #kubeletLayout(dir: string, files: Readonly<Record<string, string>>): void {
    chmodSync(dir, 0o755);
    const stamp = `..${new Date().toISOString().replace(/[-:.]/g, '_')}`;
    mkdirSync(path.join(dir, stamp), { mode: 0o755 });
    for (const [key, value] of Object.entries(files)) {
      writeFileSync(path.join(dir, stamp, key), value, { mode: 0o644 });
      symlinkSync(path.join('..data', key), path.join(dir, key));
    }
    symlinkSync(stamp, path.join(dir, '..data'));
  }

  #env(c: Container, image: Image): string[] {
    const { name, namespace, podIP, identity, spec } = this.#options;
    const env: Record<string, string> = {
      ...image.env,
      HOSTNAME: name,
      HOME: '/',
      KUBERNETES_SERVICE_HOST: identity.apiserverHost,
      KUBERNETES_SERVICE_PORT: String(identity.apiserverPort),
      KUBERNETES_SERVICE_PORT_HTTPS: String(identity.apiserverPort),
      KUBERNETES_PORT: `tcp://${identity.apiserverHost}:${identity.apiserverPort}`,
    };
    const fields: Record<string, string> = { 'metadata.name': name, 'metadata.namespace': namespace, 'status.podIP': podIP, 'spec.serviceAccountName': spec.serviceAccountName ?? 'default' };
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef !== undefined) {
        const value = fields[e.valueFrom.fieldRef.fieldPath];
        if (value === undefined) throw new Error(`${c.name}: env ${e.name} refers to ${e.valueFrom.fieldRef.fieldPath}, which this kubelet does not fill`);
        env[e.name] = value;
      } else throw new Error(`${c.name}: env ${e.name} has a source this kubelet does not read`);
    }
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
  }

  #startContainer(c: Container): RunningContainer {
    const image = this.#options.image(c.image);
    const spec = this.#options.spec;
    const rootfs = path.join(this.#dir, 'rootfs', c.name);
    mkdirSync(rootfs, { recursive: true });
    const uid = spec.securityContext?.runAsUser ?? 0;
    const gid = spec.securityContext?.runAsGroup ?? uid;
    const argv = c.command !== undefined ? [...c.command, ...(c.args ?? [])] : [...image.entrypoint, ...(c.args ?? image.cmd)];
    if (argv.length === 0) throw new Error(`${c.name}: nothing to run`);
    const sharePid = spec.shareProcessNamespace === true;

    const bind = (source: string, target: string, readOnly: boolean): string[] => {
      const mk = statSync(source).isDirectory() ? `mkdir -p ${q(`.${target}`)}` : `mkdir -p ${q(`.${path.posix.dirname(target)}`)} && touch ${q(`.${target}`)}`;
      return [mk, `mount --rbind ${q(source)} ${q(`.${target}`)}`, ...(readOnly ? [`mount -o remount,bind,ro ${q(`.${target}`)}`] : [])];
    };
    const lines = [
      'set -e',
      `mount -t tmpfs -o mode=0755 rootfs ${q(rootfs)}`,
      `cd ${q(rootfs)}`,
      // The distribution layer: merged /usr (bin, lib, sbin are links into it) and /etc, read-only.
      ...['bin', 'lib', 'lib64', 'sbin'].map((l) => `ln -s "$(readlink /${l})" ${l}`),
      ...['usr', 'etc'].map((d) => {
        const layer = path.join(this.#dir, 'layers', c.name, d);
        mkdirSync(path.join(layer, 'upper'), { recursive: true });
        mkdirSync(path.join(layer, 'work'), { recursive: true });
        return `mkdir ${d} && mount -t overlay overlay -o ${q(`lowerdir=/${d},upperdir=${layer}/upper,workdir=${layer}/work`)} ${d}`;
      }),
      'mkdir -p dev proc tmp var/run',
      'mount --rbind /dev dev',
      sharePid ? 'mount --rbind /proc proc' : 'mount -t proc proc proc',
      ...image.files.flatMap((f) => bind(f.source, f.target, true)),
      ...(image.hidden ?? []).map((d) => `if [ -d .${q(d)} ]; then mount -t tmpfs -o ro,mode=0755 hidden .${q(d)}; fi`),
      ...(c.volumeMounts ?? []).flatMap((m) => bind(this.volume(m.name), m.mountPath, m.readOnly === true)),
      ...bind(path.join(this.#dir, 'volumes', '.serviceaccount'), '/var/run/secrets/kubernetes.io/serviceaccount', true),
      ...(c.securityContext?.readOnlyRootFilesystem === true ? ['mount -o remount,ro usr', 'mount -o remount,ro etc', `mount -o remount,ro ${q(rootfs)}`] : []),
      `exec chroot --userspec=${uid}:${gid} --groups=${gid} ${q(rootfs)} env -i -C ${q(image.workdir)} ${this.#env(c, image).map(q).join(' ')} ${argv.map(q).join(' ')}`,
    ];
    const script = path.join(this.#dir, `${c.name}.sh`);
    writeFileSync(script, `${lines.join('\n')}\n`);
    const unshare = ['--mount', '--propagation', 'private', ...(sharePid ? [] : ['--pid', '--fork', '--kill-child'])];
    const proc = spawn('unshare', [...unshare, '--', 'bash', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let log = '';
    const keep = (chunk: Buffer): void => {
      log += chunk.toString();
      if (log.length > 200_000) log = log.slice(-100_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.on('error', (err) => (log += `\nspawn: ${err.message}`));
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    return { name: c.name, proc, log: () => log };
  }
}

function signalGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, signal);
  } catch {
    // Already gone.
  }
}

