/*
 * The whole chain with [kubernetes] enabled: the CLI's `check` and `run --dry-run` read a real
 * kube-apiserver, and `passerelle run` (native proxy) serves what is created through the API and
 * writes the status of its Ingresses, all with the controller's RBAC-limited kubeconfig.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KubeObject } from '../../../src/model/k8s.ts';
import { parseFlags } from '../../../src/cli/flags.ts';
import { startController, type RunningController } from '../../../src/cli/run.ts';
import { silentLogger } from '../../../src/shared/logger.ts';
import { startCluster, type Cluster } from '../../kube/harness.ts';
import { endpointSlice, ingress, ingressClass, ns, service, waitFor } from './helpers.ts';
import { freePort } from '../../ports.ts';

const root = path.resolve(import.meta.dirname, '../../..');


describe('kubernetes source: CLI and controller', () => {
  let cluster: Cluster;
  let dir: string;
  let config: string;
  let port: number;
  let running: RunningController | undefined;

  before(async () => {
    cluster = await startCluster();
    dir = await mkdtemp(path.join(tmpdir(), 'passerelle-kube-cli-'));
    port = await freePort();
    config = path.join(dir, 'passerelle.toml');
    await writeFile(
      config,
      [
        '[entryPoints.http]',
        `address = "127.0.0.1:${port}"`,
        '[proxy]',
        'mode = "native"',
        '[kubernetes]',
        'enabled = true',
        `kubeconfig = ${JSON.stringify(cluster.kubeconfig('controller'))}`,
        'publishAddress = "192.0.2.80"',
        'leaderElection = false',
        '',
      ].join('\n'),
    );
    await cluster.apply(ns('shop'));
    await cluster.apply(ingressClass('passerelle', 'passerelle.dev/ingress-controller'));
    await cluster.apply(service('shop', 'front', 8080));
    await cluster.apply(endpointSlice('shop', 'front-1', 'front', ['192.0.2.11'], 8080));
    await cluster.apply(ingress('shop', 'front', 'shop.example', 'front', { className: 'passerelle' }));
    await cluster.apply(ingress('shop', 'typo', 'typo.example', 'fornt', { className: 'passerelle' }));
  });
  after(async () => {
    await running?.stop();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, ['bin/passerelle.js', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('check and run --dry-run read the cluster (and write nothing to it)', async () => {
    const dry = cli('run', '--dry-run', `--configfile=${config}`);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /shop\.example/);
    assert.match(dry.stdout, /192\.0\.2\.11:8080/);
    const check = cli('check', `--configfile=${config}`);
    assert.match(check.stdout + check.stderr, /PASS_INGRESS_MISSING_SERVICE.*Ingress shop\/typo/);
    const front = await cluster.client('admin').request<KubeObject>('GET', '/apis/networking.k8s.io/v1/namespaces/shop/ingresses/front');
    assert.equal(front.status && JSON.stringify(front.status).includes('192.0.2.80'), false, 'read-only commands write no status');
  });

  test('passerelle run serves what the API holds, follows changes, and writes status', async () => {
    running = await startController(parseFlags(['run', `--configfile=${config}`]), silentLogger);
    // fetch() would not send our Host header: node:http does.
    const get = (host: string): Promise<number> =>
      new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
    assert.equal(await get('nowhere.example'), 404);
    // typo.example routes to a missing Service: 503, never another host's backend.
    assert.equal(await get('typo.example'), 503);
    await waitFor('status of shop/front', async () => {
      const ing = await cluster.client('admin').request<KubeObject>('GET', '/apis/networking.k8s.io/v1/namespaces/shop/ingresses/front');
      return JSON.stringify(ing.status ?? {}).includes('192.0.2.80');
    });
    // A new Ingress created through the API is served (no endpoints behind it: 503 rather than 404).
    await cluster.apply(service('shop', 'new', 8080));
    await cluster.apply(ingress('shop', 'new', 'new.example', 'new', { className: 'passerelle' }));
    await waitFor('new.example routed', async () => (await get('new.example')) === 503);
    await cluster.remove(ingress('shop', 'new', '', ''));
    await waitFor('new.example gone', async () => (await get('new.example')) === 404);
  });

  test('annotations name a basic-auth Secret and a custom-headers ConfigMap: read through the controller account, and a change to either is applied', async (t) => {
    assert.ok(running, 'the controller of the previous test runs');
    const echo = http.createServer((_req, res) => res.end('secure'));
    await new Promise<void>((resolve) => echo.listen(0, '192.0.2.12', resolve));
    t.after(() => new Promise<void>((resolve) => echo.close(() => resolve())));
    const echoPort = (echo.address() as { port: number }).port;
    const sha = (password: string): string => `{SHA}${createHash('sha1').update(password).digest('base64')}`;
    const secret = (password: string): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { namespace: 'shop', name: 'basic-auth' }, type: 'Opaque', data: { auth: Buffer.from(`alice:${sha(password)}\n`).toString('base64') } });
    const headers = (frame: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'shop', name: 'security-headers' }, data: { 'X-Frame-Options': frame } });
    await cluster.apply(secret('wonderland'));
    await cluster.apply(headers('DENY'));
    await cluster.apply(service('shop', 'secure', echoPort));
    await cluster.apply(endpointSlice('shop', 'secure-1', 'secure', ['192.0.2.12'], echoPort));
    await cluster.apply(
      ingress('shop', 'secure', 'secure.example', 'secure', {
        className: 'passerelle',
        annotations: {
          'nginx.ingress.kubernetes.io/auth-type': 'basic',
          'nginx.ingress.kubernetes.io/auth-secret': 'basic-auth',
          'nginx.ingress.kubernetes.io/custom-headers': 'security-headers',
        },
      }),
    );
    const get = (password?: string): Promise<{ status: number; frame: string | undefined }> =>
      new Promise((resolve, reject) => {
        const auth = password === undefined ? {} : { authorization: `Basic ${Buffer.from(`alice:${password}`).toString('base64')}` };
        http.get({ host: '127.0.0.1', port, path: '/', headers: { host: 'secure.example', ...auth } }, (res) => {
          res.resume();
          const frame = res.headers['x-frame-options'];
          resolve({ status: res.statusCode ?? 0, frame: typeof frame === 'string' ? frame : undefined });
        }).on('error', reject);
      });
    await waitFor('secure.example asks for a password', async () => (await get()).status === 401);
    assert.deepEqual(await get('wonderland'), { status: 200, frame: 'DENY' });
    assert.equal((await get('rabbit')).status, 401);
    // A new password in the Secret: the old one is refused, the new one accepted.
    await cluster.apply(secret('rabbit'));
    await waitFor('the new password of the Secret applies', async () => (await get('rabbit')).status === 200);
    assert.equal((await get('wonderland')).status, 401);
    // A new value in the ConfigMap: the answers carry it.
    await cluster.apply(headers('SAMEORIGIN'));
    await waitFor('the new header of the ConfigMap applies', async () => (await get('rabbit')).frame === 'SAMEORIGIN');
  });
});
