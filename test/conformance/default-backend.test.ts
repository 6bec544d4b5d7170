/*
 * Conformance, "Default backend" (kubernetes-sigs/ingress-controller-conformance,
 * features/default_backend.feature), through a real kube-apiserver: an Ingress with no rules sends
 * every request, whatever its method, host and path, to its spec.defaultBackend, unchanged.
 * Run inside scripts/in-netns.sh, in every mode (PASSERELLE_MODE narrows).
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/model/k8s.ts';
import { startCluster, type Cluster } from '../kube/harness.ts';
import {
  clearStatus,
  deployService,
  echoOf,
  modesUnderTest,
  namespace,
  ourClass,
  requireNetns,
  send,
  startPasserelle,
  waitFor,
  waitForStatus,
  type Passerelle,
  type Pod,
} from './env.ts';

const NS = 'conformance-default-backend';

const defaultBackendIngress: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: NS, name: 'default-backend' },
  spec: { defaultBackend: { service: { name: 'echo-service', port: { number: 8080 } } } },
};

/** The Examples table of the feature; an empty host means the request's Host is the address itself. */
const EXAMPLES: readonly { method: string; host: string; path: string }[] = [
  { method: 'GET', host: 'my-host', path: '' },
  { method: 'GET', host: 'my-host', path: 'sub-path' },
  { method: 'POST', host: 'some-host', path: '' },
  { method: 'PUT', host: '', path: 'resource' },
  { method: 'DELETE', host: 'some-host', path: 'resource' },
  { method: 'PATCH', host: 'my-host', path: 'resource' },
];

describe('conformance: default backend', () => {
  let cluster: Cluster;
  let pods: Pod[] = [];

  before(async () => {
    requireNetns();
    cluster = await startCluster();
    await cluster.apply(namespace(NS));
    await cluster.apply(ourClass);
    pods = await deployService(cluster, NS, 'echo-service', 2);
    await cluster.apply(defaultBackendIngress);
  });
  after(async () => {
    for (const p of pods) await p.close();
    await cluster?.stop();
  });

  for (const mode of modesUnderTest()) {
    describe(`${mode} mode`, () => {
      let pass: Passerelle | undefined;
      before(async () => {
        await clearStatus(cluster, NS, 'default-backend');
        pass = await startPasserelle(cluster, mode);
        const p = pass;
        await waitFor(`${mode}: the default backend answers`, async () => (await send({ port: p.httpPort, host: 'my-host' })).status === 200);
      });
      after(async () => {
        await pass?.stop();
      });

      test('the Ingress status shows the address where it is exposed', async () => {
        assert.equal(await waitForStatus(cluster, NS, 'default-backend'), '192.0.2.1');
      });

      for (const ex of EXAMPLES) {
        test(`${ex.method} http://${ex.host || '<address>'}/${ex.path} reaches echo-service unchanged`, async (t) => {
          assert.ok(pass);
          const address = await waitForStatus(cluster, NS, 'default-backend');
          const payload = ex.method === 'GET' || ex.method === 'DELETE' ? undefined : `{"method":"${ex.method}"}`;
          const reply = await send({
            address,
            port: pass.httpPort,
            method: ex.method,
            path: `/${ex.path}`,
            ...(ex.host === '' ? {} : { host: ex.host }),
            headers: { 'user-agent': 'Go-http-client/1.1', ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(payload === undefined ? {} : { body: payload }),
          });
          if (reply.status !== 200) t.diagnostic(pass.logger.lines.join('\n'));
          const echo = echoOf(reply);
          assert.equal(echo.service, 'echo-service');
          assert.equal(reply.httpVersion, '1.1', 'response proto HTTP/1.1');
          for (const h of ['content-length', 'content-type', 'date', 'server']) assert.ok(reply.headers[h], `response header ${h} (got ${JSON.stringify(reply.headers)})`);
          assert.equal(echo.method, ex.method);
          assert.equal(echo.path, `/${ex.path}`);
          assert.equal(echo.proto, 'HTTP/1.1', 'request proto HTTP/1.1');
          assert.equal(echo.headers['user-agent'], 'Go-http-client/1.1');
          assert.equal(echo.host, ex.host === '' ? `${address}:${pass.httpPort}` : ex.host);
          if (payload !== undefined) {
            assert.equal(echo.bodyBytes, payload.length, 'the body reaches the backend');
            assert.equal(echo.headers['content-type'], 'application/json');
          }
        });
      }
    });
  }
});
