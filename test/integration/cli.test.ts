import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const seed = ['--configfile=test/fixtures/seed/traefik.toml', '--directory', 'test/fixtures/seed'];

/** Runs the real CLI (bin/passerelle.js) on the pinned Node. */
function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/passerelle.js', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it. */
function golden(name: string, actual: string): void {
  const file = path.join(root, 'test/golden', name);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from test/golden/${name} (UPDATE_GOLDEN=1 to accept)`);
}

test('run --dry-run on the seed: four virtual hosts, servers with weights, redirect and basic auth on both entry points', () => {
  const r = cli('run', '--dry-run', ...seed);
  assert.equal(r.code, 0, r.stderr);
  for (const host of ['seedbox.archifleks.net', 'tv.archifleks.net', 'torrents.archifleks.net', 'movies.archifleks.net']) {
    assert.match(r.stdout, new RegExp(`^  ${host.replaceAll('.', '\\.')}  \\(exact\\)`, 'm'));
  }
  assert.match(r.stdout, /server 10\.2\.80\.9:8081 {2}weight 1 {2}sickrage-3769118260-h5c78/);
  assert.match(r.stdout, /^ {2}http {2}:80 {2}redirect -> https \(302, https port 443\); then basic auth/m);
  assert.match(r.stdout, /^ {2}https {2}:443 {2}TLS {2}basic auth \(realm "[^"]+", 1 user: klefevre\)/m);
  golden('dry-run-seed.txt', r.stdout);
});

test('run --dry-run --output json on the seed is machine-readable and leaves out private keys', () => {
  const r = cli('run', '--dry-run', '--output', 'json', ...seed);
  assert.equal(r.code, 0, r.stderr);
  const model = JSON.parse(r.stdout) as { virtualHosts: { host: string }[]; entryPoints: { name: string }[] };
  assert.deepEqual(model.virtualHosts.map((v) => v.host), ['movies.archifleks.net', 'seedbox.archifleks.net', 'torrents.archifleks.net', 'tv.archifleks.net']);
  assert.deepEqual(model.entryPoints.map((e) => e.name), ['http', 'https']);
});

test('run --dry-run on examples/ matches its golden file and holds no private key', () => {
  const r = cli('run', '--dry-run', '--configfile=examples/passerelle.toml');
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /PRIVATE KEY/);
  assert.match(r.stdout, /secure\.localhost {2}\(exact\) {2}certificate demo\/secure-localhost-tls/);
  golden('dry-run-examples.txt', r.stdout);
  const json = cli('run', '--dry-run', '--output', 'json', '--configfile=examples/passerelle.toml');
  assert.doesNotMatch(json.stdout, /PRIVATE KEY/);
});

test('explain http://tv.archifleks.net/ names the redirect, the auth middleware and the sickrage backend', () => {
  const r = cli('explain', 'http://tv.archifleks.net/', ...seed);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Entry point: http \(:80\)/);
  assert.match(r.stdout, /redirect -> https .* answers 302 Location: https:\/\/tv\.archifleks\.net\//);
  assert.match(r.stdout, /basic auth .* not reached/);
  assert.match(r.stdout, /Route: Prefix \/ -> default\/sickrage:8081/);
  assert.match(r.stdout, /server 10\.2\.80\.9:8081 weight 1/);
  assert.match(r.stdout, /not seedbox\.archifleks\.net: different name/);
});

test('explain on https checks the seed credentials', () => {
  const good = cli('explain', 'https://tv.archifleks.net/', '--header', `Authorization: Basic ${Buffer.from('klefevre:klo98zsd').toString('base64')}`, ...seed);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /user klefevre: password accepted/);
  assert.match(good.stdout, /Answer: proxied to the backend/);
  const bad = cli('explain', 'https://tv.archifleks.net/', '--header', `Authorization: Basic ${Buffer.from('klefevre:nope').toString('base64')}`, ...seed);
  assert.match(bad.stdout, /wrong password: 401/);
  assert.match(bad.stdout, /Answer: 401/);
});

test('check reports each bad object with namespace/name and field, exits 1, and still builds the good one', () => {
  const r = cli('check', '--configfile=test/fixtures/check/passerelle.toml');
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /error PASS_INGRESS_BAD_HOST Ingress shop\/bad spec\.rules\[0\]\.host/);
  assert.match(r.stdout, /error PASS_INGRESS_BAD_PATH Ingress shop\/bad spec\.rules\[1\]\.http\.paths\[0\]\.path/);
  assert.match(r.stdout, /error PASS_INGRESS_MISSING_SERVICE Ingress shop\/bad spec\.rules\[1\]\.http\.paths\[1\]/);
  assert.match(r.stdout, /broken\.yaml:\d+/);
  const dry = cli('run', '--dry-run', '--configfile=test/fixtures/check/passerelle.toml');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /shop\.example\.com {2}\(exact\)/);
  assert.doesNotMatch(dry.stdout, /evil/);
});

test('a config error names the file, the line and the key, and exits non-zero', () => {
  const r = cli('run', '--dry-run', '--configfile=test/fixtures/config-errors/unknown-key.toml');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unknown-key\.toml:5/);
  assert.match(r.stderr, /entryPoints\.web\.tls\.bogus/);
});

test('an unknown command or flag is a clear error', () => {
  assert.match(cli('frobnicate').stderr, /PASS_CLI_UNKNOWN_COMMAND/);
  assert.match(cli('run', '--nope').stderr, /PASS_FLAG_UNKNOWN/);
});
