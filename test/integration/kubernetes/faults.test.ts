/*
 * Faults the controller must survive, against a real kube-apiserver and etcd, with traffic flowing
 * through the proxy to echo pods on 192.0.2.0/24 (so these tests run inside the private network
 * namespace of scripts/in-netns.sh, like test/conformance):
 *
 * - kube-apiserver stopped for 20 s and started again: traffic keeps flowing on the last model, the
 *   watches resume, and the changes made while they were down (right after the apiserver is back,
 *   before the controller's watches are) are all applied, within 2 s;
 * - `passerelle run` started while kube-apiserver is down, which comes up 10 s later: no exit, and
 *   the Ingress is served once it is up;
 * - started with kube-apiserver (at the same moment, or up to 1.5 s before it), a few times over (a
 *   new apiserver answers 403 until its RBAC caches have synced): never exits;
 * - after an earlier outage, the controller's connections are reset once (a relay resets them, as
 *   a load balancer would), then the apiserver restarted quickly: each time the next change is
 *   applied within 2 s;
 * - the controller restarted while a sidecar HAProxy keeps running: no failed request;
 * - two `passerelle run` processes with leader election: one leader; kill -9 it and the other takes
 *   the Lease over (status writes resume) within the lease duration (plus the polling periods).
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../../../src/model/k8s.ts';
import { startCluster, type Cluster } from '../../kube/harness.ts';
import {
  configText,
  deployService,
  echoOf,
  freePort,
  getIngress,
  namespace,
  ourClass,
  requireNetns,
  send,
  serviceOf,
  sliceOf,
  startPasserelle,
  startPod,
  startTraffic,
  statusAddresses,
  waitFor,
  waitForStatus,
  type Mode,
  type Pod,
} from '../../conformance/env.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const NS = 'faults';

function ingressOf(name: string, host: string, service: string): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { namespace: NS, name },
    spec: { rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { number: 8080 } } } }] } }] },
  };
}

/** A `passerelle run` child process (`bin/passerelle.js`), its output and its exit. */
interface Child {
  readonly port: number;
  /** Everything it wrote (pino JSON lines on stderr). */
  output(): string;
  /** Its exit, once it exited. */
  exited(): string | undefined;
  /** SIGTERM (SIGKILL after 15 s), and waits for the exit. */
  stop(): Promise<void>;
}

/** Writes `config` to DIR/NAME.toml and runs `passerelle run` on it in a child process. */
async function spawnController(dir: string, name: string, config: string, port: number): Promise<Child> {
  const file = path.join(dir, `${name}.toml`);
  await writeFile(file, config);
  const child = spawn(process.execPath, ['bin/passerelle.js', 'run', `--configfile=${file}`], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  let exit: string | undefined;
  child.stdout?.on('data', (c: Buffer) => out.push(c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => out.push(c.toString('utf8')));
  child.on('exit', (code, signal) => (exit = `code ${code ?? ''} signal ${signal ?? ''}`));
  return {
    port,
    output: () => out.join(''),
    exited: () => exit,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The log lines of a child's output whose message is `msg`. */
function logged(output: string, msg: string): number {
  return output.split('\n').filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`)).length;
}

/** The mode of the apiserver-outage test: PASSERELLE_MODE, default native. */
const outageMode = (process.env['PASSERELLE_MODE'] ?? 'native') as Mode;

describe('kubernetes faults', () => {
  let cluster: Cluster;
  const pods: Pod[] = [];

  before(async () => {
    requireNetns();
    cluster = await startCluster();
    await cluster.apply(namespace(NS));
    await cluster.apply(ourClass);
    pods.push(...(await deployService(cluster, NS, 'web', 2)));
    await cluster.apply(ingressOf('site', 'site.example', 'web'));
  });
  after(async () => {
    for (const p of pods) await p.close();
    await cluster?.stop();
  });

  test(`kube-apiserver down for 20 s (${outageMode} mode): traffic flows on the last model, then every change made meanwhile is applied`, { timeout: 180_000 }, async (t) => {
    await cluster.apply(ingressOf('doomed', 'doomed.example', 'web'));
    const pass = await startPasserelle(cluster, outageMode);
    try {
      const port = pass.httpPort;
      await waitFor('site.example and doomed.example served', async () => (await send({ port, host: 'site.example' })).status === 200 && (await send({ port, host: 'doomed.example' })).status === 200);
      const hash = pass.running.controller.state.hash;
      const traffic = startTraffic({ port, host: 'site.example' }, 'web');

      const restarted = cluster.restartApiserver(20_000);
      await sleep(10_000);
      // In the middle of the outage: the same model is served and requests are answered.
      await assert.rejects(cluster.client('admin').request('GET', '/readyz'), 'the apiserver is really down');
      assert.equal(pass.running.controller.state.hash, hash, 'the model is unchanged during the outage');
      const during = traffic.ok();
      assert.ok(during > 50, `traffic flows during the outage (${during} requests answered)`);
      await restarted;

      // Right after the apiserver is back, while the controller's watches are still down (backoff):
      // a new Ingress, a new pod in a Service's EndpointSlice, a deleted Ingress.
      const newPod = await startPod('web', 'web-new');
      pods.push(newPod);
      await cluster.apply(serviceOf(NS, 'fresh'));
      const freshPods = [await startPod('fresh', 'fresh-0')];
      pods.push(...freshPods);
      await cluster.apply(sliceOf(NS, 'fresh', freshPods));
      await cluster.apply(ingressOf('after', 'after.example', 'fresh'));
      await cluster.apply(sliceOf(NS, 'web', [...pods.filter((p) => p.service === 'web' && p.name !== 'web-new'), newPod]));
      await cluster.remove(ingressOf('doomed', '', ''));
      const changedAt = Date.now();

      await waitFor('after.example served (Ingress created after the restart)', async () => echoOf(await send({ port, host: 'after.example' })).service === 'fresh', 90_000);
      await waitFor('doomed.example gone (Ingress deleted after the restart)', async () => (await send({ port, host: 'doomed.example' })).status === 404, 30_000);
      await waitFor('the new web pod answers (EndpointSlice changed after the restart)', async () => echoOf(await send({ port, host: 'site.example' })).pod === 'web-new', 30_000);
      const appliedMs = Date.now() - changedAt;
      t.diagnostic(`changes applied ${appliedMs} ms after they were made`);
      assert.ok(appliedMs < 2000, `changes made after the apiserver is back are applied within 2 s (${appliedMs} ms)`);

      const result = await traffic.stop();
      assert.deepEqual(result.failed, [], `no failed request (${result.ok} answered)`);

      // The watches go on from there: a later change arrives quickly.
      await cluster.apply(ingressOf('later', 'later.example', 'fresh'));
      await waitFor('later.example served', async () => (await send({ port, host: 'later.example' })).status === 200, 15_000);
    } catch (err) {
      t.diagnostic(pass.logger.lines.join('\n'));
      throw err;
    } finally {
      await pass.stop();
    }
  });

  test('controller restarted while a sidecar HAProxy keeps running: no failed request', { timeout: 180_000 }, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-sidecar-'));
    const workDir = path.join(dir, 'work');
    const ports = { http: await freePort(), https: await freePort() };
    const sidecar = { proxy: ['reload = "sidecar"'], workDir, ports };
    let haproxy: ChildProcess | undefined;
    const haproxyLog: string[] = [];
    const first = await startPasserelle(cluster, 'haproxy', sidecar);
    let second: Awaited<ReturnType<typeof startPasserelle>> | undefined;
    try {
      // The sidecar container starts on the configuration the controller wrote (the controller's
      // first reload failed: nobody listened on the master socket yet; it retries).
      const cfg = path.join(workDir, 'haproxy.cfg');
      await waitFor('haproxy.cfg written by the controller', () => existsSync(cfg));
      haproxy = spawn('haproxy', ['-W', '-S', `${path.join(workDir, 'haproxy-master.sock')},mode,600`, '-f', cfg], { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
      haproxy.stderr?.on('data', (c: Buffer) => haproxyLog.push(c.toString('utf8')));
      const port = ports.http;
      await waitFor('the sidecar serves site.example', async () => (await send({ port, host: 'site.example' })).status === 200, 30_000);
      await waitFor('the controller applied its model to the sidecar', () => first.running.controller.state.lastError === undefined && first.running.controller.state.syncs > 0, 30_000);

      const fresh = startTraffic({ port, host: 'site.example' }, 'web', 5);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const kept = startTraffic({ port, host: 'site.example', agent }, 'web', 5);
      await sleep(1000);
      await first.stop();
      await sleep(1000);
      // The new controller renders anew and reloads the running HAProxy (its first configuration).
      second = await startPasserelle(cluster, 'haproxy', sidecar);
      const s = second;
      await waitFor('the new controller applied its model', () => s.running.controller.state.syncs > 0 && s.running.controller.state.lastError === undefined, 30_000);
      // And it follows changes: a new Ingress reaches the sidecar.
      await cluster.apply(ingressOf('sidecar-new', 'sidecar-new.example', 'web'));
      await waitFor('sidecar-new.example served', async () => (await send({ port, host: 'sidecar-new.example' })).status === 200, 30_000);
      await sleep(1000);
      const a = await fresh.stop();
      const b = await kept.stop();
      agent.destroy();
      t.diagnostic(`${a.ok} requests on new connections, ${b.ok} on one keep-alive connection`);
      assert.deepEqual(a.failed, [], 'no failed request (new connections)');
      assert.deepEqual(b.failed, [], 'no failed request (keep-alive connection)');
      assert.ok(a.ok > 100 && b.ok > 100);
    } catch (err) {
      t.diagnostic([...first.logger.lines, ...(second?.logger.lines ?? []), ...haproxyLog].join('\n'));
      throw err;
    } finally {
      await first.stop().catch(() => undefined);
      await second?.stop();
      if (haproxy && haproxy.exitCode === null) {
        const exited = once(haproxy, 'exit');
        haproxy.kill('SIGUSR1');
        const timer = setTimeout(() => haproxy?.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('two replicas: one leader; kill -9 it and the other takes over (status writes resume) within the lease duration', { timeout: 180_000 }, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-replicas-'));
    const replicas: { name: string; child: ChildProcess; port: number; log: string[] }[] = [];
    const leaseDurationMs = 15_000; // the default of [kubernetes] leader election
    const retryPeriodMs = 2_000;
    try {
      for (const name of ['replica-a', 'replica-b']) {
        const ports = { http: await freePort(), https: await freePort() };
        const config = path.join(dir, `${name}.toml`);
        await writeFile(config, configText(cluster, 'native', ports, path.join(dir, name), { kubernetes: ['leaderElection = true'] }));
        const child = spawn(process.execPath, ['bin/passerelle.js', 'run', `--configfile=${config}`], {
          cwd: root,
          env: { ...process.env, POD_NAMESPACE: 'passerelle', POD_NAME: name },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const log: string[] = [];
        child.stderr?.on('data', (c: Buffer) => log.push(c.toString('utf8')));
        child.stdout?.on('data', (c: Buffer) => log.push(c.toString('utf8')));
        replicas.push({ name, child, port: ports.http, log });
      }
      // Every replica serves traffic.
      for (const r of replicas) await waitFor(`${r.name} serves site.example`, async () => (await send({ port: r.port, host: 'site.example' })).status === 200, 60_000);
      const leasePath = '/apis/coordination.k8s.io/v1/namespaces/passerelle/leases/passerelle-leader';
      const holder = async (): Promise<string> =>
        String((await cluster.client('admin').request<{ spec?: { holderIdentity?: string } }>('GET', leasePath)).spec?.holderIdentity ?? '');
      const leaderName = await waitFor('a leader', async () => {
        const h = await holder();
        return replicas.find((r) => h.startsWith(`${r.name}_`))?.name;
      }, 30_000);
      const leader = replicas.find((r) => r.name === leaderName);
      const follower = replicas.find((r) => r.name !== leaderName);
      assert.ok(leader && follower, `leader ${leaderName} is one of the replicas`);
      await sleep(2 * retryPeriodMs);
      assert.ok((await holder()).startsWith(`${leader.name}_`), 'one leader, which keeps the Lease');
      await cluster.apply(ingressOf('before-kill', 'before-kill.example', 'web'));
      await waitForStatus(cluster, NS, 'before-kill');

      const traffic = startTraffic({ port: follower.port, host: 'site.example' }, 'web');
      const exited = once(leader.child, 'exit');
      leader.child.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();
      // A change only a leader would write the status of.
      await cluster.apply(ingressOf('after-kill', 'after-kill.example', 'web'));
      await waitFor('the follower holds the Lease', async () => (await holder()).startsWith(`${follower.name}_`), leaseDurationMs + 4 * retryPeriodMs, 100);
      const takeoverMs = Date.now() - killedAt;
      await waitFor('status of after-kill written by the new leader', async () => statusAddresses(await getIngress(cluster, NS, 'after-kill'))[0] === '192.0.2.1', 10_000);
      const statusMs = Date.now() - killedAt;
      t.diagnostic(`takeover ${takeoverMs} ms after kill -9, status written ${statusMs} ms after (lease ${leaseDurationMs} ms, retry ${retryPeriodMs} ms)`);
      // client-go's algorithm: the Lease expires a lease duration after the follower last saw it
      // renewed (at most one retry period before the kill), noticed at its next retry.
      assert.ok(takeoverMs <= leaseDurationMs + 2 * retryPeriodMs, `took over within the lease duration plus the polling periods (${takeoverMs} ms)`);
      const result = await traffic.stop();
      assert.deepEqual(result.failed, [], `the surviving replica served every request (${result.ok})`);
    } catch (err) {
      for (const r of replicas) t.diagnostic(`--- ${r.name} ---\n${r.log.join('').split('\n').slice(-40).join('\n')}`);
      throw err;
    } finally {
      for (const r of replicas) {
        if (r.child.exitCode === null && r.child.signalCode === null) {
          const exited = once(r.child, 'exit');
          r.child.kill('SIGTERM');
          const timer = setTimeout(() => r.child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }
      }
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('started while kube-apiserver is down, which comes up 10 s later: no exit, then the Ingress is served', { timeout: 180_000 }, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-down-at-start-'));
    const ports = { http: await freePort(), https: await freePort() };
    let child: Child | undefined;
    await cluster.stopApiserver();
    try {
      child = await spawnController(dir, 'down-at-start', configText(cluster, 'native', ports, path.join(dir, 'work')), ports.http);
      await sleep(10_000);
      assert.equal(child.exited(), undefined, 'still running after 10 s without an apiserver');
      await cluster.startApiserver();
      const upAt = Date.now();
      const c = child;
      await waitFor('site.example served', async () => (await send({ port: c.port, host: 'site.example', timeoutMs: 2000 })).status === 200, 60_000, 50);
      const servedMs = Date.now() - upAt;
      t.diagnostic(`site.example served ${servedMs} ms after the apiserver was ready (the controller had waited 10 s for it)`);
      console.log(`[faults] started with the apiserver down: served ${servedMs} ms after it was ready`);
      assert.equal(child.exited(), undefined, 'still running');
      assert.ok(servedMs < 2000, `served within 2 s of the apiserver being ready (${servedMs} ms)`);
      const output = child.output();
      assert.ok(logged(output, 'the apiserver is unreachable; retrying') > 0, 'the outage was reported as such');
      assert.doesNotMatch(output, /PASS_KUBE_(FORBIDDEN|SYNC)/);
    } catch (err) {
      t.diagnostic(child?.output().split('\n').slice(-40).join('\n') ?? '');
      throw err;
    } finally {
      await cluster.startApiserver().catch(() => undefined);
      await child?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('started with kube-apiserver (403 until its RBAC caches sync), 8 times: never exits', { timeout: 300_000 }, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-restart-start-'));
    const tries = 8;
    let exits = 0;
    let refusedTries = 0;
    let refusals = 0;
    try {
      for (let i = 0; i < tries; i++) {
        const ports = { http: await freePort(), https: await freePort() };
        await cluster.stopApiserver();
        // The controller's process and the apiserver's start together, as after a node reboot or
        // when both are rolled out at once; or the controller a little earlier (up to 1.5 s), so
        // that its retries, not its first requests, meet the new apiserver's first answers.
        const child = await spawnController(dir, `try-${i}`, configText(cluster, 'native', ports, path.join(dir, `work-${i}`)), ports.http);
        try {
          await sleep((i % 4) * 500);
          await cluster.startApiserver();
          await waitFor(`try ${i}: site.example served (or the controller exited)`, async () => child.exited() !== undefined || (await send({ port: child.port, host: 'site.example', timeoutMs: 2000 })).status === 200, 60_000, 50);
          const output = child.output();
          const refused = logged(output, 'the apiserver refused (HTTP 403); retrying') + logged(output, 'the apiserver refused (HTTP 401); retrying');
          refusals += refused;
          if (refused > 0) refusedTries++;
          if (child.exited() !== undefined) {
            exits++;
            t.diagnostic(`try ${i}: exited (${child.exited() ?? ''})\n${output.split('\n').slice(-20).join('\n')}`);
          }
        } finally {
          await child.stop();
        }
      }
      const summary = `${tries} tries started with the apiserver (0 to 1.5 s before it): ${exits} exits; ${refusedTries} of them were refused (403/401) before the apiserver's RBAC caches synced (${refusals} refusals logged, each retried)`;
      t.diagnostic(summary);
      console.log(`[faults] ${summary}`);
      assert.equal(exits, 0, 'never exits');
    } finally {
      await cluster.startApiserver().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('after an earlier outage, one reset of the connections, then a quick apiserver restart: the next change is applied within 2 s', { timeout: 180_000 }, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-reset-'));
    const ports = { http: await freePort(), https: await freePort() };
    const flipPods = [await startPod('flip', 'flip-a'), await startPod('flip', 'flip-b')];
    pods.push(...flipPods);
    const [a, b] = flipPods as [Pod, Pod];
    await cluster.apply(serviceOf(NS, 'flip'));
    await cluster.apply(sliceOf(NS, 'flip', [a]));
    await cluster.apply(ingressOf('flip', 'flip.example', 'flip'));
    // The controller reaches the apiserver through the harness's relay, whose connections can be reset.
    const config = configText(cluster, 'native', ports, path.join(dir, 'work')).replace(
      JSON.stringify(cluster.kubeconfig('controller')),
      JSON.stringify(cluster.kubeconfig('controller', { relay: true })),
    );
    const child = await spawnController(dir, 'reset', config, ports.http);
    /** Moves the flip Service to `pod` and returns how long until it serves flip.example. */
    const flip = async (pod: Pod, from: number): Promise<number> => {
      await cluster.apply(sliceOf(NS, 'flip', [pod]));
      await waitFor(`flip.example served by ${pod.name}`, async () => echoOf(await send({ port: ports.http, host: 'flip.example', timeoutMs: 2000 })).pod === pod.name, 30_000, 20);
      return Date.now() - from;
    };
    try {
      await waitFor('flip.example served by flip-a', async () => echoOf(await send({ port: ports.http, host: 'flip.example', timeoutMs: 2000 })).pod === 'flip-a', 60_000);

      // An earlier outage, long enough for the backoff to reach its cap.
      await cluster.restartApiserver(15_000);
      const afterOutageMs = await flip(b, Date.now());
      // The watches are up again; later they are reset once, by a load balancer say.
      await sleep(3000);
      const resetAt = Date.now();
      const reset = cluster.resetConnections();
      assert.ok(reset > 0, 'the controller had connections through the relay');
      const afterResetMs = await flip(a, resetAt);

      // And a quick apiserver restart (a rolling control-plane upgrade).
      await sleep(3000);
      await cluster.restartApiserver(0);
      const afterRestartMs = await flip(b, Date.now());

      const summary =
        `next change applied ${afterResetMs} ms after ${reset} connections were reset (after an earlier 15 s outage); ` +
        `${afterRestartMs} ms after a quick apiserver restart was ready; ${afterOutageMs} ms after the 15 s outage ended`;
      t.diagnostic(summary);
      console.log(`[faults] ${summary}`);
      assert.ok(afterResetMs < 2000, `applied within 2 s of the reset (${afterResetMs} ms)`);
      assert.ok(afterRestartMs < 2000, `applied within 2 s of the restarted apiserver being ready (${afterRestartMs} ms)`);
      assert.ok(afterOutageMs < 2000, `applied within 2 s of the end of the outage (${afterOutageMs} ms)`);
      assert.equal(child.exited(), undefined);
    } catch (err) {
      t.diagnostic(child.output().split('\n').slice(-40).join('\n'));
      throw err;
    } finally {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
