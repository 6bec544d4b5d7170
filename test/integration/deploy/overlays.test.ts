/*
 * deploy/: every overlay of the kustomize base renders (`kubectl kustomize`, or `kustomize build`),
 * agrees with the code and the Dockerfile (its ConfigMap loads; probes, ports and the Service match
 * [web] and the entry points; the work directory is the only writable mount; in the sidecar overlays
 * the stock proxy shares it and is reloaded the way the driver reloads it), and passes a server-side
 * dry run (dryRun=All, strict field validation) against a real kube-apiserver (test/kube/harness.ts).
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../../src/config/load.ts';
import type { StaticConfig } from '../../../src/config/schema.ts';
import type { KubeObject } from '../../../src/model/k8s.ts';
import { KubeApiError } from '../../../src/sources/kubernetes/client.ts';
import { resourcePath } from '../../../src/sources/kubernetes/informer.ts';
import { startCluster, typeOf } from '../../kube/harness.ts';
import type { Cluster } from '../../kube/harness.ts';
import { OVERLAYS, dockerfile, kustomize, one, render, root } from './manifests.ts';
import type { ConfigMapObject, Deployment, LabelSelector, ServiceObject } from './manifests.ts';

function portOf(address: string): number {
  const m = /:(\d+)$/.exec(address);
  assert.ok(m, `an address with a port: ${address}`);
  return Number(m[1]);
}

function subset(labels: Readonly<Record<string, string>> | undefined, of: Readonly<Record<string, string>>): boolean {
  return labels !== undefined && Object.keys(labels).length > 0 && Object.entries(labels).every(([k, v]) => of[k] === v);
}

test('deploy/overlays holds the four overlays, and kubectl apply -k deploy/ is the native one', () => {
  assert.deepEqual(readdirSync(path.join(root, 'deploy/overlays')).sort(), [...OVERLAYS].sort());
  assert.deepEqual(kustomize('deploy'), render('native'));
});

for (const overlay of OVERLAYS) {
  test(`deploy/overlays/${overlay}: the ConfigMap loads, and the pod spec, the Service and the PDB agree with it and with the Dockerfile`, () => {
    const objs = render(overlay);
    const deployment = one<Deployment>(objs, 'Deployment', 'passerelle');
    const pod = deployment.spec.template.spec;
    const podLabels = deployment.spec.template.metadata.labels;
    const controller = pod.containers.find((c) => c.name === 'passerelle');
    assert.ok(controller, 'the controller container');
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));

    // The configuration file the args name is the ConfigMap's key, mounted read-only.
    const configArg = controller.args?.find((a) => a.startsWith('--configfile='));
    assert.ok(configArg, 'run --configfile=…');
    const configFile = configArg.slice('--configfile='.length);
    const configMount = controller.volumeMounts?.find((m) => m.mountPath === path.dirname(configFile));
    assert.ok(configMount?.readOnly === true, `${path.dirname(configFile)} is a read-only mount`);
    const cmName = volumes.get(configMount.name)?.configMap?.name;
    assert.ok(cmName !== undefined, 'the configuration comes from a ConfigMap');
    const cm = one<ConfigMapObject>(objs, 'ConfigMap', cmName);
    const toml = cm.data[path.basename(configFile)];
    assert.equal(typeof toml, 'string', `ConfigMap ${cmName} has ${path.basename(configFile)}`);
    const config: StaticConfig = parseConfig(toml ?? '', configFile);

    // Mode and reload path.
    const expectMode = overlay === 'haproxy-sidecar' ? 'haproxy' : overlay === 'nginx-sidecar' ? 'nginx' : 'native';
    assert.equal(config.proxy.mode, expectMode);
    assert.equal(config.kubernetes.enabled, true);
    assert.equal(config.kubernetes.leaderElection, true, 'two replicas elect a leader');

    // The image is a target of the Dockerfile, and the pod runs as its user.
    const docker = dockerfile();
    const target = controller.image.replace(/:[^:/]*$/, '');
    assert.ok(docker.targets.has(target), `image ${controller.image} is a Dockerfile target (${[...docker.targets].join(', ')})`);
    assert.equal(target, overlay.endsWith('-sidecar') ? 'passerelle-sidecar' : 'passerelle');
    const sc = pod.securityContext;
    assert.equal(sc?.runAsNonRoot, true);
    assert.deepEqual([...docker.users], [`${sc?.runAsUser}:${sc?.runAsGroup}`], 'the Dockerfile USER is the uid:gid of the pod');

    // Probes on the [web] port: /readyz and /healthz.
    assert.ok(config.web.enabled || controller.args?.includes('--web') === true, '[web] is on');
    const webPort = controller.ports?.find((p) => p.name === 'web');
    assert.equal(webPort?.containerPort, portOf(config.web.address), 'the web container port is [web] address');
    assert.deepEqual(controller.readinessProbe?.httpGet, { path: '/readyz', port: 'web' });
    assert.deepEqual(controller.livenessProbe?.httpGet, { path: '/healthz', port: 'web' });

    // Every entry point listens on a port of the pod, and the Service maps the public ports to them.
    const podPorts = new Map(pod.containers.flatMap((c) => (c.ports ?? []).map((p) => [p.name ?? String(p.containerPort), p.containerPort] as const)));
    const service = one<ServiceObject>(objs, 'Service', 'passerelle');
    assert.ok(subset(service.spec.selector, podLabels), 'the Service selects the pods');
    for (const [name, ep] of Object.entries(config.entryPoints)) {
      const port = portOf(ep.address);
      assert.equal(podPorts.get(name), port, `entry point ${name} (${ep.address}) is the pod's port ${name}`);
      const sp = service.spec.ports.find((p) => p.targetPort === name);
      assert.ok(sp, `the Service exposes ${name}`);
      assert.equal(ep.publicPort, sp.port, `entryPoints.${name}.publicPort is the Service port (redirects go to https://host/)`);
    }
    assert.ok(!service.spec.ports.some((p) => p.targetPort === 'web'), 'the publish Service does not expose the web port');

    // A read-only root everywhere; the work directory is an emptyDir, the only writable mount of the controller.
    for (const c of pod.containers) {
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: read-only root filesystem`);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name}: no privilege escalation`);
    }
    const workMount = controller.volumeMounts?.find((m) => m.mountPath === config.proxy.workDir);
    assert.ok(workMount && volumes.get(workMount.name)?.emptyDir !== undefined, `[proxy] workDir ${config.proxy.workDir} is an emptyDir`);
    assert.deepEqual(
      (controller.volumeMounts ?? []).filter((m) => m.readOnly !== true).map((m) => m.mountPath),
      [config.proxy.workDir],
      'the controller writes only to its work directory',
    );

    // Sidecars: the stock proxy shares the work directory at the same path and is reloaded as the driver does.
    const proxies = pod.containers.filter((c) => c !== controller);
    if (overlay.endsWith('-sidecar')) {
      assert.equal(config.proxy.reload, 'sidecar');
      assert.equal(proxies.length, 1, 'one proxy container');
      const proxy = proxies[0]!;
      assert.ok(proxy.volumeMounts?.some((m) => m.name === workMount.name && m.mountPath === config.proxy.workDir), 'the proxy mounts the work directory at the same path');
      const script = [...(proxy.command ?? []), ...(proxy.args ?? [])].join(' ');
      if (expectMode === 'haproxy') {
        assert.match(proxy.image, /^haproxy:/);
        const master = config.proxy.masterSocket ?? path.join(config.proxy.workDir, 'haproxy-master.sock');
        assert.ok(script.includes(`-S ${master},mode,600`), `haproxy opens the master socket the controller reloads through (${master})`);
        assert.ok(script.includes(`-f ${path.join(config.proxy.workDir, 'haproxy.cfg')}`), 'haproxy runs the rendered file');
        assert.ok(script.includes(' -W '), 'master-worker mode');
      } else {
        assert.match(proxy.image, /^nginx:/);
        assert.equal(pod.shareProcessNamespace, true, 'the controller signals the nginx master: one process namespace');
        assert.ok(script.includes(`-c ${path.join(config.proxy.workDir, 'nginx.conf')}`), 'nginx runs the rendered file');
        assert.ok(script.includes(`-p ${config.proxy.workDir}/`), 'nginx prefix is the work directory (its pid file is there)');
      }
      assert.equal(controller.ports?.some((p) => p.name === 'http' || p.name === 'https'), false, 'the traffic ports are the proxy container\'s');
    } else {
      assert.equal(proxies.length, 0, 'native: one container');
    }

    // Two replicas, spread over nodes, one kept through voluntary disruptions.
    assert.ok(deployment.spec.replicas >= 2);
    const anti = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.ok(anti.some((t) => t.podAffinityTerm.topologyKey === 'kubernetes.io/hostname' && subset(t.podAffinityTerm.labelSelector.matchLabels, podLabels)), 'pod anti-affinity per node');
    const pdb = one<KubeObject & { spec: { minAvailable?: number; selector: LabelSelector } }>(objs, 'PodDisruptionBudget', 'passerelle');
    assert.ok(subset(pdb.spec.selector.matchLabels, podLabels), 'the PDB selects the pods');
    assert.equal(pdb.spec.minAvailable, 1);

    if (overlay === 'web') {
      const ingress = one<KubeObject & { spec: { ingressClassName?: string; rules: { http: { paths: { backend: { service: { name: string; port: { name?: string } } } }[] } }[] } }>(objs, 'Ingress', 'passerelle-console');
      assert.equal(ingress.spec.ingressClassName, config.kubernetes.ingressClass);
      const backend = ingress.spec.rules[0]?.http.paths[0]?.backend.service;
      const console = one<ServiceObject>(objs, 'Service', backend?.name ?? '');
      const cp = console.spec.ports.find((p) => p.name === backend?.port.name);
      assert.equal(cp?.targetPort, 'web', 'the console Service reaches the web port');
      assert.ok((config.web.auth?.basic?.users.length ?? 0) > 0, 'the published dashboard asks for a password');
    }
  });
}

describe('every overlay passes a server-side dry run against a real kube-apiserver', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  /** As `kubectl apply --dry-run=server`: create, or replace what exists, validated and admitted but not stored. */
  async function dryRunApply(obj: KubeObject): Promise<KubeObject> {
    const admin = cluster.client('admin');
    const type = typeOf(obj);
    const ns = type.namespaced ? (obj.metadata?.namespace ?? 'default') : undefined;
    const query = { dryRun: 'All', fieldValidation: 'Strict' };
    try {
      return await admin.request<KubeObject>('POST', resourcePath(type, ns), { body: obj, query });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    }
    const current = await admin.request<KubeObject>('GET', resourcePath(type, ns, obj.metadata?.name ?? ''));
    const body = { ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata?.resourceVersion } };
    return admin.request<KubeObject>('PUT', resourcePath(type, ns, obj.metadata?.name ?? ''), { body, query });
  }

  for (const overlay of OVERLAYS) {
    test(`deploy/overlays/${overlay}`, async () => {
      const objs = render(overlay);
      const failures: string[] = [];
      for (const obj of objs) {
        try {
          const stored = await dryRunApply(obj);
          assert.equal(stored.kind, obj.kind);
        } catch (err) {
          failures.push(`${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}: ${(err as Error).message}`);
        }
      }
      assert.deepEqual(failures, [], `the apiserver refused:\n${failures.join('\n')}`);
      // Nothing was stored: the Deployment does not exist after the dry run.
      await assert.rejects(cluster.client('admin').request('GET', '/apis/apps/v1/namespaces/passerelle/deployments/passerelle'), (err: unknown) => err instanceof KubeApiError && err.status === 404);
    });
  }
});
