/*
 * Real Pebble + pebble-challtestsrv for the ACME tests (no fake CA). Binaries come from
 * scripts/pebble.sh (built from the Go module proxy, else Debian's package) or from
 * PASSERELLE_PEBBLE / PASSERELLE_CHALLTESTSRV. Everything binds to 127.0.0.1 on free ports.
 * Pebble's DNS is challtestsrv, which answers 127.0.0.1 for every name, so HTTP-01 validation
 * really goes through the proxy under test on `httpPort`.
 */

import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
export { freePort } from '../../ports.ts';
import { freePort } from '../../ports.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');

/** Where the binaries are and which Pebble it is. */
export interface PebbleBinaries {
  readonly pebble: string;
  readonly challtestsrv: string;
  readonly version: string;
}

let found: Promise<PebbleBinaries> | undefined;

/** Finds (or builds, once) Pebble; throws a clear error when it cannot be had: the tests fail, never skip. */
export function pebbleBinaries(): Promise<PebbleBinaries> {
  found ??= (async () => {
    const envPebble = process.env['PASSERELLE_PEBBLE'];
    const envChall = process.env['PASSERELLE_CHALLTESTSRV'];
    if (envPebble !== undefined && envChall !== undefined) return { pebble: envPebble, challtestsrv: envChall, version: process.env['PASSERELLE_PEBBLE_VERSION'] ?? 'from environment' };
    try {
      const { stdout, stderr } = await run('bash', [path.join(root, 'scripts/pebble.sh')], { timeout: 600_000 });
      const vars = Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const pebble = vars['PASSERELLE_PEBBLE'];
      const challtestsrv = vars['PASSERELLE_CHALLTESTSRV'];
      if (pebble === undefined || challtestsrv === undefined) throw new Error(`scripts/pebble.sh printed no paths: ${stderr}`);
      process.stderr.write(stderr);
      return { pebble, challtestsrv, version: vars['PASSERELLE_PEBBLE_VERSION'] ?? 'unknown' };
    } catch (err) {
      throw new Error(
        `Pebble is missing: the ACME integration tests need Pebble and pebble-challtestsrv. Run: bash scripts/pebble.sh ` +
          `(builds them from the Go module proxy, or installs Debian's package pebble), or set PASSERELLE_PEBBLE and PASSERELLE_CHALLTESTSRV. Cause: ${(err as Error).message}`,
        { cause: err },
      );
    }
  })();
  return found;
}


/** A CA and a leaf for 127.0.0.1/localhost made with openssl: the TLS of Pebble's API. */
export async function makePebbleTls(dir: string): Promise<{ caPem: string; caFile: string; certFile: string; keyFile: string }> {
  await mkdir(dir, { recursive: true });
  const f = (n: string): string => path.join(dir, n);
  const { readFile, access } = await import('node:fs/promises');
  // A restarted Pebble keeps its TLS certificate (clients were told to trust it).
  if (await access(f('cert.pem')).then(() => true, () => false)) {
    return { caPem: await readFile(f('ca.pem'), 'utf8'), caFile: f('ca.pem'), certFile: f('cert.pem'), keyFile: f('key.pem') };
  }
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=passerelle test pebble CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('key.pem'), '-out', f('leaf.csr'), '-subj', '/CN=localhost']);
  await writeFile(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('cert.pem'), '-days', '2', '-extfile', f('ext.cnf')]);
  return { caPem: await readFile(f('ca.pem'), 'utf8'), caFile: f('ca.pem'), certFile: f('cert.pem'), keyFile: f('key.pem') };
}

/** Options of {@link startPebble}. */
export interface PebbleOptions {
  readonly dir: string;
  /** The port Pebble validates HTTP-01 on (the proxy's http entry point). */
  readonly httpPort: number;
  readonly tlsPort: number;
  /** Certificate lifetime, seconds (Pebble ≥ 2.5 profiles; ignored by Debian's 2.4). */
  readonly validitySeconds?: number;
  /** Percent of nonces Pebble rejects (default: Pebble's 5). */
  readonly nonceReject?: number;
  /** Maximum random validation delay, seconds (default: Pebble's 5). */
  readonly vaSleepSeconds?: number;
  /** `host:port` of the DNS server Pebble asks (DNS-01 TXT lookups): a real BIND; default challtestsrv. */
  readonly dnsServer?: string;
  /** Reuse ports across a restart. */
  readonly ports?: { readonly acme: number; readonly management: number; readonly dns: number; readonly challMgmt: number };
}

/** A running Pebble. */
export interface Pebble {
  readonly directoryUrl: string;
  readonly managementUrl: string;
  readonly caPem: string;
  readonly caFile: string;
  readonly ports: { readonly acme: number; readonly management: number; readonly dns: number; readonly challMgmt: number };
  readonly binaries: PebbleBinaries;
  /** Pebble's current issuing root (from the management port), PEM. */
  root(): Promise<string>;
  /** Lines Pebble logged. */
  readonly log: string[];
  /** Number of orders created (counted from Pebble's log). */
  ordersCreated(): number;
  stop(): Promise<void>;
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5000, headers: { 'user-agent': 'passerelle-tests' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** Starts challtestsrv (DNS only) and Pebble; resolves when Pebble's directory answers. */
export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  const binaries = await pebbleBinaries();
  const tls = await makePebbleTls(path.join(o.dir, 'pebble-tls'));
  const ports = o.ports ?? { acme: await freePort(), management: await freePort(), dns: await freePort(), challMgmt: await freePort() };
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${ports.acme}`,
      managementListenAddress: `127.0.0.1:${ports.management}`,
      certificate: tls.certFile,
      privateKey: tls.keyFile,
      httpPort: o.httpPort,
      tlsPort: o.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      retryAfter: { authz: 1, order: 1 },
      keyAlgorithm: 'ecdsa',
      ...(o.validitySeconds === undefined ? {} : { certificateValidityPeriod: o.validitySeconds, profiles: { default: { description: 'test', validityPeriod: o.validitySeconds } } }),
    },
  };
  const cfgFile = path.join(o.dir, 'pebble-config.json');
  await writeFile(cfgFile, JSON.stringify(config, null, 2));
  const log: string[] = [];
  const chall = spawn(
    binaries.challtestsrv,
    ['-http01', '', '-https01', '', '-tlsalpn01', '', '-doh', '', '-dnsserver', `127.0.0.1:${ports.dns}`, '-management', `127.0.0.1:${ports.challMgmt}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  chall.stdout?.on('data', () => {});
  chall.stderr?.on('data', () => {});
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (o.nonceReject !== undefined) env['PEBBLE_WFE_NONCEREJECT'] = String(o.nonceReject);
  if (o.vaSleepSeconds !== undefined) env['PEBBLE_VA_SLEEPTIME'] = String(o.vaSleepSeconds);
  const pebble = spawn(binaries.pebble, ['-config', cfgFile, '-dnsserver', o.dnsServer ?? `127.0.0.1:${ports.dns}`], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const collect = (d: Buffer): void => {
    for (const line of d.toString('utf8').split('\n')) if (line.trim() !== '') log.push(line);
  };
  pebble.stdout?.on('data', collect);
  pebble.stderr?.on('data', collect);
  const directoryUrl = `https://127.0.0.1:${ports.acme}/dir`;
  const managementUrl = `https://127.0.0.1:${ports.management}`;
  const deadline = Date.now() + 15_000;
  try {
    for (;;) {
      if (pebble.exitCode !== null) throw new Error(`pebble exited with ${pebble.exitCode}: ${log.slice(-10).join('\n')}`);
      try {
        const r = await get(directoryUrl, tls.caPem);
        if (r.status === 200) break;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`pebble did not answer on ${directoryUrl}: ${log.slice(-10).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await Promise.all([stopChild(pebble), stopChild(chall)]);
    throw err;
  }
  return {
    directoryUrl,
    managementUrl,
    caPem: tls.caPem,
    caFile: tls.caFile,
    ports,
    binaries,
    log,
    async root() {
      const r = await get(`${managementUrl}/roots/0`, tls.caPem);
      if (r.status !== 200) throw new Error(`pebble /roots/0 answered ${r.status}`);
      return r.body;
    },
    ordersCreated() {
      return log.filter((l) => /Added order/i.test(l)).length;
    },
    async stop() {
      await Promise.all([stopChild(pebble), stopChild(chall)]);
    },
  };
}
