/*
 * Conformance, "Load Balancing" (kubernetes-sigs/ingress-controller-conformance,
 * features/load_balancing.feature), through a real kube-apiserver: a default backend whose Service
 * has 10 ready endpoints; 100 requests all succeed and reach all 10 pods. Run inside
 * scripts/in-netns.sh, in every mode (PASSERELLE_MODE narrows).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/model/k8s.ts';
import { deployService, echoOf, send, waitFor, waitForStatus } from './env.ts';
import { describeFeature } from './suite.ts';

const NS = 'conformance-load-balancing';

const lbIngress: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: NS, name: 'load-balancing' },
  spec: { defaultBackend: { service: { name: 'echo-service', port: { number: 8080 } } } },
};

describeFeature(
  'conformance: load balancing',
  {
    namespace: NS,
    ingress: 'load-balancing',
    deploy: async (cluster, pods) => {
      // "The backend deployment echo-service is scaled to 10": ten ready endpoints in the slice.
      pods.push(...(await deployService(cluster, NS, 'echo-service', 10)));
      await cluster.apply(lbIngress);
    },
  },
  (env) => {
    test('100 requests to http://load-balancing all succeed and reach the 10 pods', async () => {
      const { mode, pass: p } = env;
      const address = await waitForStatus(env.cluster, NS, 'load-balancing');
      assert.equal(address, '192.0.2.1');
      // The model with all ten endpoints is served (a first model might have had fewer).
      await waitFor(`${mode}: ten endpoints in the served model`, () =>
        Object.values(p.running.controller.state.model?.backends ?? {}).some((b) => b.endpoints.length === 10));
      const seen = new Map<string, number>();
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) {
        const reply = await send({ address, port: p.httpPort, host: 'load-balancing' });
        statuses.push(reply.status);
        if (reply.status === 200) {
          const echo = echoOf(reply);
          assert.equal(echo.service, 'echo-service');
          seen.set(echo.pod, (seen.get(echo.pod) ?? 0) + 1);
        }
      }
      assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every response is a 200');
      assert.equal(seen.size, 10, `responses from 10 different pods (got ${JSON.stringify(Object.fromEntries(seen))})`);
    });
  },
);
