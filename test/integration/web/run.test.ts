/*
 * `passerelle run --web` on examples/, in native, haproxy and nginx modes, as a real process: /readyz
 * answers 200 once the configuration is applied and the proxy answers (503 before the first apply is
 * tested in process, in health.test.ts); /healthz and /ping answer; the JSON API answers
 * with the examples' data; [web.auth.basic] guards everything but the probes; and no answer (nor
 * `run --dry-run --output json`) holds an htpasswd hash or a private key.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, stop } from './process.ts';
import { proxyWorkDir } from '../../workdir.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const WEB_PORT = 18080;
const web = `http://127.0.0.1:${WEB_PORT}`;
const AUTH = `Basic ${Buffer.from('demo:demo').toString('base64')}`;

/** examples/passerelle.toml with the web server on WEB_PORT behind basic auth (demo / demo). */
function configFile(dir: string, mode: 'native' | 'haproxy' | 'nginx'): string {
  const text = readFileSync(path.join(root, 'examples/passerelle.toml'), 'utf8')
    .replace('directory = "ingress"', `directory = ${JSON.stringify(path.join(root, 'examples/ingress'))}`)
    .replace('mode = "native"', `mode = "${mode}"\nworkDir = ${JSON.stringify(path.join(dir, 'work'))}`);
  const file = path.join(dir, 'passerelle.toml');
  writeFileSync(
    file,
    `${text}
[web]
address = "127.0.0.1:${WEB_PORT}"
  [web.auth.basic]
  realm = "ops"
  users = ["demo:$apr1$M7pJ5fVy$/oV8m1hsMBPMpsDOzicGF0"]
`,
  );
  return file;
}


async function get(p: string, auth = true): Promise<Response> {
  return fetch(`${web}${p}`, { redirect: 'manual', headers: auth ? { authorization: AUTH } : {} });
}

/** Polls `p` until `ok` holds for its answer (or fails after `ms`). */
async function until(p: string, ok: (status: number, body: string) => boolean, ms = 30_000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + ms;
  let last = { status: 0, body: '' };
  while (Date.now() < deadline) {
    try {
      const r = await get(p, false);
      last = { status: r.status, body: await r.text() };
      if (ok(last.status, last.body)) return last;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${p}: last answer ${last.status} ${last.body}`);
}

/** Fails when a body holds an htpasswd hash or a private key. */
function assertNoSecret(where: string, body: string): void {
  assert.doesNotMatch(body, /\$apr1\$|\$2[aby]\$|\{SHA\}/, `${where}: an htpasswd hash`);
  assert.doesNotMatch(body, /PRIVATE KEY/, `${where}: a private key`);
}


for (const mode of ['native', 'haproxy', 'nginx'] as const) {
  test(`run --web (${mode}): /readyz 200 once the configuration is applied and the proxy answers; the API answers with the examples, behind basic auth, without secrets`, async (t) => {
    const dir = proxyWorkDir(`passerelle-web-${mode}-`);
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // 503 before the first apply is tested in process (health.test.ts): a first apply that fails for
    // good (a taken port) now ends run instead of waiting (cli.test.ts).
    const run = start(['run', '--web', `--configfile=${configFile(dir, mode)}`]);
    t.after(() => stop(run.proc));

    try {
      const live = await until('/healthz', (s) => s === 200);
      assert.equal(live.body, 'ok\n');
      assert.equal((await until('/ping', (s) => s === 200)).body, 'OK');
      const ready = await until('/readyz', (s) => s === 200, 60_000);
      assert.equal(ready.body, 'ok\n');
      assert.match((await (await fetch(`${web}/readyz?verbose`)).text()), /\[\+\] proxy: the proxy answers/);

      // Basic auth on everything but the probes.
      const denied = await get('/api/overview', false);
      assert.equal(denied.status, 401);
      assert.match(denied.headers.get('www-authenticate') ?? '', /^Basic realm="ops"/);
      const wrong = await fetch(`${web}/api/overview`, { headers: { authorization: `Basic ${Buffer.from('demo:nope').toString('base64')}` } });
      assert.equal(wrong.status, 401);
      const root302 = await get('/');
      assert.equal(root302.status, 302);
      assert.equal(root302.headers.get('location'), '/dashboard/');

      const bodies: Record<string, string> = {};
      for (const p of ['/api/overview', '/api/routers', '/api/backends', '/api/certificates', '/api/diagnostics', '/api/explain?url=http://whoami.localhost:8000/', '/api/explain?url=http://127.0.0.1:8002/&header=Authorization:%20Basic%20ZGVtbzpkZW1v']) {
        const r = await get(p);
        assert.equal(r.status, 200, p);
        assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
        bodies[p] = await r.text();
        assertNoSecret(p, bodies[p]);
      }
      const overview = JSON.parse(bodies['/api/overview'] ?? '') as { mode: string; version: string; entryPoints: { name: string; middlewares: { kind: string; users?: string[] }[] }[]; counts: { virtualHosts: number }; lastApply: { at: string; hash: string; durationMs: number; error: string | null; failures: number } };
      assert.equal(overview.mode, mode);
      assert.match(overview.version, /^\d+\.\d+\.\d+/);
      assert.deepEqual(overview.entryPoints.map((e) => e.name).sort(), ['private', 'redirect', 'web', 'websecure']);
      assert.deepEqual(overview.entryPoints.find((e) => e.name === 'private')?.middlewares[0]?.users, ['demo', 'klefevre']);
      assert.ok(overview.counts.virtualHosts > 0);
      assert.match(overview.lastApply.hash, /^[0-9a-f]{64}$/);
      assert.ok(!Number.isNaN(Date.parse(overview.lastApply.at)));
      assert.equal(overview.lastApply.error, null);

      const routers = JSON.parse(bodies['/api/routers'] ?? '') as { virtualHosts: { host: string; sources: { kind: string }[]; routes: { backend: string }[] }[] };
      assert.ok(routers.virtualHosts.some((v) => v.host === 'secure.localhost'));
      assert.ok(routers.virtualHosts.every((v) => v.sources.every((s) => s.kind === 'Ingress')));
      const searched = JSON.parse(await (await get('/api/routers?host=secure')).text()) as { virtualHosts: { host: string }[] };
      assert.deepEqual(searched.virtualHosts.map((v) => v.host), ['secure.localhost']);
      const backends = JSON.parse(bodies['/api/backends'] ?? '') as { backends: { id: string; endpoints: { address: string; port: number }[] }[] };
      assert.ok(backends.backends.length > 0 && backends.backends.some((b) => b.endpoints.length > 0));
      const certs = JSON.parse(bodies['/api/certificates'] ?? '') as { certificates: { id: string; source: string; names: string[]; issuer: string | null; notAfter: string | null }[] };
      const secure = certs.certificates.find((c) => c.id === 'demo/secure-localhost-tls');
      assert.equal(secure?.source, 'secret');
      assert.deepEqual(secure?.names, ['secure.localhost']);
      assert.ok(secure?.issuer !== null && secure?.notAfter !== null);
      const explained = JSON.parse(bodies['/api/explain?url=http://127.0.0.1:8002/&header=Authorization:%20Basic%20ZGVtbzpkZW1v'] ?? '') as { entryPoint: string; lines: string[] };
      assert.equal(explained.entryPoint, 'private');
      assert.ok(explained.lines.some((l) => /user demo: password accepted/.test(l)));
      assert.equal((await get('/api/explain')).status, 400);
      assert.equal((await get('/api/nope')).status, 404);
      assert.equal((await fetch(`${web}/api/overview`, { method: 'POST', headers: { authorization: AUTH } })).status, 405);
    } catch (err) {
      process.stderr.write(run.log());
      throw err;
    }
  });
}

test('run --dry-run --output json holds no htpasswd hash and no private key (seed and examples)', () => {
  for (const args of [['--configfile=test/fixtures/seed/traefik.toml', '--directory', 'test/fixtures/seed'], ['--configfile=examples/passerelle.toml']]) {
    const r = spawnSync(process.execPath, ['bin/passerelle.js', 'run', '--dry-run', '--output', 'json', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assertNoSecret(args[0] ?? '', r.stdout);
    const model = JSON.parse(r.stdout) as { entryPoints: { middlewares: { kind: string; users?: { user: string }[] }[] }[] };
    const users = model.entryPoints.flatMap((e) => e.middlewares.flatMap((m) => m.users ?? []));
    assert.ok(users.length > 0, 'user names are still listed');
    assert.ok(users.every((u) => Object.keys(u).join() === 'user'));
  }
});
