/*
 * TLS hosts benchmark: HOSTS hosts, each with a certificate of its own (as thousands of Ingresses
 * with their own TLS Secrets), over 100 Services. Per mode, side by side in one run: the first apply
 * (render + validate + start), a change that adds one host and its certificate (render + validate +
 * reload), that every sampled host is served its own certificate by SNI, and new TLS handshakes per
 * second against one host (no session reuse: what a certificate read per handshake costs).
 * Usage: npx node bench/tls-hosts.ts   (env: HOSTS=10000 MODES=nginx,haproxy,native HANDSHAKES=400 WORK_PARENT=/var/tmp KEEP_WORK=1)
 * WORK_PARENT: where the work directories are made (default the system's temporary directory). On ext4
 * without a journal, creating 10,000 files where thousands were deleted in the last minutes (another
 * run's, tests') is several times slower: the inode allocator skips recently deleted inodes one by one.
 * KEEP_WORK=1 leaves the work directories (under WORK_PARENT) in place, so that a run does not slow the next.
 */
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { performance } from 'node:perf_hooks';
import * as x509 from '@peculiar/x509';
import { createHaproxyDriver } from '../src/drivers/haproxy/index.ts';
import { createNativeDriver } from '../src/drivers/native/index.ts';
import { createNginxDriver } from '../src/drivers/nginx/index.ts';
import type { Certificate, RoutingModel } from '../src/model/types.ts';
import type { Logger } from '../src/shared/logger.ts';
import { backend, entryPoint, freePort, model, route, startEcho, vhost } from '../test/behaviour/harness.ts';

const HOSTS = Number(process.env['HOSTS'] ?? 10_000);
const MODES = (process.env['MODES'] ?? 'nginx,haproxy,native').split(',');
const HANDSHAKES = Number(process.env['HANDSHAKES'] ?? 400);
const SERVICES = 100;

x509.cryptoProvider.set(webcrypto);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
// One key pair for every certificate: the proxies load (or read) each certificate all the same.
const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
const keyPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PRIVATE KEY-----\n`;

const hostName = (i: number): string => `h${String(i).padStart(5, '0')}.tls.test`;

async function certificateFor(host: string): Promise<Certificate> {
  const c = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(host).toString('hex').slice(0, 30),
    name: `CN=${host}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }])],
  });
  const name = host.split('.')[0] ?? host;
  return { id: `default/${name}`, hosts: [host], certPem: c.toString('pem'), keyPem, source: { kind: 'Secret', namespace: 'default', name } };
}

const started = performance.now();
const certificates: Certificate[] = [];
for (let i = 0; i <= HOSTS; i++) certificates.push(await certificateFor(hostName(i)));
console.log(`${HOSTS + 1} certificates generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const echo = await startEcho('site');
const [https, http] = [await freePort(), await freePort()];

function tlsModel(n: number): RoutingModel {
  const hosts = [];
  for (let i = 0; i < n; i++) hosts.push(vhost(hostName(i), [route('/', 'Prefix', `web${i % SERVICES}`)], `default/${hostName(i).split('.')[0] ?? ''}`));
  const backends = Array.from({ length: SERVICES }, (_, s) => backend(`web${s}`, [echo.endpoint()]));
  return model({ entryPoints: [entryPoint('https', https, { tls: true }), entryPoint('http', http)], virtualHosts: hosts, backends, certificates: certificates.slice(0, n) });
}

/** The common name of the certificate served for `servername`. */
function servedCN(servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: https, servername, rejectUnauthorized: false }, () => {
      const cn = s.getPeerCertificate().subject?.CN ?? '';
      s.destroy();
      resolve(Array.isArray(cn) ? cn.join(',') : cn);
    });
    s.on('error', reject);
  });
}

async function handshakesPerSecond(servername: string): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < HANDSHAKES; i++) await servedCN(servername);
  return HANDSHAKES / ((performance.now() - t0) / 1000);
}

/** The phases of the last apply, as the driver logs them (render, write + readability check, validate, apply = validate or what is left of it + start / reload). */
let phases = '';
const logger: Logger = {
  debug() {},
  info(obj) {
    const o = obj as Record<string, unknown>;
    // validate: from the validator's start to its result read; with validateOverlapped it ran during the writes (apply counts only what is left of it).
    if (typeof o['renderMs'] === 'number') {
      phases = `render ${String(o['renderMs'])}, write ${String(o['writeMs'])}, validate ${String(o['validateMs'])}${o['validateOverlapped'] === true ? ' (during the writes)' : ''}, apply ${String(o['applyMs'])}`;
    }
  },
  warn() {},
  error() {},
  child: () => logger,
};

interface Row {
  mode: string;
  first: number;
  change: number;
  sampled: string;
  hps: number;
}
const rows: Row[] = [];
const WORK_PARENT = process.env['WORK_PARENT'];
for (const mode of MODES) {
  const workDir = WORK_PARENT === undefined ? undefined : mkdtempSync(path.join(WORK_PARENT, `passerelle-bench-${mode}-`));
  const where = workDir === undefined ? {} : { workDir };
  const driver =
    mode === 'nginx'
      ? createNginxDriver({ workerProcesses: 1, gracePeriodMs: 2000, logger, ...where })
      : mode === 'haproxy'
        ? createHaproxyDriver({ gracePeriodMs: 2000, logger, ...where })
        : createNativeDriver({ logger });
  try {
    console.log(`${mode}: load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    let t0 = performance.now();
    // CPU of this process (every thread) during the first apply: what a busy 2-core machine has to find.
    const cpu0 = process.cpuUsage();
    await driver.apply(tlsModel(HOSTS));
    const first = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    console.log(`${mode}: first apply CPU of the controller process: user ${Math.round(cpu.user / 1000)} ms, system ${Math.round(cpu.system / 1000)} ms`);
    const firstPhases = phases;
    t0 = performance.now();
    await driver.apply(tlsModel(HOSTS + 1));
    const change = performance.now() - t0;
    if (mode !== 'native') console.log(`${mode} phases (ms): first apply: ${firstPhases}; change: ${phases}`);
    const sample = [0, 1, Math.floor(HOSTS / 2), HOSTS - 1, HOSTS].map(hostName);
    let right = 0;
    for (const h of sample) if ((await servedCN(h)) === h) right++;
    const hps = await handshakesPerSecond(hostName(Math.floor(HOSTS / 3)));
    rows.push({ mode, first, change, sampled: `${right}/${sample.length}`, hps });
    console.log(`${mode}: first apply ${first.toFixed(0)} ms, change ${change.toFixed(0)} ms, own certificate ${right}/${sample.length}, ${hps.toFixed(0)} handshakes/s`);
  } finally {
    await driver.stop(500);
    if (workDir !== undefined && process.env['KEEP_WORK'] !== '1') rmSync(workDir, { recursive: true, force: true });
  }
}
await echo.close();

console.log(`\n${HOSTS} TLS hosts, each with its own certificate, ${SERVICES} Services; apply = render + validate + start / reload (ms)`);
console.log('| mode    | first apply | + 1 host & cert | own cert by SNI | new handshakes/s |');
console.log('|---------|-------------|-----------------|-----------------|------------------|');
for (const r of rows) console.log(`| ${r.mode.padEnd(7)} | ${r.first.toFixed(0).padStart(11)} | ${r.change.toFixed(0).padStart(15)} | ${r.sampled.padStart(15)} | ${r.hps.toFixed(0).padStart(16)} |`);
for (const r of rows) {
  if (r.mode === 'native') continue;
  console.log(`target ${r.mode} ${HOSTS} TLS hosts with their own certificates apply < 2 s: ${r.first < 2000 && r.change < 2000 ? 'met' : 'NOT met'} (first ${r.first.toFixed(0)} ms, change ${r.change.toFixed(0)} ms)`);
}
process.exit(0);
