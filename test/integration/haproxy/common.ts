import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import type { TestContext } from 'node:test';
import type { ExternalDriver } from '../../../src/drivers/external/apply.ts';
import type { RoutingModel } from '../../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, model, request, route, startEcho, vhost } from '../../behaviour/harness.ts';
import type { EchoServer } from '../../behaviour/harness.ts';

/** Fails (never skips) when the proxy binary is not installed. */
export function requireBinary(binary: 'haproxy' | 'nginx'): void {
  const r = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  assert.ok(
    r.error === undefined,
    `the ${binary} binary is missing (${r.error?.message ?? ''}): install the Debian package "${binary}" (apt-get install -y ${binary}); these integration tests need the real proxy`,
  );
}

/** Echo upstreams stopped after the test. */
export async function echoes(t: TestContext, ...ids: string[]): Promise<EchoServer[]> {
  const list = await Promise.all(ids.map((id) => startEcho(id)));
  t.after(() => Promise.all(list.map((e) => e.close())));
  return list;
}

/** Waits for the next template change a driver applies (or fails to). */
function templatesApplied(d: ExternalDriver): Promise<Error | undefined> {
  return new Promise((resolve) => {
    d.onTemplatesApplied = (err) => {
      d.onTemplatesApplied = undefined;
      resolve(err);
    };
  });
}

/**
 * The user's template folder is watched: a changed partial re-renders and re-applies; a partial
 * that does not compile is reported and the running configuration stays.
 */
export async function templatesWatched(t: TestContext, make: (templates: string) => ExternalDriver, partial: { file: string; content: string }): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'passerelle-templates-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const d = make(dir);
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const port = await freePort();
  await d.apply(model({ entryPoints: [entryPoint('http', port)], virtualHosts: [vhost('t.test', [route('/', 'Prefix', 'a')])], backends: [backend('a', [a!.endpoint()])] }));
  assert.equal((await request({ port, host: 'nowhere.test' })).text.trim(), 'Not Found');
  const file = path.join(dir, partial.file);
  mkdirSync(path.dirname(file), { recursive: true });
  let applied = templatesApplied(d);
  writeFileSync(file, partial.content);
  assert.equal(await applied, undefined);
  const custom = await request({ port, host: 'nowhere.test' });
  assert.equal(custom.status, 404);
  assert.equal(custom.text.trim(), 'Nothing here (custom template)');
  assert.equal(echoOf(await request({ port, host: 't.test' })).id, 'a');
  // A partial that does not compile: reported, and the previous configuration keeps serving.
  applied = templatesApplied(d);
  writeFileSync(file, '{{#if broken}}\n');
  const err = await applied;
  assert.match(String(err?.message), /template|Parse error|Expecting/i);
  assert.equal((await request({ port, host: 'nowhere.test' })).text.trim(), 'Nothing here (custom template)');
  assert.equal(d.templateChanges, 1);
}

/**
 * Sidecar mode: the proxy is started apart (another container of the pod, sharing the work
 * directory); the driver only writes files and triggers reloads, and never stops the proxy.
 */
export async function sidecarMode(t: TestContext, make: (workDir: string) => ExternalDriver, startProxy: (workDir: string) => ChildProcess): Promise<void> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'passerelle-sidecar-'));
  t.after(() => rmSync(workDir, { recursive: true, force: true }));
  const d = make(workDir);
  t.after(() => d.stop(500));
  const [a, b] = await echoes(t, 'a', 'b');
  const port = await freePort();
  const m1 = model({ entryPoints: [entryPoint('http', port)], virtualHosts: [vhost('s.test', [route('/', 'Prefix', 'a')])], backends: [backend('a', [a!.endpoint()])] });
  // The proxy is not up yet: the configuration is written for when it starts.
  await d.apply(m1);
  assert.equal(d.reloads, 0);
  const proxy = startProxy(workDir);
  const exited = new Promise<void>((resolve) => proxy.once('exit', () => resolve()));
  t.after(async () => {
    proxy.kill('SIGTERM');
    await exited;
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await request({ port, host: 's.test' }).catch(() => undefined);
    if (r?.status === 200) break;
    assert.ok(Date.now() < deadline, 'the sidecar proxy serves the written configuration');
    await new Promise((r2) => setTimeout(r2, 50));
  }
  assert.equal(echoOf(await request({ port, host: 's.test' })).id, 'a');
  // A new Service: a reload of the sidecar's proxy, triggered by the driver.
  await d.apply(model({ entryPoints: [entryPoint('http', port)], virtualHosts: [vhost('s.test', [route('/', 'Prefix', 'a'), route('/b', 'Prefix', 'b')])], backends: [backend('a', [a!.endpoint()]), backend('b', [b!.endpoint()])] }));
  assert.equal(d.reloads, 1);
  assert.equal(echoOf(await request({ port, host: 's.test', path: '/b/x' })).id, 'b');
  // Stopping the driver leaves the sidecar's proxy running.
  await d.stop(500);
  assert.equal(proxy.exitCode, null);
  assert.equal(echoOf(await request({ port, host: 's.test', path: '/' })).id, 'a');
}

/** Shared scenarios, run against a driver factory. */
export function scenarios(make: () => ExternalDriver): Record<string, (t: TestContext) => Promise<void>> {
  const withDriver = (t: TestContext): ExternalDriver => {
    const d = make();
    t.after(() => d.stop(500));
    return d;
  };
  return {
    async routing(t) {
      const d = withDriver(t);
      const [a, b, dflt] = await echoes(t, 'a', 'b', 'default');
      const port = await freePort();
      await d.apply(
        model({
          entryPoints: [entryPoint('http', port)],
          virtualHosts: [
            vhost('a.test', [route('/', 'Prefix', 'a'), route('/b', 'Prefix', 'b'), route('/b/x', 'Exact', 'a')]),
            vhost('*.wild.test', [route('/', 'Prefix', 'b')]),
          ],
          backends: [backend('a', [a!.endpoint()]), backend('b', [b!.endpoint()]), backend('default', [dflt!.endpoint()])],
          defaultBackend: 'default',
        }),
      );
      const who = async (host: string, path: string): Promise<string> => echoOf(await request({ port, host, path })).id;
      assert.equal(await who('a.test', '/'), 'a');
      assert.equal(await who('a.test', '/b'), 'b');
      assert.equal(await who('a.test', '/b/y'), 'b');
      assert.equal(await who('a.test', '/bx'), 'a');
      assert.equal(await who('a.test', '/b/x'), 'a');
      assert.equal(await who('x.wild.test', '/'), 'b');
      assert.equal(await who('x.y.wild.test', '/'), 'default');
      assert.equal(await who('nowhere.test', '/'), 'default');
    },

    async reloadWithoutLoss(t) {
      const d = withDriver(t);
      const [a, b] = await echoes(t, 'a', 'b');
      const port = await freePort();
      const build = (i: number): RoutingModel =>
        model({
          entryPoints: [entryPoint('http', port)],
          // A new backend (Service) on every apply: a structural change, so a real reload each time.
          virtualHosts: [vhost('r.test', [route('/', 'Prefix', 'a'), route(`/only-${i}`, 'Exact', `b${i}`)])],
          backends: [backend('a', [a!.endpoint()]), backend(`b${i}`, [b!.endpoint()])],
        });
      await d.apply(build(0));
      const agent = new Agent({ keepAlive: false });
      t.after(() => agent.destroy());
      let running = true;
      let ok = 0;
      const failures: string[] = [];
      const worker = async (): Promise<void> => {
        while (running) {
          try {
            const r = await request({ port, host: 'r.test', path: '/stream', agent });
            if (r.status === 200) ok++;
            else failures.push(`status ${r.status} ${r.text.trim()}`);
          } catch (err) {
            failures.push(String(err));
          }
        }
      };
      const workers = Array.from({ length: 6 }, () => worker());
      const reloadsBefore = d.reloads;
      for (let i = 1; i <= 20; i++) await d.apply(build(i));
      running = false;
      await Promise.all(workers);
      assert.equal(d.reloads - reloadsBefore, 20, 'every apply was a reload');
      assert.deepEqual(failures, [], `${failures.length} failed requests of ${ok + failures.length}: ${[...new Set(failures)].slice(0, 5).join('; ')}`);
      assert.ok(ok > 50, `only ${ok} requests completed`);
      assert.equal(echoOf(await request({ port, host: 'r.test', path: '/only-20' })).id, 'b');
    },

    async validationFailureKeepsServing(t) {
      const d = withDriver(t);
      const [a] = await echoes(t, 'a');
      const port = await freePort();
      const good = model({
        entryPoints: [entryPoint('http', port)],
        virtualHosts: [vhost('v.test', [route('/', 'Prefix', 'a')])],
        backends: [backend('a', [a!.endpoint()])],
      });
      await d.apply(good);
      const before = d.current?.checksum;
      // A certificate that looks like PEM but does not load: rendering passes, the binary's check fails.
      const broken = { id: 'default/broken', hosts: ['v.test'], certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', source: { kind: 'Secret', namespace: 'default', name: 'broken' } };
      const bad = model({
        entryPoints: [entryPoint('http', port), entryPoint('https', await freePort(), { tls: true })],
        virtualHosts: [vhost('v.test', [route('/', 'Prefix', 'a')], 'default/broken')],
        backends: [backend('a', [a!.endpoint()])],
        certificates: [broken],
      });
      await assert.rejects(d.apply(bad), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PASS_PROXY_INVALID_CONFIG');
        assert.match(err.message, /broken/);
        assert.match(err.message, /previous configuration keeps serving/);
        return true;
      });
      assert.equal(d.current?.checksum, before);
      assert.equal(echoOf(await request({ port, host: 'v.test' })).id, 'a');
    },
  };
}
