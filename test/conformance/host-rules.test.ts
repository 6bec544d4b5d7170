/*
 * Conformance, "Host rules" and "Ingress class" (kubernetes-sigs/ingress-controller-conformance,
 * features/host_rules.feature and ingress_class.feature), through a real kube-apiserver: a TLS
 * Secret for foo.bar.com is served by SNI and verifies for that name, `*.foo.com` matches exactly one
 * label, other hosts get 404; an Ingress of another class is neither served nor given a status.
 * Run inside scripts/in-netns.sh, in every mode (PASSERELLE_MODE narrows).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../../src/model/k8s.ts';
import { deployService, echoOf, getIngress, selfSignedSecret, send, statusAddresses, waitFor } from './env.ts';
import { describeFeature } from './suite.ts';

const NS = 'conformance-host-rules';

const hostRules: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: NS, name: 'host-rules' },
  spec: {
    tls: [{ hosts: ['foo.bar.com'], secretName: 'conformance-tls' }],
    rules: [
      { host: '*.foo.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'wildcard-foo-com', port: { number: 8080 } } } }] } },
      { host: 'foo.bar.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'foo-bar-com', port: { name: 'http' } } } }] } },
    ],
  },
};

const otherClass: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: NS, name: 'test-ingress-class' },
  spec: {
    ingressClassName: 'some-invalid-class-name',
    rules: [{ host: 'ingress-class', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'ingress-class-prefix', port: { number: 8080 } } } }] } }],
  },
};

/** The PEM of the self-signed certificate of foo.bar.com, set by `deploy`. */
let certPem = '';

describeFeature(
  'conformance: host rules and ingress class',
  {
    namespace: NS,
    ingress: 'host-rules',
    deploy: async (cluster, pods) => {
      const tls = await selfSignedSecret(NS, 'conformance-tls', 'foo.bar.com');
      certPem = tls.certPem;
      await cluster.apply(tls.secret);
      for (const svc of ['wildcard-foo-com', 'foo-bar-com', 'ingress-class-prefix']) pods.push(...(await deployService(cluster, NS, svc)));
      await cluster.apply(hostRules);
      await cluster.apply(otherClass);
    },
    served: ({ mode, pass, address }) => waitFor(`${mode}: foo.bar.com served`, async () => (await send({ address, port: pass.httpPort, host: 'foo.bar.com' })).status === 200),
  },
  (env) => {
    test('the Ingress status shows the address where it is exposed', () => {
      assert.equal(env.address, '192.0.2.1');
    });

    test('https://foo.bar.com: the TLS Secret is served by SNI, verifies for foo.bar.com, reaches foo-bar-com', async () => {
      const { address, pass: p } = env;
      // A certificate change reaches the proxy after the routes: wait for the handshake to verify.
      const reply = await waitFor('a verified TLS answer', () => send({ address, port: p.httpsPort, host: 'foo.bar.com', ca: certPem }), 30_000);
      const echo = echoOf(reply);
      assert.equal(echo.service, 'foo-bar-com');
      assert.equal(echo.host, 'foo.bar.com');
      // The same CA does not verify another name on that port (the certificate is not served for it).
      await assert.rejects(send({ address, port: p.httpsPort, host: 'bar.foo.com', ca: certPem }));
    });

    test('http://foo.bar.com reaches foo-bar-com', async () => {
      const { address, pass } = env;
      const echo = echoOf(await send({ address, port: pass.httpPort, host: 'foo.bar.com' }));
      assert.equal(echo.service, 'foo-bar-com');
      assert.equal(echo.host, 'foo.bar.com');
    });

    test('http://subdomain.bar.com: no host matches, 404', async () => {
      const { address, pass } = env;
      assert.equal((await send({ address, port: pass.httpPort, host: 'subdomain.bar.com' })).status, 404);
    });

    test('http://bar.foo.com matches *.foo.com', async () => {
      const { address, pass } = env;
      const echo = echoOf(await send({ address, port: pass.httpPort, host: 'bar.foo.com' }));
      assert.equal(echo.service, 'wildcard-foo-com');
      assert.equal(echo.host, 'bar.foo.com');
    });

    test('*.foo.com covers one label only: baz.bar.foo.com and foo.com get 404', async () => {
      const { address, pass } = env;
      assert.equal((await send({ address, port: pass.httpPort, host: 'baz.bar.foo.com' })).status, 404);
      assert.equal((await send({ address, port: pass.httpPort, host: 'foo.com' })).status, 404);
    });

    test('an Ingress of another class is not served and never gets a status', async () => {
      const { address, pass } = env;
      assert.equal((await send({ address, port: pass.httpPort, host: 'ingress-class' })).status, 404);
      // Our Ingress got its status long ago; give the writer more passes to (wrongly) touch the other one.
      await sleep(1500);
      assert.deepEqual(statusAddresses(await getIngress(env.cluster, NS, 'test-ingress-class')), []);
    });
  },
);
