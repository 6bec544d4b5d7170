import { spawnSync } from 'node:child_process';
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
          // A new Exact route on every apply: a structural change, so a real reload each time.
          virtualHosts: [vhost('r.test', [route('/', 'Prefix', 'a'), route(`/only-${i}`, 'Exact', 'b')])],
          backends: [backend('a', [a!.endpoint()]), backend('b', [b!.endpoint()])],
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
