/*
 * The Kubernetes benchmark (bench/k8s.sh runs it inside scripts/in-netns.sh), against a real
 * kube-apiserver and etcd (test/kube/harness.ts), with `passerelle run` as a separate process:
 *
 * 1. With BASE (1,000) Ingresses present, per mode (native, haproxy, nginx): the time from an Ingress create
 *    (POST answered) to the first 200 through the proxy for its host, and from an EndpointSlice
 *    change (the Service's one endpoint moved to another pod) to the first answer of the new pod;
 *    CHANGES (100) of each, p50 / p99 / max.
 * 2. With LARGE (10,000) Ingresses: model build (translate) and render time (HAProxy, nginx), measured
 *    in this process on the snapshot the controller's Kubernetes source lists; controller RSS and
 *    time to serve from a cold start, per mode, then LARGE_CHANGES (50) Ingress creates → first 200
 *    (p50 / p99 / max) and RSS after them.
 * nginx mode says which endpoint path it runs: the Lua balancer (its admin socket exists in the work
 * directory: endpoint changes without a reload) or the template path (every change reloads).
 *
 * The controller runs with the Node flags of deploy/base/deployment.yaml (its NODE_OPTIONS: the heap caps),
 * as in production; the 10,000-Ingress cold start is measured with Node's defaults too.
 *
 * Usage: node bench/k8s.ts   (env: MODES=native,haproxy,nginx BASE=1000 LARGE=10000 CHANGES=100 SERVICES=1000
 * LARGE_CHANGES=50, NODE_FLAGS for the controller process instead of the deployment's ("none": Node's
 * defaults only), NODE_DEFAULTS=0 to skip the second 10,000-Ingress start with Node's defaults,
 * WORKERS=N for the native controller's `[proxy] workers` (default: its own, the CPUs it may use),
 * LOG_LEVEL=warn and CONTROLLER_LOG=/path/prefix for its log)
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../src/model/k8s.ts';
import { parseFlags } from '../src/cli/flags.ts';
import { createSource, loadContext } from '../src/cli/wire.ts';
import { buildModel } from '../src/controller/sync.ts';
import { renderHaproxy } from '../src/render/haproxy/index.ts';
import { renderNginx } from '../src/render/nginx/index.ts';
import { LUA_ADMIN_SOCKET } from '../src/render/nginx/view.ts';
import { startCluster, type Cluster } from '../test/kube/harness.ts';
import {
  configText,
  echoOf,
  freePort,
  namespace,
  ourClass,
  requireNetns,
  send,
  serviceOf,
  sliceOf,
  startPods,
  type Mode,
  type Pod,
} from '../test/conformance/env.ts';

const root = path.resolve(import.meta.dirname, '..');
const int = (name: string, def: number): number => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
};
const MODES = (process.env['MODES'] ?? 'native,haproxy,nginx').split(',').map((s) => s.trim()) as Mode[];
for (const m of MODES) if (m !== 'native' && m !== 'haproxy' && m !== 'nginx') throw new Error(`MODES: unknown mode ${m}`);
const BASE = int('BASE', 1000);
const LARGE = int('LARGE', 10_000);
const CHANGES = int('CHANGES', 100);
const SERVICES = int('SERVICES', 1000);
const LARGE_CHANGES = int('LARGE_CHANGES', 50);
const NODE_DEFAULTS = process.env['NODE_DEFAULTS'] !== '0';
/** `[proxy] workers` of the native controller (default: its own default, the CPUs it may use). */
const WORKERS = process.env['WORKERS'] === undefined ? undefined : int('WORKERS', 1);
/** Ingress create → first 200 p99 targets (ms) at BASE and at LARGE Ingresses; nginx is reported. */
const CREATE_P99_BASE = 300;
const CREATE_P99_LARGE = 500;
const targetModes = new Set<Mode>(['native', 'haproxy']);

/** NODE_OPTIONS of the controller container in deploy/base/deployment.yaml ('' when it sets none). */
function deployedNodeOptions(): string {
  const text = readFileSync(path.join(root, 'deploy/base/deployment.yaml'), 'utf8');
  for (const doc of parseAllDocuments(text)) {
    const obj = doc.toJS() as { spec?: { template?: { spec?: { containers?: { env?: { name?: string; value?: string }[] }[] } } } } | null;
    for (const c of obj?.spec?.template?.spec?.containers ?? []) {
      const v = c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
      if (v !== undefined) return v;
    }
  }
  return '';
}
/** Node flags of the controller process: the deployment's unless NODE_FLAGS says otherwise. */
const NODE_FLAGS_TEXT = process.env['NODE_FLAGS'] === 'none' ? '' : (process.env['NODE_FLAGS'] ?? deployedNodeOptions());
const NODE_FLAGS = NODE_FLAGS_TEXT.split(' ').filter((f) => f !== '');
/** The controller's log level, and where its log goes (CONTROLLER_LOG=path prefix). */
const LOG_LEVEL = process.env['LOG_LEVEL'] ?? 'warn';
const CONTROLLER_LOG = process.env['CONTROLLER_LOG'];
const PODS = 20;
const NS = 'bench';

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** Runs `fn` over `items` with `concurrency` in flight. */
async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * A headless Service: the test apiserver's Service CIDR is a /24, too small for 1,000 ClusterIPs,
 * and the controller reads endpoints from EndpointSlices either way.
 */
function headless(name: string): KubeObject {
  const svc = serviceOf(NS, name);
  return { ...svc, spec: { ...(svc.spec as Record<string, unknown>), clusterIP: 'None' } };
}

function ingressOf(name: string, host: string, service: string): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { namespace: NS, name },
    spec: { rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { number: 8080 } } } }] } }] },
  };
}

/** Creates without the replace fallback of Cluster.apply (one request per object). */
async function create(cluster: Cluster, obj: KubeObject): Promise<void> {
  const kind = obj.kind ?? '';
  const p =
    kind === 'Ingress'
      ? `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses`
      : kind === 'Service'
        ? `/api/v1/namespaces/${NS}/services`
        : `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;
  await cluster.client('admin').request('POST', p, { body: obj });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

interface Stats {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}
const stats = (xs: readonly number[]): Stats => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
};

/** A `passerelle run` process. */
interface Controller {
  readonly child: ChildProcess;
  readonly port: number;
  readonly log: string[];
  readonly workDir: string;
  stop(): Promise<void>;
}

async function startController(cluster: Cluster, mode: Mode, dir: string, flags: readonly string[] = NODE_FLAGS): Promise<Controller> {
  const ports = { http: await freePort(), https: await freePort() };
  const config = path.join(dir, `${mode}.toml`);
  const workDir = path.join(dir, `work-${mode}`);
  const proxy = mode === 'native' && WORKERS !== undefined ? [`workers = ${WORKERS}`] : [];
  const text = configText(cluster, mode, ports, workDir, { proxy }).replace('logLevel = "warn"', `logLevel = "${LOG_LEVEL}"`);
  await writeFile(config, text);
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, [...flags, 'bin/passerelle.js', 'run', `--configfile=${config}`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
  if (CONTROLLER_LOG !== undefined) child.stderr?.pipe(createWriteStream(`${CONTROLLER_LOG}.${mode}.${Date.now()}`));
  const lines: string[] = [];
  const keep = (c: Buffer): void => {
    lines.push(c.toString('utf8'));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    child,
    port: ports.http,
    log: lines,
    workDir,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      // A controller killed before it stopped its proxy leaves it running: its processes name the work directory.
      if (child.signalCode === 'SIGKILL') spawnSync('pkill', ['-f', workDir]);
    },
  };
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** Polls until `ok` (every `everyMs`); returns the elapsed ms since `t0`. */
async function until(what: string, t0: number, ok: () => Promise<boolean>, timeoutMs = 60_000, everyMs = 5, proc?: ChildProcess): Promise<number> {
  for (;;) {
    // A controller that exited will not serve: say so now, not after the timeout.
    if (proc !== undefined && (proc.exitCode !== null || proc.signalCode !== null)) throw new Error(`the controller exited (${proc.exitCode ?? proc.signalCode}) before: ${what}`);
    try {
      if (await ok()) return performance.now() - t0;
    } catch {
      // not yet
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(everyMs);
  }
}

const fmt = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(0).padStart(6) : '   n/a');

/** nginx: which endpoint path the driver chose (its Lua admin socket exists only with the balancer). */
const nginxPath = (c: Controller): string => (existsSync(path.join(c.workDir, LUA_ADMIN_SOCKET)) ? 'Lua balancer' : 'template path (reloads)');

/** A target line: met below `limit` for native and haproxy, reported for nginx. */
function createTarget(mode: Mode, total: number, limit: number, x: Stats): string {
  const what = `${mode} Ingress create → 200 p99 < ${limit} ms at ${total.toLocaleString('en')}`;
  const figures = `p50 ${x.p50.toFixed(0)} / p99 ${x.p99.toFixed(0)} / max ${x.max.toFixed(0)} ms over ${x.n}`;
  return targetModes.has(mode) ? `target ${what}: ${x.p99 < limit ? 'met' : 'NOT met'} (${figures})` : `reported ${mode} Ingress create → 200 at ${total.toLocaleString('en')}: ${figures}`;
}

async function main(): Promise<void> {
  requireNetns();
  const started = performance.now();
  log('starting etcd + kube-apiserver');
  const cluster = await startCluster();
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-bench-k8s-'));
  // nginx's workers (nobody, when run as root) read certificates from the work directories below.
  await chmod(dir, 0o755);
  let pods: Pod[] = [];
  const results: string[] = [];
  const targets: string[] = [];
  const notes: string[] = [];
  try {
    await cluster.apply(namespace(NS));
    await cluster.apply(ourClass);
    pods = await startPods('pool', PODS);
    const podOf = (i: number): Pod => pods[i % PODS] as Pod;

    log(`creating ${SERVICES} Services with their EndpointSlices and ${BASE} Ingresses`);
    const t0 = performance.now();
    const svcIdx = Array.from({ length: SERVICES }, (_, i) => i);
    await pool(svcIdx, 8, async (i) => {
      await create(cluster, headless(`svc-${i}`));
      await create(cluster, sliceOf(NS, `svc-${i}`, [podOf(i)]));
    });
    await pool(Array.from({ length: BASE }, (_, i) => i), 8, (i) => create(cluster, ingressOf(`base-${i}`, `base-${i}.bench.example`, `svc-${i % SERVICES}`)));
    // The Service whose endpoint moves for the EndpointSlice measurement.
    await create(cluster, headless('flip'));
    await create(cluster, sliceOf(NS, 'flip', [podOf(0)]));
    await create(cluster, ingressOf('flip', 'flip.bench.example', 'flip'));
    log(`created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // ---- 1. change → first 200, with BASE Ingresses present ----
    for (const mode of MODES) {
      log(`${mode}: starting passerelle run with ${BASE} Ingresses`);
      const c = await startController(cluster, mode, dir);
      try {
        const t = performance.now();
        const coldMs = await until(`${mode} serves base-${BASE - 1}`, t, async () => (await send({ port: c.port, host: `base-${BASE - 1}.bench.example` })).status === 200, 120_000, 50, c.child);
        await sleep(3000); // let the first status writes settle
        const ingress: number[] = [];
        for (let k = 0; k < CHANGES; k++) {
          const host = `new-${mode}-${k}.bench.example`;
          const t1 = performance.now();
          await create(cluster, ingressOf(`new-${mode}-${k}`, host, `svc-${k % SERVICES}`));
          ingress.push(await until(`${host} served`, t1, async () => (await send({ port: c.port, host, timeoutMs: 5000 })).status === 200, 60_000, 5, c.child));
          await sleep(50);
        }
        const slice: number[] = [];
        for (let k = 0; k < CHANGES; k++) {
          const target = podOf(k + 1);
          const slicePath = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/flip-slice`;
          const current = await cluster.client('admin').request<KubeObject>('GET', slicePath);
          const next = sliceOf(NS, 'flip', [target]);
          const t1 = performance.now();
          await cluster.client('admin').request('PUT', slicePath, { body: { ...next, metadata: { ...next.metadata, resourceVersion: current.metadata?.resourceVersion } } });
          slice.push(await until(`flip served by ${target.name}`, t1, async () => echoOf(await send({ port: c.port, host: 'flip.bench.example', timeoutMs: 5000 })).pod === target.name));
          await sleep(50);
        }
        const mem = memoryOf(c.child.pid ?? 0);
        const a = stats(ingress);
        const b = stats(slice);
        const row = (what: string, x: Stats): string =>
          `| ${mode.padEnd(7)} | ${String(BASE).padStart(6)} | ${what.padEnd(26)} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${fmt(x.max)} | ${fmt(coldMs).padStart(10)} | ${mem.rss.toFixed(0).padStart(6)} |`;
        results.push(row('Ingress create → 200', a), row('EndpointSlice change → 200', b));
        targets.push(
          createTarget(mode, BASE, CREATE_P99_BASE, a),
          targetModes.has(mode)
            ? `target ${mode} EndpointSlice change → 200 p99 < 1 s: ${b.p99 < 1000 ? 'met' : 'NOT met'} (${b.p99.toFixed(0)} ms)`
            : `reported ${mode} EndpointSlice change → 200 at ${BASE.toLocaleString('en')}: p50 ${b.p50.toFixed(0)} / p99 ${b.p99.toFixed(0)} / max ${b.max.toFixed(0)} ms over ${b.n}`,
        );
        if (mode === 'nginx') notes.push(`nginx at ${BASE} Ingresses: endpoints by the ${nginxPath(c)}`);
        log(`${mode}: Ingress p50 ${a.p50.toFixed(0)} p99 ${a.p99.toFixed(0)} ms; EndpointSlice p50 ${b.p50.toFixed(0)} p99 ${b.p99.toFixed(0)} ms`);
      } catch (err) {
        process.stderr.write(c.log.join('').split('\n').slice(-40).join('\n'));
        throw err;
      } finally {
        await c.stop();
      }
      // Back to BASE Ingresses for the next mode.
      await pool(Array.from({ length: CHANGES }, (_, k) => k), 8, async (k) => cluster.remove(ingressOf(`new-${mode}-${k}`, '', '')));
    }

    // ---- 2. LARGE Ingresses: build, render, RSS ----
    if (LARGE > BASE) {
      log(`creating ${LARGE - BASE} more Ingresses (${LARGE} in all)`);
      const t2 = performance.now();
      await pool(Array.from({ length: LARGE - BASE }, (_, i) => BASE + i), 8, (i) => create(cluster, ingressOf(`base-${i}`, `base-${i}.bench.example`, `svc-${i % SERVICES}`)));
      log(`created in ${((performance.now() - t2) / 1000).toFixed(1)} s`);
    }
    const total = Math.max(LARGE, BASE);
    // The controller's own source (read-only), to time build and render on its snapshot.
    const probeConfig = path.join(dir, 'probe.toml');
    await writeFile(probeConfig, configText(cluster, 'native', { http: 18080, https: 18443 }, path.join(dir, 'probe'), {}));
    const ctx = await loadContext(parseFlags(['run', `--configfile=${probeConfig}`]));
    const source = createSource(ctx, false);
    const tList = performance.now();
    await source.start();
    const listMs = performance.now() - tList;
    const times = (n: number, fn: () => unknown): number => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        fn();
        xs.push(performance.now() - t);
      }
      return stats(xs).p50;
    };
    let model = buildModel(source, ctx.translate);
    const buildMs = times(5, () => (model = buildModel(source, ctx.translate)));
    const workDir = path.join(dir, 'render');
    const haproxyMs = times(3, () => renderHaproxy(model, { workDir }));
    const nginxMs = times(3, () => renderNginx(model, { workDir }));
    const rendered = renderHaproxy(model, { workDir });
    const haproxyBytes = rendered.main.content.length + rendered.files.reduce((n, f) => n + f.content.length, 0);
    await source.stop();
    log(`${total} Ingresses: list ${listMs.toFixed(0)} ms, build ${buildMs.toFixed(0)} ms, render haproxy ${haproxyMs.toFixed(0)} ms, nginx ${nginxMs.toFixed(0)} ms`);

    const large: string[] = [];
    const variants: { readonly label: string; readonly flags: readonly string[] }[] = [
      { label: NODE_FLAGS.length === 0 ? 'Node defaults' : process.env['NODE_FLAGS'] === undefined ? 'deployment flags' : 'NODE_FLAGS', flags: NODE_FLAGS },
      ...(NODE_FLAGS.length === 0 || !NODE_DEFAULTS ? [] : [{ label: 'Node defaults', flags: [] }]),
    ];
    let extra = 0;
    for (const mode of MODES) {
      for (const variant of variants) {
        log(`${mode} (${variant.label}): cold start with ${total} Ingresses`);
        const c = await startController(cluster, mode, dir, variant.flags);
        try {
          const t = performance.now();
          const coldMs = await until(`${mode} serves base-${total - 1}`, t, async () => (await send({ port: c.port, host: `base-${total - 1}.bench.example` })).status === 200, 300_000, 100, c.child);
          await sleep(5000);
          const mem = memoryOf(c.child.pid ?? 0);
          const latency: number[] = [];
          for (let k = 0; k < LARGE_CHANGES; k++) {
            const name = `extra-${extra++}`;
            const host = `${name}.bench.example`;
            const t1 = performance.now();
            await create(cluster, ingressOf(name, host, `svc-${k % SERVICES}`));
            latency.push(await until(`${host} served`, t1, async () => (await send({ port: c.port, host, timeoutMs: 5000 })).status === 200, 60_000, 5, c.child));
            await sleep(50);
          }
          const after = memoryOf(c.child.pid ?? 0);
          const l = stats(latency);
          large.push(
            `| ${mode.padEnd(7)} | ${variant.label.padEnd(16)} | ${String(total).padStart(6)} | ${fmt(coldMs).padStart(10)} | ${mem.rss.toFixed(0).padStart(6)} | ${after.rss.toFixed(0).padStart(14)} | ${after.peak.toFixed(0).padStart(7)} | ${fmt(l.p50)} | ${fmt(l.p99)} | ${fmt(l.max)} |`,
          );
          log(`${mode} (${variant.label}) at ${total}: Ingress create → 200 p50 ${l.p50.toFixed(0)} p99 ${l.p99.toFixed(0)} max ${l.max.toFixed(0)} ms over ${l.n}`);
          if (mode === 'nginx' && variant.flags === NODE_FLAGS) notes.push(`nginx at ${total} Ingresses: endpoints by the ${nginxPath(c)}`);
          if (variant.flags === NODE_FLAGS && LARGE_CHANGES > 0) targets.push(createTarget(mode, total, CREATE_P99_LARGE, l));
          if (variant.flags === NODE_FLAGS) {
            targets.push(`target ${mode} controller RSS with ${total} Ingresses < 300 MB: ${mem.rss < 300 ? 'met' : 'NOT met'} (${mem.rss.toFixed(0)} MB; ${after.rss.toFixed(0)} MB after ${LARGE_CHANGES} changes, peak ${after.peak.toFixed(0)} MB)`);
          }
        } catch (err) {
          process.stderr.write(c.log.join('').split('\n').slice(-40).join('\n'));
          throw err;
        } finally {
          await c.stop();
        }
      }
      await pool(Array.from({ length: extra }, (_, k) => k), 8, async (k) => cluster.remove(ingressOf(`extra-${k}`, '', '')));
      extra = 0;
    }
    targets.push(`target build + render (haproxy) with ${total} Ingresses < 1 s: ${buildMs + haproxyMs < 1000 ? 'met' : 'NOT met'} (${(buildMs + haproxyMs).toFixed(0)} ms)`);
    targets.push(`target build + render (nginx) with ${total} Ingresses < 1 s: ${buildMs + nginxMs < 1000 ? 'met' : 'NOT met'} (${(buildMs + nginxMs).toFixed(0)} ms)`);

    const out = [
      '',
      `Controller Node flags: ${NODE_FLAGS_TEXT === '' ? '(none)' : NODE_FLAGS_TEXT}${process.env['NODE_FLAGS'] === undefined ? ' (deploy/base/deployment.yaml NODE_OPTIONS)' : ''}`,
      `Change → first 200 through the proxy, ${CHANGES} changes each, ${SERVICES} Services, ${PODS} pods; passerelle run as its own process (ms; RSS in MB after the run)`,
      '| mode    | Ingr.  | change                     |    p50 |    p99 |    max | cold start | RSS MB |',
      '|---------|--------|----------------------------|--------|--------|--------|------------|--------|',
      ...results,
      '',
      `With ${total} Ingresses (${SERVICES} Services): list ${listMs.toFixed(0)} ms, model build ${buildMs.toFixed(0)} ms, render HAProxy ${haproxyMs.toFixed(0)} ms (${(haproxyBytes / 1024).toFixed(0)} KiB with its map files), render nginx ${nginxMs.toFixed(0)} ms (medians)`,
      `Controller RSS (VmRSS) 5 s after it serves the last host, then after ${LARGE_CHANGES} Ingress creates (each awaited through the proxy: create → first 200 ms); peak = VmHWM`,
      '| mode    | Node flags       | Ingr.  | cold start | RSS MB | after changes  | peak MB |    p50 |    p99 |    max |',
      '|---------|------------------|--------|------------|--------|----------------|---------|--------|--------|--------|',
      ...large,
      '',
      ...notes,
      ...(notes.length > 0 ? [''] : []),
      ...targets,
      '',
      `total ${((performance.now() - started) / 1000).toFixed(0)} s`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const p of pods) await p.close();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
