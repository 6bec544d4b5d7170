/*
 * Reload benchmark: wrk load through each mode (native, haproxy, nginx) while changes are applied by
 * the real controller (`passerelle run`, its own process, file source), in two phases, each under its
 * own wrk run so that failed requests are counted per kind of change:
 *  - endpoint churn: the loaded Service's endpoints moved to the next pair of ports (HAProxy: runtime
 *    API; nginx: the Lua balancer's admin socket when the module is there, else a reload);
 *  - structural: in turn an Ingress added with a new Service (a new backend: HAProxy and nginx reload)
 *    and the added Ingresses removed again.
 * It counts reloads and runtime (API / Lua) updates from the driver's log lines, wrk's non-2xx responses
 * and socket errors, keeps WebSocket connections open through both phases, and reads the driver's own
 * timings (render, validate, apply), at 100, 1,000 and 10,000 Ingresses. Loopback only.
 * Usage: bench/reload.sh   (env: MODES=native,haproxy,nginx SIZES=100,1000,10000 CHANGES=50
 *        CHANGES_LARGE=10 IDLE_CHANGES=5 SERVICES=1000 WEBSOCKETS=10 GRACE=120s CONNECTIONS=20 GAP_MS=300)
 * CHANGES (first size) and CHANGES_LARGE (the others) are per phase. Before the load starts,
 * IDLE_CHANGES endpoint changes are timed on an idle machine too.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { freePort } from '../test/behaviour/harness.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const MODES = (process.env['MODES'] ?? 'native,haproxy,nginx').split(',');
const SIZES = (process.env['SIZES'] ?? '100,1000,10000').split(',').map(Number);
const CHANGES = Number(process.env['CHANGES'] ?? 50);
const CHANGES_LARGE = Number(process.env['CHANGES_LARGE'] ?? 10);
const SERVICES = Number(process.env['SERVICES'] ?? 1000);
const WEBSOCKETS = Number(process.env['WEBSOCKETS'] ?? 10);
const GRACE = process.env['GRACE'] ?? '120s';
const CONNECTIONS = process.env['CONNECTIONS'] ?? '20';
const GAP_MS = Number(process.env['GAP_MS'] ?? 300);
const IDLE_CHANGES = Number(process.env['IDLE_CHANGES'] ?? 5);

const work = mkdtempSync(path.join(tmpdir(), 'passerelle-reload-'));
// nginx's workers (nobody, when run as root) read certificates from the work directories below.
chmodSync(work, 0o755);
const children: ChildProcess[] = [];

// ---- backends: nginx `return 200` on 4 ports (endpoints move between them), a WebSocket echo server.
const backendPorts = [await freePort(), await freePort(), await freePort(), await freePort()];
mkdirSync(path.join(work, 'backend'));
writeFileSync(
  path.join(work, 'backend.conf'),
  `worker_processes 1; daemon off; pid ${work}/backend/nginx.pid; error_log ${work}/backend/error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  client_body_temp_path ${work}/backend/b1; proxy_temp_path ${work}/backend/b2; fastcgi_temp_path ${work}/backend/b3; uwsgi_temp_path ${work}/backend/b4; scgi_temp_path ${work}/backend/b5;
  server { ${backendPorts.map((p) => `listen 127.0.0.1:${p};`).join(' ')} location / { default_type text/plain; return 200 "ok"; } } }
`,
);
const backendProc = spawn('nginx', ['-c', path.join(work, 'backend.conf'), '-p', `${work}/backend/`, '-e', 'stderr'], { stdio: 'ignore' });
children.push(backendProc);
const wsPort = await freePort();
const wsHttp = createServer((_req, res) => res.end('ws'));
const wss = new WebSocketServer({ server: wsHttp });
wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
await new Promise<void>((resolve) => wsHttp.listen(wsPort, '127.0.0.1', resolve));

// ---- the objects the file source reads
const yaml = {
  service: (name: string): string => `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: bench }
spec: { ports: [{ name: http, port: 80 }] }
`,
  slice: (service: string, ports: readonly number[]): string =>
    ports
      .map(
        (port, i) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${service}-${i}, namespace: bench, labels: { kubernetes.io/service-name: ${service} } }
addressType: IPv4
ports: [{ name: http, port: ${port} }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
`,
      )
      .join(''),
  ingress: (name: string, host: string, service: string): string => `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: ${name}, namespace: bench }
spec:
  ingressClassName: passerelle
  rules: [{ host: ${host}, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: ${service}, port: { number: 80 } } } }] } }]
`,
};
const CLASS = `---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: passerelle }
spec: { controller: passerelle.dev/ingress-controller }
`;

interface Applied {
  readonly time: number;
  readonly how?: string;
  readonly renderMs?: number;
  readonly validateMs?: number;
  readonly applyMs?: number;
}

/** `passerelle run` as its own process; its JSON log lines are parsed as they come. */
class Controller {
  readonly proc: ChildProcess;
  readonly applied: Applied[] = [];
  readonly driverLines: Applied[] = [];
  readonly errors: string[] = [];
  /** nginx: the driver's "nginx endpoints: ..." line (Lua balancer or template path). */
  endpointsPath = '';
  #buf = '';
  constructor(config: string) {
    this.proc = spawn(path.join(ROOT, 'node_modules/.bin/node'), [path.join(ROOT, 'src/cli/main.ts'), 'run', '--configfile', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(this.proc);
    this.proc.stderr?.on('data', (chunk: Buffer) => {
      this.#buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        let o: { msg?: string; time?: number; level?: number; how?: string; renderMs?: number; validateMs?: number; applyMs?: number };
        try {
          o = JSON.parse(line) as typeof o;
        } catch {
          if (line.trim() !== '') this.errors.push(line.trim());
          continue;
        }
        const time = o.time ?? Date.now();
        if (typeof o.msg === 'string' && o.msg.startsWith('nginx endpoints: ')) this.endpointsPath = o.msg.slice('nginx endpoints: '.length).replace(/ \(.*$/, '').replace(/;.*$/, '');
        if (o.msg === 'configuration applied') this.applied.push({ time });
        else if (typeof o.msg === 'string' && o.msg.includes('configuration applied (')) {
          this.driverLines.push({ time, ...(o.how === undefined ? {} : { how: o.how }), ...(o.renderMs === undefined ? {} : { renderMs: o.renderMs }), ...(o.validateMs === undefined ? {} : { validateMs: o.validateMs }), ...(o.applyMs === undefined ? {} : { applyMs: o.applyMs }) });
        }
        if ((o.level ?? 0) >= 50) this.errors.push(o.msg ?? line);
      }
    });
  }
  async waitApplied(count: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.applied.length < count) {
      if (Date.now() > deadline || this.proc.exitCode !== null) return false;
      await sleep(10);
    }
    return true;
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function get(port: number, host: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** wrk until SIGINT; resolves with its summary. */
function startWrk(port: number): { stop(): Promise<{ requests: number; non2xx: number; socket: string; rps: number }> } {
  const proc = spawn('wrk', ['-t1', `-c${CONNECTIONS}`, '-d3600s', '-H', 'Host: load.bench.test', `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(proc);
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  return {
    async stop() {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGINT');
      await exited;
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: (.*)/.exec(out)?.[1]?.trim() ?? 'none';
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
      return { requests, non2xx, socket, rps };
    },
  };
}

/** WebSocket clients through the proxy; `check` sends one message on each and counts echoes. */
async function openSockets(port: number, n: number): Promise<{ sockets: WebSocket[]; closedAt: (number | undefined)[] }> {
  const sockets: WebSocket[] = [];
  const closedAt: (number | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: 'ws.bench.test' } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const index = i;
    closedAt.push(undefined);
    ws.on('close', () => (closedAt[index] = Date.now()));
    ws.on('error', () => undefined);
    sockets.push(ws);
  }
  return { sockets, closedAt };
}

async function echoes(sockets: readonly WebSocket[], tag: string): Promise<number> {
  const one = (ws: WebSocket, i: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (ws.readyState !== WebSocket.OPEN) return resolve(false);
      const msg = `${tag}-${i}`;
      const timer = setTimeout(() => {
        ws.off('message', on);
        resolve(false);
      }, 3000);
      const on = (data: Buffer): void => {
        if (data.toString() !== msg) return;
        clearTimeout(timer);
        ws.off('message', on);
        resolve(true);
      };
      ws.on('message', on);
      ws.send(msg);
    });
  return (await Promise.all(sockets.map(one))).filter(Boolean).length;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] ?? NaN);
};
const fmt = (x: number): string => (Number.isFinite(x) ? String(Math.round(x)) : '–');
const maxOf = (xs: readonly number[]): number => (xs.length === 0 ? NaN : Math.max(...xs));

/** One loaded phase: one kind of change under its own wrk run. */
interface Phase {
  changes: number;
  applied: number;
  reloads: number;
  runtime: number;
  render: number[];
  validate: number[];
  apply: number[];
  e2e: number[];
  requests: number;
  rps: number;
  non2xx: number;
  socket: string;
}
type Kind = 'endpoint' | 'structural';
const KINDS: readonly Kind[] = ['endpoint', 'structural'];

interface Row {
  mode: string;
  size: number;
  cold: number;
  endpointsPath: string;
  phases: Record<Kind, Phase>;
  idle: { render: number[]; validate: number[]; apply: number[]; total: number[] };
  ws: string;
}
const rows: Row[] = [];

async function run(mode: string, size: number, changes: number, withSockets: boolean): Promise<Row> {
  const dir = path.join(work, `${mode}-${size}`);
  const objects = path.join(dir, 'objects');
  mkdirSync(objects, { recursive: true });
  const services = Math.min(SERVICES, size);
  let base = CLASS;
  for (let s = 0; s < services; s++) base += yaml.service(`svc-${s}`) + yaml.slice(`svc-${s}`, [backendPorts[s % 4] ?? 0]);
  for (let i = 0; i < size; i++) base += yaml.ingress(`ing-${i}`, `h${i}.bench.test`, `svc-${i % services}`);
  base += yaml.service('ws') + yaml.slice('ws', [wsPort]) + yaml.ingress('ws', 'ws.bench.test', 'ws');
  writeFileSync(path.join(objects, 'base.yaml'), base);
  let loadEndpoints = [0, 1];
  const writeLoad = (): void =>
    writeFileSync(path.join(objects, 'load.yaml'), yaml.service('load') + yaml.slice('load', loadEndpoints.map((i) => backendPorts[i] ?? 0)) + yaml.ingress('load', 'load.bench.test', 'load'));
  writeLoad();
  const port = await freePort();
  const config = path.join(dir, 'passerelle.toml');
  writeFileSync(
    config,
    `logLevel = "info"
defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:${port}"
[proxy]
mode = "${mode}"
workDir = "${path.join(dir, 'work')}"
gracePeriod = "${GRACE}"
[file]
directory = "${objects}"
watch = true
`,
  );
  const started = Date.now();
  const c = new Controller(config);
  const applied = await c.waitApplied(1, 180_000);
  let status = 0;
  for (let i = 0; applied && i < 100 && status !== 200; i++) {
    status = await get(port, 'load.bench.test');
    if (status !== 200) await sleep(100);
  }
  if (status !== 200) throw new Error(`${mode} at ${size} Ingresses did not serve (applied: ${applied}, status ${status}): ${c.errors.join(' | ')}`);
  const cold = (c.applied[0]?.time ?? Date.now()) - started;
  await sleep(500);
  let added: string[] = [];
  let extra = 0;
  /** One change of `kind`, awaited in the controller's log; ms from the file write to "configuration applied". */
  const change = async (kind: Kind, k: number): Promise<number | undefined> => {
    const before = c.applied.length;
    const written = Date.now();
    if (kind === 'endpoint') {
      const first = ((loadEndpoints[0] ?? 0) + 1) % 4;
      loadEndpoints = [first, (first + 1) % 4];
      writeLoad();
    } else if (k % 2 === 0) {
      const name = `extra-${extra++}`;
      writeFileSync(path.join(objects, `${name}.yaml`), yaml.service(name) + yaml.slice(name, [backendPorts[extra % 4] ?? 0]) + yaml.ingress(name, `${name}.bench.test`, name));
      added.push(name);
    } else {
      for (const name of added) unlinkSync(path.join(objects, `${name}.yaml`));
      added = [];
    }
    return (await c.waitApplied(before + 1, 60_000)) ? (c.applied[before]?.time ?? Date.now()) - written : undefined;
  };
  // Idle phase: the driver's timings without load (render, validate and apply share 2 cores with wrk otherwise).
  const firstIdleLine = c.driverLines.length;
  for (let k = 0; k < IDLE_CHANGES; k++) {
    await change('endpoint', k);
    await sleep(GAP_MS);
  }
  const idleLines = c.driverLines.slice(firstIdleLine);
  const ws = withSockets ? await openSockets(port, WEBSOCKETS) : undefined;
  let wsMin = WEBSOCKETS;
  let done = 0;
  const phases = {} as Record<Kind, Phase>;
  for (const kind of KINDS) {
    const wrk = startWrk(port);
    await sleep(1000);
    const e2e: number[] = [];
    const firstDriverLine = c.driverLines.length;
    for (let k = 0; k < changes; k++) {
      const ms = await change(kind, k);
      if (ms !== undefined) e2e.push(ms);
      done++;
      if (ws !== undefined && done % 5 === 0) wsMin = Math.min(wsMin, await echoes(ws.sockets, `c${done}`));
      await sleep(GAP_MS);
    }
    await sleep(1000);
    const load = await wrk.stop();
    const lines = c.driverLines.slice(firstDriverLine);
    phases[kind] = {
      changes,
      applied: e2e.length,
      reloads: lines.filter((l) => l.how === 'reloaded').length,
      runtime: lines.filter((l) => l.how === 'runtime API').length,
      render: lines.flatMap((l) => (l.renderMs === undefined ? [] : [l.renderMs])),
      validate: lines.flatMap((l) => (l.validateMs === undefined ? [] : [l.validateMs])),
      apply: lines.flatMap((l) => (l.applyMs === undefined ? [] : [l.applyMs])),
      e2e,
      requests: load.requests,
      rps: load.rps,
      non2xx: load.non2xx,
      socket: load.socket,
    };
  }
  let wsText = 'not tested';
  if (ws !== undefined) {
    const alive = await echoes(ws.sockets, 'end');
    const reloads = phases.endpoint.reloads + phases.structural.reloads;
    wsText = `${alive}/${WEBSOCKETS} echo after ${2 * changes} changes (${reloads} reloads), fewest alive at a check ${Math.min(wsMin, alive)}`;
    for (const s of ws.sockets) s.terminate();
  }
  await c.stop();
  const row: Row = {
    mode,
    size,
    cold,
    endpointsPath: mode === 'nginx' ? c.endpointsPath || 'unknown (no "nginx endpoints" log line)' : mode === 'haproxy' ? 'runtime API' : 'router swap',
    phases,
    idle: {
      render: idleLines.flatMap((l) => (l.renderMs === undefined ? [] : [l.renderMs])),
      validate: idleLines.flatMap((l) => (l.validateMs === undefined ? [] : [l.validateMs])),
      apply: idleLines.flatMap((l) => (l.applyMs === undefined ? [] : [l.applyMs])),
      total: idleLines.flatMap((l) => (l.renderMs === undefined ? [] : [l.renderMs + (l.validateMs ?? 0) + (l.applyMs ?? 0)])),
    },
    ws: wsText,
  };
  for (const kind of KINDS) {
    const ph = phases[kind];
    console.log(
      `${mode.padEnd(7)} ${String(size).padStart(6)} Ingresses, ${kind} changes: ${ph.applied}/${changes} applied, reloads ${ph.reloads}, runtime API/Lua ${ph.runtime}; ` +
        `render ${fmt(median(ph.render))} / validate ${fmt(median(ph.validate))} / apply ${fmt(median(ph.apply))} ms (medians), change→applied p50 ${fmt(median(ph.e2e))} max ${fmt(maxOf(ph.e2e))} ms; ` +
        `wrk ${ph.requests} requests (${Math.round(ph.rps)}/s), non-2xx ${ph.non2xx}, socket errors ${ph.socket}`,
    );
  }
  console.log(`${mode.padEnd(7)} ${String(size).padStart(6)} Ingresses: cold start ${cold} ms, endpoints by ${row.endpointsPath}; WebSocket ${wsText}`);
  if (c.errors.length > 0) console.log(`  controller errors: ${c.errors.slice(0, 3).join(' | ')}`);
  return row;
}

try {
  for (const [i, size] of SIZES.entries()) {
    for (const mode of MODES) rows.push(await run(mode, size, i === 0 ? CHANGES : CHANGES_LARGE, i === 0 && WEBSOCKETS > 0));
  }
} finally {
  wss.close();
  wsHttp.close();
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await sleep(300);
  rmSync(work, { recursive: true, force: true });
}

const total = (ph: Phase): number[] => ph.render.map((x, i) => x + (ph.validate[i] ?? 0) + (ph.apply[i] ?? 0));
const failed = (ph: Phase): number => {
  const m = /connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(ph.socket);
  return ph.non2xx + (m === null ? 0 : Number(m[1]) + Number(m[2]) + Number(m[3]) + Number(m[4]));
};
console.log(`\nDriver timings per change (medians, ms; from the driver's log line). idle: ${IDLE_CHANGES} endpoint changes before the load; loaded: the changes of each kind under wrk`);
console.log('| mode    | Ingresses | idle: render | validate | apply | r+v+a | kind       | loaded: render | validate | apply | r+v+a (max) | change→applied p50 / max |');
console.log('|---------|-----------|--------------|----------|-------|-------|------------|----------------|----------|-------|-------------|--------------------------|');
for (const r of rows) {
  for (const kind of KINDS) {
    const ph = r.phases[kind];
    console.log(
      `| ${r.mode.padEnd(7)} | ${String(r.size).padStart(9)} | ${fmt(median(r.idle.render)).padStart(12)} | ${fmt(median(r.idle.validate)).padStart(8)} | ${fmt(median(r.idle.apply)).padStart(5)} | ${fmt(median(r.idle.total)).padStart(5)} | ${kind.padEnd(10)} | ${fmt(median(ph.render)).padStart(14)} | ${fmt(median(ph.validate)).padStart(8)} | ${fmt(median(ph.apply)).padStart(5)} | ${`${fmt(median(total(ph)))} (${fmt(maxOf(total(ph)))})`.padStart(11)} | ${`${fmt(median(ph.e2e))} / ${fmt(maxOf(ph.e2e))}`.padStart(24)} |`,
    );
  }
}
console.log(`\nwrk -t1 -c${CONNECTIONS} through each mode, one wrk run per kind of change (Host: load.bench.test); changes ${GAP_MS} ms apart, each awaited; gracePeriod ${GRACE}`);
console.log('| mode    | Ingresses | endpoints by     | kind       | changes applied | cold start ms | reloads | runtime API/Lua | requests | req/s | non-2xx | socket errors | WebSockets |');
console.log('|---------|-----------|------------------|------------|-----------------|---------------|---------|-----------------|----------|-------|---------|---------------|------------|');
for (const r of rows) {
  for (const kind of KINDS) {
    const ph = r.phases[kind];
    console.log(
      `| ${r.mode.padEnd(7)} | ${String(r.size).padStart(9)} | ${r.endpointsPath.padEnd(16)} | ${kind.padEnd(10)} | ${`${ph.applied}/${ph.changes}`.padStart(15)} | ${String(r.cold).padStart(13)} | ${String(ph.reloads).padStart(7)} | ${String(ph.runtime).padStart(15)} | ${String(ph.requests).padStart(8)} | ${String(Math.round(ph.rps)).padStart(5)} | ${String(ph.non2xx).padStart(7)} | ${ph.socket.padStart(13)} | ${kind === 'structural' ? r.ws : ''} |`,
    );
  }
}
for (const r of rows) {
  if (r.mode === 'native' || r.size !== 10_000) continue;
  const idle = median(r.idle.total);
  const loaded = median([...total(r.phases.endpoint), ...total(r.phases.structural)]);
  console.log(`target ${r.mode} render + validate + apply < 1 s at 10,000 Ingresses: idle ${idle < 1000 ? 'met' : 'NOT met'} (${fmt(idle)} ms), under load ${loaded < 1000 ? 'met' : 'NOT met'} (${fmt(loaded)} ms)`);
}
for (const r of rows) {
  // Endpoint churn: no reload and no failed request, in every mode (nginx: with the Lua balancer).
  const ph = r.phases.endpoint;
  const ok = ph.reloads === 0 && failed(ph) === 0 && ph.applied === ph.changes;
  console.log(
    `target ${r.mode} ${r.size} Ingresses, endpoint changes: 0 reloads, 0 failed requests over ${ph.changes} changes: ${ok ? 'met' : 'NOT met'} (${ph.reloads} reloads, ${ph.runtime} runtime API/Lua updates, ${ph.applied}/${ph.changes} applied, non-2xx ${ph.non2xx}, socket errors ${ph.socket}; endpoints by ${r.endpointsPath})`,
  );
}
for (const r of rows) {
  const ph = r.phases.structural;
  console.log(
    `target ${r.mode} ${r.size} Ingresses, structural changes: 0 failed or non-2xx requests: ${failed(ph) === 0 ? 'met' : 'NOT met'} (${ph.reloads} reloads, ${ph.runtime} runtime API/Lua updates over ${ph.changes} changes; non-2xx ${ph.non2xx}, socket errors ${ph.socket})`,
  );
}
