/*
 * The environment of the conformance tests (and of the fault tests and bench/k8s.ts): a private
 * network namespace (scripts/in-netns.sh) where 192.0.2.0/24 is local, so that "pods" — echo servers
 * on 192.0.2.10 and up — have addresses the real kube-apiserver accepts in EndpointSlices (it
 * refuses 127.0.0.0/8). The controller's entry points listen on 192.0.2.1, the address it writes
 * into Ingress status, and clients send their requests to the address they read from that status.
 */

import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { KubeObject } from '../../src/model/k8s.ts';
import { parseFlags } from '../../src/cli/flags.ts';
import { startController, type RunningController } from '../../src/cli/run.ts';
import type { Logger } from '../../src/shared/logger.ts';
import type { Cluster } from '../kube/harness.ts';
import { freePort as freePortOn } from '../ports.ts';

const run = promisify(execFile);

/** The address of the private namespace where the controller listens (and which it publishes). */
export const NODE_ADDRESS = '192.0.2.1';

/** A port free on `host` (the node address by default). */
export function freePort(host: string = NODE_ADDRESS): Promise<number> {
  return freePortOn(host);
}

/**
 * Fails (never skips) when the process is not inside the namespace of scripts/in-netns.sh: there,
 * and only there, 192.0.2.1 is a local address.
 */
export function requireNetns(): void {
  const local = Object.values(networkInterfaces())
    .flat()
    .some((a) => a?.address === NODE_ADDRESS);
  if (!local) {
    throw new Error(
      `these tests need the private network namespace of scripts/in-netns.sh (${NODE_ADDRESS} is not a local address here).\n` +
        'The real kube-apiserver refuses loopback EndpointSlice addresses, so the echo servers use 192.0.2.0/24 inside that namespace.\n' +
        "Run them with: npm run test:conformance, or bash scripts/in-netns.sh node --test --test-concurrency=1 'test/conformance/**/*.test.ts' (as root).",
    );
  }
}

/** The proxy modes, all run by default; PASSERELLE_MODE=haproxy (or a comma-separated list) narrows. */
export const ALL_MODES = ['native', 'haproxy', 'nginx'] as const;
export type Mode = (typeof ALL_MODES)[number];

export function modesUnderTest(): Mode[] {
  const env = process.env['PASSERELLE_MODE'];
  if (env === undefined || env === '') return [...ALL_MODES];
  const wanted = env.split(',').map((s) => s.trim());
  const unknown = wanted.filter((m) => !(ALL_MODES as readonly string[]).includes(m));
  if (unknown.length > 0) throw new Error(`unknown PASSERELLE_MODE ${unknown.join(', ')} (known: ${ALL_MODES.join(', ')})`);
  return wanted as Mode[];
}

let nextHost = 10;
/** A new pod address: 192.0.2.10, .11, ... (up to .250). */
export function podAddress(): string {
  if (nextHost > 250) throw new Error('out of pod addresses in 192.0.2.0/24');
  return `192.0.2.${nextHost++}`;
}


/** What an echo pod answers: who it is and the request it received. */
export interface EchoReply {
  readonly service: string;
  readonly pod: string;
  readonly address: string;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly proto: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
}

/** An echo server standing for one pod of a Service. */
export interface Pod {
  readonly service: string;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts an echo pod on `address:port`. Like the conformance suite's echoserver (Go net/http), it
 * sends Content-Type, Content-Length and Date, and no Server header.
 */
export async function startPod(service: string, name: string, address = podAddress(), port = 8080): Promise<Pod> {
  const server = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => (bodyBytes += c.length));
    req.on('end', () => {
      const reply: EchoReply = {
        service,
        pod: name,
        address,
        method: req.method ?? '',
        path: req.url ?? '',
        host: req.headers.host ?? '',
        proto: `HTTP/${req.httpVersion}`,
        headers: req.headers,
        bodyBytes,
      };
      const body = Buffer.from(JSON.stringify(reply));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(port, address);
  await once(server, 'listening');
  return {
    service,
    name,
    address,
    port,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Starts `count` pods of a Service on new addresses (same port, as real pods). */
export async function startPods(service: string, count: number, port = 8080): Promise<Pod[]> {
  const pods: Pod[] = [];
  for (let i = 0; i < count; i++) pods.push(await startPod(service, `${service}-${i}`, podAddress(), port));
  return pods;
}

// ---- Kubernetes objects -------------------------------------------------------------------------

export const namespace = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

/** A ClusterIP Service: port 8080 named http, to target port `targetPort`. */
export function serviceOf(ns: string, name: string, targetPort = 8080): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: ns, name },
    spec: { ports: [{ name: 'http', port: 8080, targetPort, protocol: 'TCP' }] },
  };
}

/** The EndpointSlice the EndpointSlice controller would write for these pods. */
export function sliceOf(ns: string, service: string, pods: readonly Pod[], name = `${service}-slice`): KubeObject {
  const port = pods[0]?.port ?? 8080;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: pods.map((p) => ({ addresses: [p.address], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: ns, name: p.name } })),
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

/** Service + EndpointSlice of pods, applied as admin. */
export async function deployService(cluster: Cluster, ns: string, service: string, replicas = 1): Promise<Pod[]> {
  const pods = await startPods(service, replicas);
  await cluster.apply(serviceOf(ns, service));
  await cluster.apply(sliceOf(ns, service, pods));
  return pods;
}

/** An IngressClass of ours (default class, as conformance clusters have it). */
export const ourClass: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name: 'passerelle', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
  spec: { controller: 'passerelle.dev/ingress-controller' },
};

/** A TLS Secret with a new self-signed certificate for `host`; returns the Secret and the PEM to trust. */
export async function selfSignedSecret(ns: string, name: string, host: string): Promise<{ secret: KubeObject; certPem: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-conf-tls-'));
  try {
    const key = path.join(dir, 'tls.key');
    const crt = path.join(dir, 'tls.crt');
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt,
      '-days', '2', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`,
    ]);
    const certPem = await readFile(crt, 'utf8');
    const keyPem = await readFile(key, 'utf8');
    const secret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace: ns, name },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': Buffer.from(certPem).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') },
    };
    return { secret, certPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `.status.loadBalancer.ingress[*]` of an Ingress (ip or hostname). */
export function statusAddresses(obj: KubeObject): string[] {
  const lb = (obj.status as { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } } | undefined)?.loadBalancer;
  return (lb?.ingress ?? []).map((e) => e.ip ?? e.hostname ?? '');
}

export function getIngress(cluster: Cluster, ns: string, name: string): Promise<KubeObject> {
  return cluster.client('admin').request<KubeObject>('GET', `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses/${name}`);
}

/** Polls until the Ingress shows an address in its status (conformance: "The Ingress status shows the IP address"). */
export async function waitForStatus(cluster: Cluster, ns: string, name: string, ms = 60_000): Promise<string> {
  return waitFor(`status of Ingress ${ns}/${name}`, async () => statusAddresses(await getIngress(cluster, ns, name))[0], ms);
}

/** Polls `check` until it returns a truthy value (returned) or fails after `ms` with `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, ms = 30_000, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

// ---- HTTP client --------------------------------------------------------------------------------

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion: string;
  readonly text: string;
}

export interface Req {
  readonly port: number;
  readonly address?: string;
  readonly method?: string;
  readonly path?: string;
  /** Host header (and SNI name for TLS); absent: node's default (address:port). */
  readonly host?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string;
  /** TLS, verifying the server's certificate against `ca` for `host`. */
  readonly ca?: string;
  readonly agent?: http.Agent | false;
  readonly timeoutMs?: number;
}

/** One HTTP/1.1 request (new connection unless an agent is given). */
export function send(o: Req): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const options = {
      host: o.address ?? NODE_ADDRESS,
      port: o.port,
      method: o.method ?? 'GET',
      path: o.path ?? '/',
      headers: { ...(o.host === undefined ? {} : { host: o.host }), ...o.headers },
      agent: o.agent ?? false,
      timeout: o.timeoutMs ?? 15_000,
    };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, httpVersion: res.httpVersion, text: Buffer.concat(chunks).toString('utf8') }));
    };
    const req =
      o.ca === undefined
        ? http.request(options, onResponse)
        : https.request({ ...options, agent: false, ca: o.ca, servername: o.host ?? '', rejectUnauthorized: true }, onResponse);
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** The echo of a reply, asserting it is one. */
export function echoOf(r: Reply): EchoReply {
  if (r.status !== 200) throw new Error(`expected 200 from an echo pod, got ${r.status}: ${r.text.slice(0, 200)}`);
  return JSON.parse(r.text) as EchoReply;
}

// ---- the controller -----------------------------------------------------------------------------

/** A logger keeping the last warnings and errors, shown when a test fails. */
export function recordingLogger(keep = 200): Logger & { lines: string[] } {
  const lines: string[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const push = (level: string) => (obj: object, msg?: string) => {
      lines.push(`${level} ${msg ?? ''} ${JSON.stringify({ ...bindings, ...obj }, (_k, v: unknown) => (v instanceof Error ? v.message : v))}`);
      if (lines.length > keep) lines.splice(0, lines.length - keep);
    };
    return { debug() {}, info() {}, warn: push('WARN'), error: push('ERROR'), child: (b) => make({ ...bindings, ...b }) };
  };
  return Object.assign(make({}), { lines });
}

/** A running `passerelle run` (in this process) of one mode, with its entry points. */
export interface Passerelle {
  readonly mode: Mode;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly running: RunningController;
  readonly logger: Logger & { lines: string[] };
  readonly configFile: string;
  stop(): Promise<void>;
}

export interface PasserelleOptions {
  /** Extra lines of the [kubernetes] table. */
  readonly kubernetes?: readonly string[];
  /** Extra lines of the [proxy] table. */
  readonly proxy?: readonly string[];
  /** The proxy's work directory (default: a new one, removed on stop); kept when given. */
  readonly workDir?: string;
  /** Entry point ports (default: free ones). */
  readonly ports?: { readonly http: number; readonly https: number };
  /** More plain HTTP entry points (name and port) on the same address. */
  readonly moreHttp?: readonly { readonly name: string; readonly port: number }[];
}

/** The TOML of a controller of `mode` reading `cluster` with the controller's RBAC-limited kubeconfig. */
export function configText(cluster: Cluster, mode: Mode, ports: { readonly http: number; readonly https: number }, workDir: string, options: PasserelleOptions = {}): string {
  return [
    'logLevel = "warn"',
    '[entryPoints.http]',
    `address = "${NODE_ADDRESS}:${ports.http}"`,
    '[entryPoints.https]',
    `address = "${NODE_ADDRESS}:${ports.https}"`,
    '  [entryPoints.https.tls]',
    ...(options.moreHttp ?? []).flatMap((e) => [`[entryPoints.${e.name}]`, `address = "${NODE_ADDRESS}:${e.port}"`]),
    '[proxy]',
    `mode = "${mode}"`,
    `workDir = ${JSON.stringify(workDir)}`,
    'gracePeriod = "1s"',
    ...(options.proxy ?? []),
    '[kubernetes]',
    'enabled = true',
    `kubeconfig = ${JSON.stringify(cluster.kubeconfig('controller'))}`,
    `publishAddress = "${NODE_ADDRESS}"`,
    // The conformance features ask plain HTTP of hosts that have TLS: no ingress-nginx-style redirect.
    'sslRedirect = false',
    ...(options.kubernetes ?? ['leaderElection = false']),
    '',
  ].join('\n');
}

/** Starts the controller of `mode` (source, sync loop, driver and its proxy) as `passerelle run` does. */
export async function startPasserelle(cluster: Cluster, mode: Mode, options: PasserelleOptions = {}): Promise<Passerelle> {
  const dir = await mkdtemp(path.join(tmpdir(), `passerelle-conf-${mode}-`));
  // nginx's workers (nobody, when run as root) read certificates below it at each handshake.
  await chmod(dir, 0o711);
  const ports = options.ports ?? { http: await freePort(), https: await freePort() };
  const configFile = path.join(dir, 'passerelle.toml');
  await writeFile(configFile, configText(cluster, mode, ports, options.workDir ?? path.join(dir, 'work'), options));
  const logger = recordingLogger();
  let running: RunningController;
  try {
    running = await startController(parseFlags(['run', `--configfile=${configFile}`]), logger);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`passerelle (${mode}) did not start: ${(err as Error).message}\n${logger.lines.join('\n')}`, { cause: err });
  }
  return {
    mode,
    httpPort: ports.http,
    httpsPort: ports.https,
    running,
    logger,
    configFile,
    async stop() {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Empties `.status.loadBalancer` of an Ingress (as admin), so the next controller must write it again. */
export async function clearStatus(cluster: Cluster, ns: string, name: string): Promise<void> {
  await cluster.client('admin').request('PATCH', `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses/${name}/status`, {
    body: { status: { loadBalancer: { ingress: null } } },
    contentType: 'application/merge-patch+json',
  });
}

/** Requests sent one after the other until stopped; what failed, with when. */
export interface Traffic {
  /** Requests answered as expected so far. */
  readonly ok: () => number;
  stop(): Promise<{ ok: number; failed: string[] }>;
}

/**
 * Sends requests in a loop (a new connection each, or over `agent`) and records every answer that
 * is not a 200 from `service` (when given) and every error.
 */
export function startTraffic(req: Req, service?: string, pauseMs = 20): Traffic {
  let ok = 0;
  const failed: string[] = [];
  let stopped = false;
  const started = Date.now();
  const loop = (async () => {
    while (!stopped) {
      try {
        const r = await send(req);
        if (r.status !== 200) failed.push(`+${Date.now() - started} ms: status ${r.status} ${r.text.slice(0, 80)}`);
        else if (service !== undefined && echoOf(r).service !== service) failed.push(`+${Date.now() - started} ms: served by ${echoOf(r).service}`);
        else ok++;
      } catch (err) {
        failed.push(`+${Date.now() - started} ms: ${(err as Error).message}`);
      }
      await sleep(pauseMs);
    }
  })();
  return {
    ok: () => ok,
    async stop() {
      stopped = true;
      await loop;
      return { ok, failed };
    },
  };
}
