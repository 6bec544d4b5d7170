import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { golden } from '../unit/golden.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const seed = ['--configfile=test/fixtures/seed/traefik.toml', '--directory', 'test/fixtures/seed'];

/** Runs the real CLI (bin/passerelle.js) on the pinned Node. */
function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/passerelle.js', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
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
  golden('dry-run-seed.txt', r.stdout, '');
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
  golden('dry-run-examples.txt', r.stdout, '');
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

/** Runs the real CLI with an environment of its own (`undefined` removes a variable). */
function cliEnv(env: Readonly<Record<string, string | undefined>>, ...args: string[]): { code: number | null; stdout: string; stderr: string; ms: number } {
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v;
  const started = Date.now();
  const r = spawnSync(process.execPath, ['bin/passerelle.js', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000, env: merged });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

test('passerelle alone, --help, -h, COMMAND --help print usage; --version, -v, version the version', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  for (const args of [[], ['--help'], ['-h'], ['help']]) {
    const r = cli(...args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: passerelle <command> \[options\]/, args.join(' '));
    assert.equal(r.stderr, '');
  }
  for (const command of ['run', 'render', 'check', 'explain']) {
    const r = cli(command, '--help', '--configfile=does-not-exist.toml');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: passerelle ${command}`));
  }
  for (const args of [['--version'], ['-v'], ['version']]) {
    const r = cli(...args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `passerelle ${pkg.version}\n`);
  }
});

test('unknown commands and options are errors with a hint, exit 2', () => {
  const command = cli('chek');
  assert.equal(command.code, 2);
  assert.match(command.stderr, /PASS_CLI_UNKNOWN_COMMAND.*did you mean check\?/);
  const flag = cli('run', '--dryrun', '--configfile=examples/passerelle.toml');
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /PASS_FLAG_UNKNOWN.*did you mean --dry-run\?/);
  assert.equal(flag.stdout, '');
});

test('--output json: stdout is one JSON document for run --dry-run, check and explain (also through npm run -s)', () => {
  for (const args of [['run', '--dry-run'], ['check'], ['explain', 'http://whoami.localhost:8000/']]) {
    const r = cli(...args, '--output', 'json', '--configfile=examples/passerelle.toml');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotThrow(() => JSON.parse(r.stdout), args.join(' '));
  }
  const npm = spawnSync('npm', ['run', '-s', 'passerelle', '--', 'check', '--output', 'json', '--configfile=examples/passerelle.toml'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(npm.status, 0, npm.stderr);
  assert.equal((JSON.parse(npm.stdout) as { errors: number }).errors, 0);
});

test('run: a first configuration that cannot be applied (address in use) ends run at once with the cause, exit 2', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as AddressInfo).port;
  const dir = mkdtempSync(path.join(tmpdir(), 'passerelle-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'passerelle.toml');
  writeFileSync(config, `[entryPoints.web]\naddress = "127.0.0.1:${port}"\n\n[file]\ndirectory = ${JSON.stringify(path.join(root, 'examples/ingress'))}\nwatch = false\n`);
  const r = cliEnv({}, 'run', `--configfile=${config}`, '--log.format=json');
  assert.equal(r.code, 2, r.stderr);
  assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
  assert.match(r.stderr, new RegExp(`passerelle: error PASS_NATIVE_LISTEN.*entry point web on 127\\.0\\.0\\.1:${port}.*already in use`));
  assert.doesNotMatch(r.stderr + r.stdout, /keeps serving|Passerelle is serving/);
});

test('check and run with Kubernetes on and no configuration anywhere fail at once with that cause', (t) => {
  const home = mkdtempSync(path.join(tmpdir(), 'passerelle-home-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const env = { HOME: home, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined, KUBERNETES_SERVICE_PORT: undefined };
  for (const command of ['check', 'run']) {
    const r = cliEnv(env, command, '--kubernetes', '--configfile=examples/passerelle.toml');
    assert.notEqual(r.code, 0, command);
    assert.ok(r.ms < 15_000, `${command} took ${r.ms} ms`);
    assert.match(r.stderr, /PASS_KUBE_CONFIG.*no Kubernetes configuration found/, command);
  }
});

test('explain --entrypoint NAME picks the entry point; with several candidates and none on the port, none is guessed', () => {
  const named = cli('explain', 'http://tv.archifleks.net/', '--entrypoint', 'https', ...seed);
  assert.equal(named.code, 0, named.stderr);
  assert.match(named.stdout, /Entry point: https \(:443, TLS\) — named with --entrypoint/);
  const unknown = cli('explain', 'http://tv.archifleks.net/', '--entrypoint', 'nope', ...seed);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stdout, /no entry point is named "nope" \(entry points: http, https\)/);
  // examples/: three plain HTTP entry points (web, redirect, private), none on 9999.
  const several = cli('explain', 'http://whoami.localhost:9999/', '--configfile=examples/passerelle.toml');
  assert.equal(several.code, 1);
  assert.match(several.stdout, /no entry point listens on port 9999; name one with --entrypoint NAME \(.*private.*\)/);
  const chosen = cli('explain', 'http://whoami.localhost:9999/', '--entrypoint=private', '--configfile=examples/passerelle.toml');
  assert.equal(chosen.code, 0, chosen.stderr);
  assert.match(chosen.stdout, /Entry point: private/);
  assert.match(chosen.stdout, /401/);
});
