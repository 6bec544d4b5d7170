/*
 * A controller (native mode, file source) on 127.0.0.1 with `[acme]` pointed at a real Pebble,
 * and TLS clients that check which certificate each SNI name gets.
 */

import { X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:tls';
import path from 'node:path';
import { parseFlags } from '../../../src/cli/flags.ts';
import { startController } from '../../../src/cli/run.ts';
import type { RunningController } from '../../../src/cli/run.ts';
import type { AcmeTuning } from '../../../src/cli/acme.ts';
import type { Logger } from '../../../src/shared/logger.ts';
import { silentLogger } from '../../../src/shared/logger.ts';
import { freePort } from './pebble.ts';
import type { Pebble } from './pebble.ts';

/** An HTTP upstream answering its id. */
export async function startEcho(id: string): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${id} ${req.headers.host ?? ''}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** YAML for a Service + EndpointSlice pointing at 127.0.0.1:port, and one Ingress per host group. */
export function ingressYaml(opts: { readonly echoPort: number; readonly groups: readonly (readonly string[])[]; readonly tls?: boolean; readonly annotations?: Readonly<Record<string, string>> }): string {
  const docs: string[] = [
    `apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: web}\nspec: {ports: [{name: http, port: 80, targetPort: ${opts.echoPort}}]}`,
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: echo-1, namespace: web, labels: {kubernetes.io/service-name: echo}}\naddressType: IPv4\nports: [{name: http, port: ${opts.echoPort}}]\nendpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]`,
  ];
  opts.groups.forEach((hosts, i) => {
    const rules = hosts.map((h) => `    - host: ${h}\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend: {service: {name: echo, port: {number: 80}}}`).join('\n');
    const tls = opts.tls ? `\n  tls:\n    - hosts: [${hosts.join(', ')}]\n      secretName: site-${i}-tls` : '';
    const ann = Object.entries(opts.annotations ?? {}).map(([k, v]) => `\n    ${k}: "${v}"`).join('');
    docs.push(`apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: site-${i}\n  namespace: web\n  creationTimestamp: "2024-01-01T00:00:${String(i % 60).padStart(2, '0')}Z"${ann ? `\n  annotations:${ann}` : ''}\nspec:\n  ingressClassName: passerelle\n  rules:\n${rules}${tls}`);
  });
  docs.push('apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: passerelle}\nspec: {controller: passerelle.dev/ingress-controller}');
  return `${docs.join('\n---\n')}\n`;
}

/** Ports of the proxy under test (Pebble validates on httpPort). */
export interface ProxyPorts {
  readonly http: number;
  readonly https: number;
}

/** Two free ports for the proxy's entry points. */
export async function proxyPorts(): Promise<ProxyPorts> {
  return { http: await freePort(), https: await freePort() };
}

/** The entry points every ACME test uses: http redirected to https, native mode, then `rest`. */
function nativeToml(ports: ProxyPorts, rest: string): string {
  return `logLevel = "info"
defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:${ports.http}"
  [entryPoints.http.redirect]
  entryPoint = "https"
[entryPoints.https]
address = "127.0.0.1:${ports.https}"
  [entryPoints.https.tls]
[proxy]
mode = "native"
${rest}`;
}

/** The `[acme]` block against Pebble with the given storage, plus extra lines. */
function acmeToml(pebble: Pebble, storage: string, extra = ''): string {
  return `[acme]
email = "ops@example.net"
storage = "${storage}"
entryPoint = "https"
onHostRule = true
caServer = "${pebble.directoryUrl}"
acceptTermsOfService = true
caBundle = "${pebble.caFile}"
${extra}`;
}

/** A file-source configuration with file storage (or `acmeBlock` in place of the `[acme]` part). */
export function configToml(o: { readonly dir: string; readonly ports: ProxyPorts; readonly pebble: Pebble; readonly acmeExtra?: string; readonly acmeBlock?: string }): string {
  const acme = o.acmeBlock ?? acmeToml(o.pebble, path.join(o.dir, 'acme.json'), o.acmeExtra);
  return nativeToml(
    o.ports,
    `[file]
directory = "${path.join(o.dir, 'ingress')}"
watch = true
${acme}
`,
  );
}

/** A Kubernetes-source configuration (short Lease) with certificates in Secrets `passerelle/PREFIX-*`. */
export function kubernetesToml(o: { readonly ports: ProxyPorts; readonly pebble: Pebble; readonly kubeconfig: string; readonly prefix: string; readonly acmeExtra?: string }): string {
  return nativeToml(
    o.ports,
    `[kubernetes]
enabled = true
kubeconfig = "${o.kubeconfig}"
leaseNamespace = "passerelle"
leaseDuration = "3s"
${acmeToml(o.pebble, `kubernetes:passerelle/${o.prefix}`, o.acmeExtra)}`,
  );
}

/** Writes `DIR/NAME.toml` and starts `passerelle run` on it with the fast ACME tuning. */
export async function startFromToml(dir: string, name: string, text: string): Promise<RunningController> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.toml`);
  await writeFile(file, text);
  return startController(parseFlags(['run', `--configfile=${file}`]), process.env['PASSERELLE_TEST_LOG'] ? undefined : silentLogger, { acme: FAST });
}

/** Writes config + objects and starts the controller. */
export async function startPasserelle(o: { readonly dir: string; readonly toml: string; readonly yaml?: string; readonly tuning?: AcmeTuning; readonly logger?: Logger }): Promise<RunningController> {
  await mkdir(path.join(o.dir, 'ingress'), { recursive: true });
  if (o.yaml !== undefined) await writeFile(path.join(o.dir, 'ingress', 'objects.yaml'), o.yaml);
  const file = path.join(o.dir, 'passerelle.toml');
  await writeFile(file, o.toml);
  return startController(parseFlags(['run', `--configfile=${file}`]), o.logger ?? (process.env['PASSERELLE_TEST_LOG'] ? undefined : silentLogger), { acme: o.tuning ?? FAST });
}

/** Short backoff and polling so the tests run in seconds. */
export const FAST: AcmeTuning = { backoffBaseMs: 1000, backoffMaxMs: 8000, pollMinMs: 250, pollMaxMs: 1000, pollAttempts: 60, httpRetries: 1, checkIntervalMs: 2000, concurrency: 8 };

/** The certificate chain a TLS handshake with `servername` gets from 127.0.0.1:port. */
export function servedChain(port: number, servername: string, timeoutMs = 5000): Promise<X509Certificate[]> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const chain: X509Certificate[] = [];
      let c = s.getPeerX509Certificate();
      const seen = new Set<string>();
      while (c !== undefined && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256);
        chain.push(c);
        c = c.issuerCertificate;
      }
      s.end();
      resolve(chain);
    });
    s.setTimeout(timeoutMs, () => s.destroy(new Error('TLS handshake timeout')));
    s.once('error', reject);
  });
}

/** GET https://servername:port/ verified against `ca` (Pebble's root); resolves with the status and body. */
export function httpsGet(port: number, servername: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      s.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (data += c));
    s.on('end', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve({ status: m ? Number(m[1]) : 0, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    s.setTimeout(5000, () => s.destroy(new Error('request timeout')));
    s.once('error', reject);
  });
}

/** Polls `check` every 100 ms until it holds or `ms` pass; the message explains a timeout. */
export async function waitUntil(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether `chain[0]` is for `name` and the chain ends at a certificate issued by `rootPem`. */
export function chainsTo(chain: readonly X509Certificate[], name: string, rootPem: string): boolean {
  const leaf = chain[0];
  if (leaf === undefined || leaf.checkHost(name) === undefined) return false;
  const root = new X509Certificate(rootPem);
  const last = chain[chain.length - 1];
  return last !== undefined && (last.fingerprint256 === root.fingerprint256 || last.checkIssued(root) && last.verify(root.publicKey));
}
