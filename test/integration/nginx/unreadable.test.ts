import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireBinary } from '../haproxy/common.ts';

requireBinary('nginx');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('nginx as root: a work directory under a 0700 folder fails the first apply, naming the htpasswd file and the worker user', (t) => {
  // npm run test:all runs as root (apt-get, network namespaces): a non-root run fails here rather than skips.
  assert.equal(process.getuid?.(), 0, 'needs root: nginx workers then run as nobody');
  const dir = mkdtempSync(path.join(tmpdir(), 'passerelle-unreadable-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const closed = path.join(dir, 'closed');
  mkdirSync(closed);
  chmodSync(closed, 0o700);
  const config = path.join(dir, 'passerelle.toml');
  writeFileSync(
    config,
    `[entryPoints.private]\naddress = "127.0.0.1:18702"\n  [entryPoints.private.auth.basic]\n  users = ["demo:$apr1$M7pJ5fVy$/oV8m1hsMBPMpsDOzicGF0"]\n\n` +
      `[proxy]\nmode = "nginx"\nworkDir = ${JSON.stringify(path.join(closed, 'work'))}\n\n[file]\ndirectory = ${JSON.stringify(path.join(root, 'examples/ingress'))}\nwatch = false\n`,
  );
  const r = spawnSync(process.execPath, ['bin/passerelle.js', 'run', `--configfile=${config}`], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /PASS_PROXY_UNREADABLE.*run as "nobody" and cannot read .*closed\/work\/.*: the directory .*closed \(mode 0700/);
});

test('nginx as root: with a TLS entry point, a work directory under a 0700 folder fails the first apply, naming a certificate the workers read at handshakes', (t) => {
  assert.equal(process.getuid?.(), 0, 'needs root: nginx workers then run as nobody');
  const dir = mkdtempSync(path.join(tmpdir(), 'passerelle-unreadable-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const closed = path.join(dir, 'closed');
  mkdirSync(closed);
  chmodSync(closed, 0o700);
  const config = path.join(dir, 'passerelle.toml');
  writeFileSync(
    config,
    `[entryPoints.secure]\naddress = "127.0.0.1:18703"\n  [entryPoints.secure.tls]\n\n` +
      `[proxy]\nmode = "nginx"\nworkDir = ${JSON.stringify(path.join(closed, 'work'))}\n\n[file]\ndirectory = ${JSON.stringify(path.join(root, 'examples/ingress'))}\nwatch = false\n`,
  );
  const r = spawnSync(process.execPath, ['bin/passerelle.js', 'run', `--configfile=${config}`], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /PASS_PROXY_UNREADABLE.*run as "nobody" and cannot read .*closed\/work\/certs\/[a-z0-9._-]+\.pem: the directory .*closed \(mode 0700/);
});
