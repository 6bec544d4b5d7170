import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../ports.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');


/** The status of GET / on a port, or 0 when nothing answers. */
function status(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: 'whoami.localhost' }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Waits until `check` holds (polled), or fails with `what`. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('run: SIGHUP applies a changed entry point (a new one with basic auth), names what needs a restart, and keeps serving on an invalid file', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'passerelle-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [web, priv] = [await freePort(), await freePort()];
  const config = path.join(dir, 'passerelle.toml');
  const head = `[entryPoints.web]\naddress = "127.0.0.1:${web}"\n\n[proxy]\nmode = "native"\n\n[file]\ndirectory = ${JSON.stringify(path.join(root, 'examples/ingress'))}\nwatch = false\n`;
  writeFileSync(config, head);
  const child = spawn(process.execPath, ['bin/passerelle.js', 'run', `--configfile=${config}`, '--log.format=json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });
  await until('the web entry point', async () => (await status(web)) !== 0);
  assert.equal(await status(priv), 0);

  // A new entry point with basic auth, and a [proxy] change that only a restart applies.
  const users = `  [entryPoints.private.auth.basic]\n  users = ["demo:$apr1$M7pJ5fVy$/oV8m1hsMBPMpsDOzicGF0"]\n`;
  writeFileSync(config, `${head.replace('mode = "native"', 'mode = "native"\nconnectTimeout = "7s"')}\n[entryPoints.private]\naddress = "127.0.0.1:${priv}"\n${users}`);
  child.kill('SIGHUP');
  await until('the new entry point answering 401', async () => (await status(priv)) === 401).catch((err: unknown) => assert.fail(`${(err as Error).message}; the controller said:\n${output}`));
  assert.match(output, /SIGHUP: changed section\(s\) \[proxy\] need a restart/);
  assert.match(output, /SIGHUP: configuration reloaded; the entry points are applied/);

  // An invalid file: reported with file:line and key, the running configuration kept.
  writeFileSync(config, `${head}\n[entryPoints.private]\naddress = "127.0.0.1:${priv}"\nredirect = 12\n`);
  child.kill('SIGHUP');
  await until('the invalid file reported', () => /is not a valid configuration; the running configuration is kept/.test(output));
  const escaped = config.replaceAll('.', '\\.');
  assert.match(output, new RegExp(`error PASS_CONFIG_\\w+ entryPoints\\.private\\.redirect: [^"]*\\(${escaped}:\\d+\\)`));
  assert.equal(await status(priv), 401);
  assert.notEqual(await status(web), 0);
  assert.equal(child.exitCode, null, 'still running');
});
