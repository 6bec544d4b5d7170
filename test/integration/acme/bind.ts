/*
 * A real BIND 9 (Debian's bind9) for the DNS-01 tests: started on 127.0.0.1 on a free port with a
 * TSIG key that may update TXT records of its test zones, stopped by the test. Nothing is mocked:
 * the RFC 2136 provider, the exec script and Pebble all talk to it.
 */

import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TsigKey } from '../../../src/acme/dns/rfc2136.ts';
import { freePort } from '../../ports.ts';

const run = promisify(execFile);

/** A running BIND. */
export interface Bind {
  /** `127.0.0.1:port`. */
  readonly server: string;
  readonly port: number;
  /** The key allowed to update TXT records of the zones. */
  readonly key: TsigKey;
  /** The TXT values at a name, as BIND answers now. */
  txt(name: string): Promise<string[]>;
  /** BIND's log so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** Finds named, or throws with the package to install: the DNS-01 tests fail, never skip. */
async function namedBinary(): Promise<string> {
  for (const candidate of ['/usr/sbin/named', 'named']) {
    try {
      await run(candidate, ['-v']);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error('BIND 9 is missing: the DNS-01 tests need named (Debian package bind9) and nsupdate (bind9-dnsutils); bash scripts/setup-test-deps.sh installs them');
}

/** Starts BIND with primary zones `zones` (each with an SOA, an NS and ns → 127.0.0.1). */
export async function startBind(dir: string, zones: readonly string[]): Promise<Bind> {
  const named = await namedBinary();
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const key: TsigKey = { name: 'passerelle-test', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
  const zoneBlocks = zones.map(
    (z) => `zone "${z}" {\n  type primary;\n  file "${path.join(dir, `${z}.zone`)}";\n  update-policy { grant ${key.name} zonesub TXT; };\n};`,
  );
  for (const z of zones) {
    await writeFile(path.join(dir, `${z}.zone`), `$TTL 60\n@ IN SOA ns.${z}. hostmaster.${z}. ( 1 60 60 600 60 )\n  IN NS ns.${z}.\nns IN A 127.0.0.1\n`);
  }
  const conf = path.join(dir, 'named.conf');
  await writeFile(
    conf,
    [
      `key "${key.name}" { algorithm ${key.algorithm}; secret "${key.secret}"; };`,
      'options {',
      `  directory "${dir}";`,
      `  pid-file "${path.join(dir, 'named.pid')}";`,
      `  listen-on port ${port} { 127.0.0.1; };`,
      '  listen-on-v6 { none; };',
      '  recursion no;',
      '  dnssec-validation no;',
      '  allow-query { any; };',
      '  notify no;',
      '};',
      'controls { };',
      ...zoneBlocks,
      '',
    ].join('\n'),
  );
  const logFile = path.join(dir, 'named.log');
  const child: ChildProcess = spawn(named, ['-g', '-c', conf, ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => chunks.push(c));
  child.stderr?.on('data', (c: Buffer) => chunks.push(c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`named exited at start: ${Buffer.concat(chunks).toString()}`);
    try {
      await resolver.resolveSoa(zones[0] ?? '.');
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`named did not answer within 15 s: ${Buffer.concat(chunks).toString()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    server: `127.0.0.1:${port}`,
    port,
    key,
    async txt(name) {
      try {
        return (await resolver.resolveTxt(name)).map((c) => c.join(''));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOTFOUND' || (err as NodeJS.ErrnoException).code === 'ENODATA') return [];
        throw err;
      }
    },
    async log() {
      await writeFile(logFile, Buffer.concat(chunks));
      return readFile(logFile, 'utf8');
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
