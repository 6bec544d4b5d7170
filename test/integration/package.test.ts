// The npm package as a user gets it: `npm pack` (prepack builds dist/), the tarball installed into a
// temporary prefix outside the repository, and the installed `passerelle` run from there: under
// node_modules Node does not strip types, so this checks that the compiled JavaScript, the templates
// and the dashboard's files ship and are found, and that an older Node gets a one-line message.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import type * as Certificates from '../../src/drivers/nginx/certificates.ts';
import { freePort } from '../ports.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
  dependencies: Record<string, string>;
  bin: Record<string, string>;
  license: string;
};
const OLD_NODE = '/usr/bin/node';

/**
 * The environment of the child processes: the pinned Node first on PATH (the installed bin's
 * `#!/usr/bin/env node` and npm itself run on it), without the `npm_*` variables of an enclosing
 * `npm run`, which would steer the inner npm (prefix, global, scripts).
 */
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
env['PATH'] = `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}`;
env['NO_UPDATE_NOTIFIER'] = '1';

let tmp = '';
let tarball = '';
let entries: string[] = [];
let installed = ''; // node_modules/passerelle of the temporary prefix
let bin = ''; // node_modules/.bin/passerelle of the temporary prefix
let examples = ''; // a copy of examples/passerelle.toml and examples/ingress/

function run(cmd: string, args: readonly string[], cwd: string, timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.error, undefined, `${what}: ${String(r.error)}`);
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Installs the tarball into `prefix`. With a route out, exactly as a user does (`npm install --prefix
 * DIR TARBALL`: the dependency ranges resolved on the registry). Inside scripts/in-netns.sh there is
 * none: then a lock made from the project's package-lock.json (the versions the tests ran with) lets
 * `npm ci --offline` take every dependency from the npm cache that the project's `npm ci` filled.
 */
function install(prefix: string): void {
  mkdirSync(prefix, { recursive: true });
  if (process.env['PASSERELLE_NETNS'] !== '1') {
    ok(run('npm', ['install', '--prefix', prefix, tarball, '--no-audit', '--no-fund'], tmp, 300_000), 'npm install');
    return;
  }
  const spec = `file:${path.relative(prefix, tarball)}`;
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; version?: string; resolved?: string }> };
  const packages: Record<string, unknown> = {
    '': { dependencies: { passerelle: spec } },
    'node_modules/passerelle': { version: pkg.version, resolved: spec, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/') || entry.dev === true) continue;
    // The project's lock leaves out registry URLs; with one, npm finds the tarball in its cache by integrity.
    const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[key] = { resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop() ?? name}-${entry.version ?? ''}.tgz`, ...entry };
  }
  writeFileSync(path.join(prefix, 'package.json'), JSON.stringify({ private: true, dependencies: { passerelle: spec } }));
  writeFileSync(path.join(prefix, 'package-lock.json'), JSON.stringify({ name: 'install', lockfileVersion: 3, requires: true, packages }));
  ok(run('npm', ['ci', '--prefix', prefix, '--offline', '--no-audit', '--no-fund'], tmp, 300_000), 'npm ci --offline (in the network namespace, from the npm cache)');
}

before(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'passerelle-package-'));
  ok(run('npm', ['pack', '--pack-destination', tmp], root, 300_000), 'npm pack');
  const tgz = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  assert.deepEqual(tgz, [`passerelle-${pkg.version}.tgz`]);
  tarball = path.join(tmp, tgz[0] ?? '');
  entries = ok(run('tar', ['-tzf', tarball], tmp), 'tar -t').split('\n').filter((l) => l !== '');

  install(path.join(tmp, 'prefix'));
  installed = path.join(tmp, 'prefix/node_modules/passerelle');
  bin = path.join(tmp, 'prefix/node_modules/.bin/passerelle');

  examples = path.join(tmp, 'examples');
  mkdirSync(examples);
  cpSync(path.join(root, 'examples/passerelle.toml'), path.join(examples, 'passerelle.toml'));
  cpSync(path.join(root, 'examples/ingress'), path.join(examples, 'ingress'), { recursive: true });
});

after(() => {
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
});

/** Runs the installed `passerelle` (its symlink in node_modules/.bin, through its shebang) from outside the repository. */
function passerelle(...args: string[]): SpawnSyncReturns<string> {
  return run(bin, args, tmp, 60_000);
}

test('the tarball holds the compiled CLI, templates, dashboard files and LICENSE; no sources, tests, benches or CI', () => {
  const files = entries.map((e) => e.replace(/^package\//, ''));
  for (const f of [
    'package.json',
    'README.md',
    'LICENSE',
    'bin/passerelle.js',
    'dist/cli/main.js',
    'dist/cli/main.js.map',
    'dist/render/engine.js',
    'dist/dashboard/server.js',
    'dist/dashboard/ui/index.html',
    'dist/dashboard/ui/app.js',
    'dist/dashboard/ui/style.css',
    'templates/haproxy.cfg.hbs',
    'templates/nginx.conf.hbs',
  ]) {
    assert.ok(files.includes(f), `${f} is not in the tarball`);
  }
  const shipped = /^(?:bin|dist|templates|docs)\/|^(?:package\.json|README\.md|LICENSE)$/;
  assert.deepEqual(files.filter((f) => !shipped.test(f)), [], 'files outside the shipped folders');
  assert.deepEqual(files.filter((f) => /\.(?:ts|mts|cts)$/.test(f)), [], 'TypeScript files in the tarball');
  // The compiled code imports .js, never the .ts it was written against.
  const main = readFileSync(path.join(installed, 'dist/cli/main.js'), 'utf8');
  assert.doesNotMatch(main, /from\s+["'][^"']+\.ts["']/);
  assert.match(main, /from\s+["']\.\/flags\.js["']/);
  const license = readFileSync(path.join(installed, 'LICENSE'), 'utf8');
  assert.match(license, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(license, /END OF TERMS AND CONDITIONS/);
  assert.equal(existsSync(path.join(installed, 'src')), false);
});

test('the installed passerelle --version prints the package version', () => {
  const r = passerelle('--version');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `passerelle ${pkg.version}\n`);
  assert.equal(r.stderr, '');
});

test('the installed passerelle --help prints the usage', () => {
  const r = passerelle('--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: passerelle /);
  for (const command of ['run', 'render', 'check', 'explain']) assert.match(r.stdout, new RegExp(`^ {2}${command}\\b`, 'm'));
});

test('the installed passerelle run --dry-run on a copy of examples/ prints what the sources print', () => {
  const config = `--configfile=${path.join(examples, 'passerelle.toml')}`;
  const r = passerelle('run', '--dry-run', config);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Entry points$/m);
  assert.match(r.stdout, /secure\.localhost {2}\(exact\) {2}certificate demo\/secure-localhost-tls/);
  const fromSources = ok(spawnSync(process.execPath, ['bin/passerelle.js', 'run', '--dry-run', config], { cwd: root, encoding: 'utf8', timeout: 60_000 }), 'the source tree');
  assert.equal(r.stdout, fromSources);
});

test('the installed passerelle renders haproxy and nginx files from its own templates/', () => {
  for (const proxy of ['haproxy', 'nginx']) {
    const config = `--configfile=${path.join(examples, 'passerelle.toml')}`;
    const r = passerelle('render', '--proxy', proxy, config);
    assert.equal(r.status, 0, `${proxy}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`===== ${proxy}\\.conf|===== ${proxy}\\.cfg`));
    const fromSources = ok(spawnSync(process.execPath, ['bin/passerelle.js', 'render', '--proxy', proxy, config], { cwd: root, encoding: 'utf8', timeout: 60_000 }), 'the source tree');
    assert.equal(r.stdout, fromSources, `${proxy}: the installed templates render differently`);
  }
});


test('the installed passerelle run --web serves the dashboard files from dist/', async (t) => {
  const dir = path.join(tmp, 'web');
  mkdirSync(path.join(dir, 'work'), { recursive: true });
  let toml = readFileSync(path.join(examples, 'passerelle.toml'), 'utf8').replace(/"127\.0\.0\.1:\d+"/g, () => '"127.0.0.1:PORT"');
  while (toml.includes('PORT')) toml = toml.replace('PORT', String(await freePort()));
  const web = await freePort();
  toml = toml.replace('directory = "ingress"', `directory = ${JSON.stringify(path.join(examples, 'ingress'))}`).replace('mode = "native"', 'mode = "native"\nworkDir = "work"');
  toml += `\n[web]\nenabled = true\naddress = "127.0.0.1:${web}"\n`;
  writeFileSync(path.join(dir, 'passerelle.toml'), toml);

  const child = spawn(bin, ['run', `--configfile=${path.join(dir, 'passerelle.toml')}`], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += String(c)));
  child.stderr.on('data', (c: Buffer) => (output += String(c)));
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const base = `http://127.0.0.1:${web}`;
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) assert.fail(`passerelle exited (${child.exitCode}):\n${output}`);
    const status = await fetch(`${base}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) break;
    if (Date.now() > until) assert.fail(`/readyz never answered 200 (last: ${status}):\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const [file, type, body] of [
    ['index.html', /text\/html/, readFileSync(path.join(root, 'src/dashboard/ui/index.html'), 'utf8')],
    ['app.js', /javascript/, readFileSync(path.join(root, 'src/dashboard/ui/app.js'), 'utf8')],
    ['style.css', /text\/css/, readFileSync(path.join(root, 'src/dashboard/ui/style.css'), 'utf8')],
  ] as const) {
    const res = await fetch(`${base}/dashboard/${file === 'index.html' ? '' : file}`);
    assert.equal(res.status, 200, `/dashboard/${file}:\n${output}`);
    assert.match(res.headers.get('content-type') ?? '', type);
    assert.equal(await res.text(), body, `/dashboard/${file} differs from src/dashboard/ui/${file}`);
  }
});

/** Ends a child started by a test: SIGTERM, then SIGKILL after 10 s. */
async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** GET / for `host` on a new connection; status and body, or status 0 when the connection fails. */
function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

test('the installed passerelle run with [proxy] workers = 2 starts its worker threads from dist/ and serves', async (t) => {
  const dir = path.join(tmp, 'workers');
  mkdirSync(path.join(dir, 'objects'), { recursive: true });
  const upstream = createServer((_req, res) => res.end('from-upstream'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const entry = await freePort();
  writeFileSync(
    path.join(dir, 'objects/app.yaml'),
    `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: passerelle
  annotations: { ingressclass.kubernetes.io/is-default-class: "true" }
spec: { controller: passerelle.dev/ingress-controller }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: app, namespace: demo }
spec:
  rules:
    - host: app.localhost
      http:
        paths: [{ path: /, pathType: Prefix, backend: { service: { name: app, port: { number: 80 } } } }]
---
apiVersion: v1
kind: Service
metadata: { name: app, namespace: demo }
spec:
  ports: [{ name: http, port: 80, targetPort: ${upstreamPort} }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: app-1, namespace: demo, labels: { kubernetes.io/service-name: app } }
addressType: IPv4
ports: [{ name: http, port: ${upstreamPort} }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
`,
  );
  writeFileSync(
    path.join(dir, 'passerelle.toml'),
    `logLevel = "info"
[log]
format = "json"
[entryPoints.http]
address = "127.0.0.1:${entry}"
[proxy]
mode = "native"
workers = 2
gracePeriod = "1s"
[file]
directory = "objects"
watch = false
`,
  );
  const child = spawn(bin, ['run', `--configfile=${path.join(dir, 'passerelle.toml')}`], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += String(c)));
  child.stderr.on('data', (c: Buffer) => (output += String(c)));
  t.after(async () => {
    await end(child);
    upstream.close();
  });

  // Both threads run dist/drivers/native/worker-main.js and apply the configuration (one may serve before the other has).
  const appliedBy = (): Set<number | undefined> =>
    new Set(
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg?: string; worker?: number })
        .filter((l) => l.msg === 'native proxy configuration applied')
        .map((l) => l.worker),
    );
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) assert.fail(`passerelle exited (${child.exitCode}):\n${output}`);
    const r = await get(entry, 'app.localhost');
    if (r.status === 200 && appliedBy().size === 2) break;
    if (Date.now() > until) assert.fail(`the entry point never answered 200 from both threads (last: ${r.status}):\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(appliedBy(), new Set([0, 1]), output);
  for (let i = 0; i < 20; i++) assert.deepEqual(await get(entry, 'app.localhost'), { status: 200, body: 'from-upstream' });
  assert.ok(existsSync(path.join(installed, 'dist/drivers/native/worker-main.js')));
});

test('the installed nginx certificate checker checks many new pairs on worker threads started from dist/', async () => {
  // The module as installed: its worker file is resolved next to it, as on a first start with thousands of TLS hosts.
  const mod = (await import(path.join(installed, 'dist/drivers/nginx/certificates.js'))) as typeof Certificates;
  const made = await generate([{ name: 'commonName', value: 'pkg.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const other = await generate([{ name: 'commonName', value: 'other.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  // 600 distinct pairs (a comment line after the block changes the text, not the meaning), one with a key of another certificate.
  const pairs = Array.from({ length: 600 }, (_, i) => ({ certPem: `${made.cert.trimEnd()}\n# ${i}\n`, keyPem: i === 599 ? other.private : made.private }));
  let checkedHere = 0;
  const check = mod.certificateChecker(20_000, (certPem: string, keyPem: string) => {
    checkedHere++;
    return mod.certificateProblem(certPem, keyPem);
  });
  const pending = check.start(pairs);
  const last = pairs[599]!;
  const deadline = Date.now() + 60_000;
  while (pending.check(last.certPem, last.keyPem) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await pending.settle();
  assert.equal(checkedHere, 0, 'the worker threads (dist/drivers/nginx/certificate-worker.js) answered every pair');
  assert.match(check(last.certPem, last.keyPem) ?? '', /does not match/);
});

test(`an older Node (${OLD_NODE}) gets one line naming the required and the found version, and a non-zero exit`, () => {
  const version = spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' });
  // Debian's own Node (20) is what the machine has; a missing or newer one fails here, never skips.
  assert.ok(version.error === undefined && version.status === 0, `${OLD_NODE} is not there: the old-Node message needs a Node older than ${pkg.engines.node} to be tested`);
  const found = version.stdout.trim();
  const [major = 0, minor = 0] = found.slice(1).split('.').map(Number);
  assert.ok(major < 22 || (major === 22 && minor < 19), `${OLD_NODE} is ${found}, not older than ${pkg.engines.node}: the old-Node message cannot be tested with it`);

  for (const args of [['--version'], ['run', '--dry-run', `--configfile=${path.join(examples, 'passerelle.toml')}`]]) {
    const r = spawnSync(OLD_NODE, [path.join(installed, 'bin/passerelle.js'), ...args], { cwd: tmp, env, encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `not one line:\n${r.stderr}`);
    assert.equal(r.stderr, `passerelle: needs Node.js ${pkg.engines.node}, found ${found} (${OLD_NODE})\n`);
  }
});
