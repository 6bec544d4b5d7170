/*
 * No secret leaves through the web server: `passerelle run` with `[web]`, basic auth (an $apr1$ and
 * a bcrypt user, on an entry point and on the web server) and `[acme]` against a real Pebble. Once
 * a certificate is issued, every /api/* route, /metrics and `run --dry-run --output json` are read,
 * and none holds the ACME account private key, the certificate's private key (as PEM, as its
 * base64 lines, or base64-encoded whole as acme.json stores it) or an htpasswd hash.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { freePort, startPebble } from '../acme/pebble.ts';
import { ingressYaml, proxyPorts, startEcho, startPasserelle, waitUntil } from '../acme/env.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const APR1 = 'demo:$apr1$M7pJ5fVy$/oV8m1hsMBPMpsDOzicGF0'; // demo / demo
const AUTH = `Basic ${Buffer.from('demo:demo').toString('base64')}`;

/** Every form in which `pem` (a PEM private key) could leak: its base64 lines, and the whole PEM base64-encoded. */
function keyForms(pem: string): string[] {
  const body = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  const whole = Buffer.from(pem).toString('base64');
  return [...body.filter((l) => l.length >= 32), whole.slice(0, 64), whole.slice(64, 128)].filter((s) => s.length >= 32);
}

test('run --web with [acme] (Pebble): no API route, /metrics nor the dry-run JSON holds a private key, the account key or an htpasswd hash', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-web-secrets-'));
  const ports = await proxyPorts();
  const [privatePort, webPort] = [await freePort(), await freePort()];
  const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https });
  const echo = await startEcho('echo');
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  const bcryptLine = `ops:${bcrypt.hashSync('ops-password', 4)}`;
  const storage = path.join(dir, 'acme.json');
  const toml = `logLevel = "info"
defaultEntryPoints = ["http", "https", "private"]
[entryPoints.http]
address = "127.0.0.1:${ports.http}"
  [entryPoints.http.redirect]
  entryPoint = "https"
[entryPoints.https]
address = "127.0.0.1:${ports.https}"
  [entryPoints.https.tls]
[entryPoints.private]
address = "127.0.0.1:${privatePort}"
  [entryPoints.private.auth.basic]
  users = [${JSON.stringify(APR1)}, ${JSON.stringify(bcryptLine)}]
[proxy]
mode = "native"
[file]
directory = ${JSON.stringify(path.join(dir, 'ingress'))}
watch = true
[web]
enabled = true
address = "127.0.0.1:${webPort}"
  [web.auth.basic]
  users = [${JSON.stringify(APR1)}, ${JSON.stringify(bcryptLine)}]
[acme]
email = "ops@example.net"
storage = ${JSON.stringify(storage)}
entryPoint = "https"
onHostRule = true
caServer = "${pebble.directoryUrl}"
acceptTermsOfService = true
caBundle = ${JSON.stringify(pebble.caFile)}
`;
  const running = await startPasserelle({ dir, toml, yaml: ingressYaml({ echoPort: echo.port, groups: [['secret.example.test']], tls: true }) });
  try {
    const manager = running.acme!.manager;
    await waitUntil(() => manager.certificates().length === 1, 120_000, 'a certificate issued');
    const web = `http://127.0.0.1:${webPort}`;
    // The certificate is in the served model (applied after the order).
    await waitUntil(
      async () => {
        const r = await fetch(`${web}/api/certificates`, { headers: { authorization: AUTH } });
        const body = (await r.json()) as { certificates: { source: string; served: boolean; acme: { state: string } | null }[] };
        return body.certificates.some((c) => c.source === 'acme' && c.served && c.acme?.state === 'valid');
      },
      30_000,
      'the ACME certificate served and valid in /api/certificates',
    );

    // What must not leak, read from the storage itself.
    const stored = JSON.parse(await readFile(storage, 'utf8')) as { Account?: { keyPem?: string }; DomainsCertificate: { Certs: { Certificate: { PrivateKey: string } }[] } };
    const accountKey = stored.Account?.keyPem ?? '';
    assert.match(accountKey, /PRIVATE KEY/, 'the account key is in acme.json');
    const certKeyB64 = stored.DomainsCertificate.Certs[0]?.Certificate.PrivateKey ?? '';
    const certKey = Buffer.from(certKeyB64, 'base64').toString('utf8');
    assert.match(certKey, /PRIVATE KEY/, 'the certificate key is in acme.json');
    const hashes = [APR1, bcryptLine].map((l) => l.slice(l.indexOf(':') + 1));
    const forbidden: [string, string][] = [
      ...keyForms(accountKey).map((s): [string, string] => ['the ACME account key', s]),
      ...keyForms(certKey).map((s): [string, string] => ['the certificate key', s]),
      ['the certificate key as stored', certKeyB64.slice(0, 64)],
      ...hashes.map((h): [string, string] => ['an htpasswd hash', h]),
    ];
    const check = (where: string, body: string): void => {
      assert.doesNotMatch(body, /PRIVATE KEY/, `${where}: a PEM private key`);
      assert.doesNotMatch(body, /\$apr1\$|\$2[abxy]\$\d\d\$|\{SHA\}/, `${where}: an htpasswd hash`);
      for (const [what, s] of forbidden) assert.ok(!body.includes(s), `${where}: ${what}`);
    };

    const routes = [
      '/api/overview',
      '/api/routers',
      '/api/backends',
      '/api/certificates',
      '/api/diagnostics',
      '/api/explain?url=https://secret.example.test/',
      `/api/explain?url=http://127.0.0.1:${privatePort}/&header=Authorization:%20Basic%20ZGVtbzpkZW1v`,
      '/metrics',
    ];
    for (const p of routes) {
      const r = await fetch(`${web}${p}`, { headers: { authorization: AUTH } });
      assert.equal(r.status, 200, p);
      const body = await r.text();
      check(p, body);
      if (p === '/api/certificates') assert.match(body, /secret\.example\.test/);
      if (p === '/metrics') assert.match(body, /passerelle_/);
    }

    const dry = spawnSync(process.execPath, ['bin/passerelle.js', 'run', '--dry-run', '--output', 'json', `--configfile=${path.join(dir, 'passerelle.toml')}`], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(dry.status, 0, dry.stderr);
    check('run --dry-run --output json', dry.stdout);
    // The dry run did build the model, with the users (by name).
    assert.match(dry.stdout, /secret\.example\.test/);
    assert.match(dry.stdout, /"ops"/);
    // It serves the issued certificate, as run does (read from the ACME storage), without its key.
    const certificates = (JSON.parse(dry.stdout) as { certificates: { id: string; hosts: string[] }[] }).certificates;
    assert.ok(certificates.some((c) => c.hosts.includes('secret.example.test')), `the dry run lists the ACME certificate: ${JSON.stringify(certificates)}`);
  } finally {
    await running.stop();
  }
});
