/*
 * `passerelle run` in haproxy and nginx modes, then `passerelle render --diff` on the same config and
 * work directory: no difference, after the first apply, after an endpoint change (for HAProxy, a
 * runtime API update into a server slot that a fresh layout would not have chosen), and after the
 * controller stopped. `[acme]` is on (with nothing to order) so that the challenge path is forwarded
 * to the controller's responder, whose port only the running controller knows. Restarted on the same
 * work directory, the controller writes back the very same configuration.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoOf, freePort, request, startEcho } from '../behaviour/harness.ts';
import type { EchoServer } from '../behaviour/harness.ts';
import { requireBinary } from './haproxy/common.ts';
import { RENDER_STATE_FILE } from '../../src/drivers/external/state.ts';
import { proxyWorkDir } from '../workdir.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HOST = 'diff.test';

/** A Service, its EndpointSlice on `echo`, an Ingress for {@link HOST} and our IngressClass. */
function objects(echo: EchoServer): string {
  return `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: ${echo.port}}]
endpoints: [{addresses: ["${echo.host}"], conditions: {ready: true}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  ingressClassName: passerelle
  rules:
    - host: ${HOST}
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: passerelle}
spec: {controller: passerelle.dev/ingress-controller}
`;
}

/** A controller process and its log lines (pino JSON on stderr). */
interface Running {
  readonly proc: ChildProcess;
  readonly messages: () => string[];
  readonly stderr: () => string;
  readonly exited: Promise<void>;
}

function startRun(configFile: string): Running {
  const proc = spawn(process.execPath, ['bin/passerelle.js', 'run', `--configfile=${configFile}`], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  proc.stderr?.on('data', (c: Buffer) => {
    text += c.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const messages = (): string[] =>
    text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => String((JSON.parse(l) as { msg?: unknown }).msg ?? ''));
  return { proc, messages, stderr: () => text, exited };
}

async function stopRun(r: Running): Promise<void> {
  if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGTERM');
  await r.exited;
}

/** Waits until the controller has applied `n` models (it logs each once the driver is done). */
async function applied(r: Running, n: number): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const msgs = r.messages();
    if (msgs.filter((m) => m === 'configuration applied').length >= n) return msgs;
    assert.ok(r.proc.exitCode === null, `the controller exited: ${r.stderr()}`);
    assert.ok(Date.now() < deadline, `no ${n}th apply within 30 s: ${msgs.join(' | ')}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** `passerelle render --diff` on the same config: asserts it finds nothing to change. */
function assertUpToDate(configFile: string, workDir: string, when: string): void {
  const r = spawnSync(process.execPath, ['bin/passerelle.js', 'render', '--diff', `--configfile=${configFile}`], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `# ${workDir}: up to date\n`, `render --diff ${when}`);
}

async function scenario(t: TestContext, mode: 'haproxy' | 'nginx'): Promise<void> {
  requireBinary(mode);
  const dir = proxyWorkDir(`passerelle-diff-${mode}-`);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const workDir = path.join(dir, 'work');
  const ingress = path.join(dir, 'ingress');
  mkdirSync(ingress);
  const a = await startEcho('a');
  const b = await startEcho('b');
  t.after(() => Promise.all([a.close(), b.close()]));
  const port = await freePort();
  const tlsPort = await freePort();
  const configFile = path.join(dir, 'passerelle.toml');
  writeFileSync(
    configFile,
    `logLevel = "info"
defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:${port}"
[entryPoints.https]
address = "127.0.0.1:${tlsPort}"
  [entryPoints.https.tls]
[proxy]
mode = "${mode}"
workDir = "${workDir}"
gracePeriod = "1s"
[file]
directory = "${ingress}"
[acme]
storage = "${path.join(dir, 'acme.json')}"
caServer = "https://127.0.0.1:9/directory"
entryPoint = "https"
onHostRule = false
`,
  );
  writeFileSync(path.join(ingress, 'objects.yaml'), objects(a));

  let run = startRun(configFile);
  t.after(() => stopRun(run));
  await applied(run, 1);
  assert.equal(echoOf(await request({ port, host: HOST })).id, 'a');
  const state = JSON.parse(readFileSync(path.join(workDir, RENDER_STATE_FILE), 'utf8')) as { acmeChallengeAddress: { port: number } | null };
  assert.ok(state.acmeChallengeAddress !== null, 'the ACME responder address is saved');
  assert.match(readFileSync(path.join(workDir, mode === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf'), 'utf8'), new RegExp(`127\\.0\\.0\\.1:${state.acmeChallengeAddress.port}`));
  assertUpToDate(configFile, workDir, 'after the first apply');

  // The endpoint moves to another address: HAProxy fills a never-used slot through the runtime API.
  writeFileSync(path.join(ingress, 'objects.yaml'), objects(b));
  const msgs = await applied(run, 2);
  assert.equal(echoOf(await request({ port, host: HOST })).id, 'b');
  if (mode === 'haproxy') assert.ok(msgs.includes('haproxy configuration applied (runtime API)'), msgs.join(' | '));
  assertUpToDate(configFile, workDir, 'after an endpoint change');

  await stopRun(run);
  assertUpToDate(configFile, workDir, 'after the controller stopped');

  // A restart continues from the work directory: same slots, same responder port, same files.
  const before = readFileSync(path.join(workDir, mode === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf'), 'utf8');
  run = startRun(configFile);
  await applied(run, 1);
  assert.equal(echoOf(await request({ port, host: HOST })).id, 'b');
  assert.equal(readFileSync(path.join(workDir, mode === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf'), 'utf8'), before, 'the restarted controller renders what the work directory holds');
  assertUpToDate(configFile, workDir, 'after a restart');
}

test('haproxy: render --diff finds nothing to change in the work directory passerelle run wrote, across endpoint changes and restarts', (t) => scenario(t, 'haproxy'));

test('nginx: render --diff finds nothing to change in the work directory passerelle run wrote, across endpoint changes and restarts', (t) => scenario(t, 'nginx'));
