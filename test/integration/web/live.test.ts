/*
 * `/api/backends` live endpoint states, with `passerelle run --web` as a real process in native,
 * haproxy and nginx modes: one Service with two endpoints, one answering (127.0.0.1:P) and one dead
 * (127.0.0.2:P, where nothing listens). After traffic, native and haproxy report the dead one `down`
 * and the live one `up`; nginx says it cannot tell (`liveStates: false`, every `live` null).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startEcho } from '../acme/env.ts';
import { freePort } from '../acme/pebble.ts';
import { start, stop } from './process.ts';
import { proxyWorkDir } from '../../workdir.ts';


interface LiveEndpoint {
  readonly address: string;
  readonly port: number;
  readonly state: string;
  readonly live: string | null;
}
interface LiveBackends {
  readonly liveStates: boolean;
  readonly backends: readonly { readonly id: string; readonly endpoints: readonly LiveEndpoint[] }[];
}

function objects(port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: live}
spec: {ports: [{name: http, port: 80, targetPort: ${port}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: live, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints:
  - addresses: ["127.0.0.1"]
    conditions: {ready: true}
  - addresses: ["127.0.0.2"]
    conditions: {ready: true}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: echo, namespace: live}
spec:
  ingressClassName: passerelle
  rules:
    - host: live.test
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: echo, port: {number: 80}}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: passerelle}
spec: {controller: passerelle.dev/ingress-controller}
`;
}


/** GET / on 127.0.0.1:port with `host` (fetch cannot set Host); resolves with the status. */
function getStatus(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls until `check` returns a value (or fails with the last error after `ms`). */
async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms (${String(last)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const mode of ['native', 'haproxy', 'nginx'] as const) {
  test(`run --web (${mode}): /api/backends reports the live state of each endpoint after traffic`, async (t) => {
    const dir = proxyWorkDir(`passerelle-live-${mode}-`);
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const echo = await startEcho('live');
    t.after(() => echo.close());
    const [http, webPort] = [await freePort(), await freePort()];
    mkdirSync(path.join(dir, 'ingress'));
    writeFileSync(path.join(dir, 'ingress', 'objects.yaml'), objects(echo.port));
    const config = path.join(dir, 'passerelle.toml');
    writeFileSync(
      config,
      `logLevel = "info"
defaultEntryPoints = ["web"]
[entryPoints.web]
address = "127.0.0.1:${http}"
[proxy]
mode = "${mode}"
workDir = ${JSON.stringify(path.join(dir, 'work'))}
[file]
directory = ${JSON.stringify(path.join(dir, 'ingress'))}
[web]
address = "127.0.0.1:${webPort}"
`,
    );
    const run = start(['run', '--web', `--configfile=${config}`]);
    t.after(() => stop(run.proc));
    const web = `http://127.0.0.1:${webPort}`;
    const backends = async (): Promise<LiveBackends> => (await (await fetch(`${web}/api/backends`)).json()) as LiveBackends;
    const endpoints = (b: LiveBackends): readonly LiveEndpoint[] => b.backends.find((x) => x.id === 'live/echo:80')?.endpoints ?? [];
    try {
      await until('ready', 60_000, async () => ((await fetch(`${web}/readyz`)).status === 200 ? true : undefined));
      const before = await backends();
      assert.deepEqual(endpoints(before).map((e) => `${e.address}:${e.port} ${e.state}`).sort(), [`127.0.0.1:${echo.port} ready`, `127.0.0.2:${echo.port} ready`]);
      // No traffic yet: nobody knows.
      assert.ok(endpoints(before).every((e) => e.live === null), JSON.stringify(before));
      assert.equal(before.liveStates, mode !== 'nginx');

      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        statuses.push(await getStatus(http, 'live.test'));
      }
      assert.ok(statuses.includes(200), `the live endpoint answered: ${statuses.join(' ')}`);

      if (mode === 'nginx') {
        const after = await backends();
        assert.equal(after.liveStates, false);
        assert.ok(endpoints(after).every((e) => e.live === null), JSON.stringify(after));
        return;
      }
      const after = await until('live states', 10_000, async () => {
        const b = await backends();
        const byAddress = new Map(endpoints(b).map((e) => [e.address, e.live]));
        return byAddress.get('127.0.0.1') === 'up' && byAddress.get('127.0.0.2') === 'down' ? b : undefined;
      });
      assert.equal(after.liveStates, true);
      assert.ok(endpoints(after).every((e) => e.state === 'ready'), 'the model state is unchanged');
    } catch (err) {
      process.stderr.write(run.log());
      throw err;
    }
  });
}
