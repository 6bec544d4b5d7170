/*
 * Conformance, "Default backend" (kubernetes-sigs/ingress-controller-conformance,
 * features/default_backend.feature), through a real kube-apiserver: an Ingress with no rules sends
 * every request, whatever its method, host and path, to its spec.defaultBackend, unchanged.
 * Run inside scripts/in-netns.sh, in every mode (PASSERELLE_MODE narrows).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/model/k8s.ts';
import { deployService, echoOf, send, waitFor, waitForStatus } from './env.ts';
import { describeFeature } from './suite.ts';

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

describeFeature(
  'conformance: default backend',
  {
    namespace: NS,
    ingress: 'default-backend',
    deploy: async (cluster, pods) => {
      pods.push(...(await deployService(cluster, NS, 'echo-service', 2)));
      await cluster.apply(defaultBackendIngress);
    },
    served: ({ mode, pass }) => waitFor(`${mode}: the default backend answers`, async () => (await send({ port: pass.httpPort, host: 'my-host' })).status === 200),
  },
  (env) => {
    test('the Ingress status shows the address where it is exposed', async () => {
      assert.equal(await waitForStatus(env.cluster, NS, 'default-backend'), '192.0.2.1');
    });

    for (const ex of EXAMPLES) {
      test(`${ex.method} http://${ex.host || '<address>'}/${ex.path} reaches echo-service unchanged`, async (t) => {
        const { pass } = env;
        const address = await waitForStatus(env.cluster, NS, 'default-backend');
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
  },
);
