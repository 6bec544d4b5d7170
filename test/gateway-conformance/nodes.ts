/*
 * What turns the suite's Deployments into Ready pods with IPs and EndpointSlices in a cluster that
 * has only etcd and kube-apiserver, with real parts: kube-controller-manager (Deployments →
 * ReplicaSets → Pods, EndpointSlices from Ready pods, namespace deletion, garbage collection),
 * kube-scheduler (binds pods to the node), and kwok (fakes that node and marks the pods bound to it
 * Running and Ready, with IPs from a CIDR of the test network namespace). Nothing runs the pods'
 * containers: echo.ts starts echo-basic for them.
 *
 * kwok also serves the node's kubelet API (its `containerLogs` among others) on nodeIp: its
 * node-initialize Stage writes that address (InternalIP) and port (daemonEndpoints.kubeletEndpoint)
 * into the Node's status, which is where the apiserver sends `pods/log` (the cluster is started with
 * `--kubelet-preferred-address-types=InternalIP` and no kubelet CA, so kwok's self-signed certificate
 * is not checked). What file holds a pod's log is a kwok `Logs` object (its CRD, installed here),
 * written by echo.ts for each pod it runs.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/model/k8s.ts';
import { KubeApiError } from '../../src/sources/kubernetes/client.ts';
import type { Cluster } from '../kube/harness.ts';
import { freePort } from '../ports.ts';
import type { ConformanceBinaries } from './binaries.ts';
import { startProc, type Proc } from './procs.ts';

/** The fake node and its pods' addresses (inside scripts/in-netns.sh's 192.0.2.0/24, all local there). */
export interface NodeOptions {
  readonly nodeName: string;
  /** Pod IPs come from here. */
  readonly podCidr: string;
  readonly nodeIp: string;
}

export const DEFAULT_NODE: NodeOptions = { nodeName: 'kwok-node-0', podCidr: '192.0.2.128/25', nodeIp: '192.0.2.127' };

/** The running controllers and the fake node. */
export interface Workloads {
  readonly node: NodeOptions;
  /** Where kwok serves the node's kubelet API (`nodeIp:port`, the Node's InternalIP and kubelet endpoint). */
  readonly kubelet: string;
  /** The last lines of the three processes' logs. */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

/** The controllers of kube-controller-manager the suite's objects need (the rest stay off). */
const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
  'endpoints-controller',
  'namespace-controller',
  'garbage-collector-controller',
  'serviceaccount-controller',
];

/** The kube-apiserver flags {@link startWorkloads} needs the cluster to be started with (test/kube/harness.ts apiserverArgs). */
export const WORKLOAD_APISERVER_ARGS: readonly string[] = [
  // The kubelet API on the Node's InternalIP, never on a Hostname address (nothing resolves one in the
  // network namespace): kwok writes only an InternalIP today (a Hostname too if given --node-name).
  '--kubelet-preferred-address-types=InternalIP',
];

/** Installs kwok's Logs CRD and waits until it is Established. */
async function installLogsCrd(cluster: Cluster, file: string): Promise<void> {
  const crds = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o?.kind === 'CustomResourceDefinition');
  if (crds.length === 0) throw new Error(`${file} holds no CustomResourceDefinition`);
  const admin = cluster.client('admin');
  for (const crd of crds) {
    await cluster.apply(crd);
    const name = crd.metadata?.name ?? '';
    const deadline = Date.now() + 30_000;
    for (;;) {
      const cur = await admin.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      if (cur.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within 30 s`);
      await sleep(100);
    }
  }
}

/**
 * Starts kube-controller-manager, kube-scheduler and kwok against the cluster (as admin; the cluster
 * started with {@link WORKLOAD_APISERVER_ARGS}), creates the fake Node, and resolves when kwok has
 * made it Ready with its kubelet endpoint.
 */
export async function startWorkloads(cluster: Cluster, bins: ConformanceBinaries, node: NodeOptions = DEFAULT_NODE): Promise<Workloads> {
  const kubeconfig = cluster.kubeconfig('admin');
  const procs: Proc[] = [];
  const logs = (lines = 30): string => procs.map((p) => `--- ${p.name} ---\n${p.tail(lines)}`).join('\n');
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
  };
  const kubeletPort = await freePort(node.nodeIp);
  const kubelet = `${node.nodeIp}:${kubeletPort}`;
  try {
    await installLogsCrd(cluster, bins.kwokLogsCrd);
    procs.push(
      startProc('kube-controller-manager', bins.controllerManager, [
        `--kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--secure-port=0',
        `--controllers=${CONTROLLERS.join(',')}`,
        '--use-service-account-credentials=false',
        // The suite creates and deletes namespaces in a row: no need to wait between syncs.
        '--concurrent-deployment-syncs=10',
        '--concurrent-replicaset-syncs=10',
        '--v=1',
      ]),
    );
    procs.push(startProc('kube-scheduler', bins.scheduler, [`--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--secure-port=0', '--v=1']));
    procs.push(
      startProc('kwok', bins.kwok, [
        `--kubeconfig=${kubeconfig}`,
        `--config=${bins.kwokStages}`,
        '--manage-all-nodes=false',
        `--manage-single-node=${node.nodeName}`,
        `--cidr=${node.podCidr}`,
        `--node-ip=${node.nodeIp}`,
        // Its kubelet API, where the Node's status says it is (node-initialize writes --node-ip and --node-port there).
        `--node-port=${kubeletPort}`,
        `--server-address=${kubelet}`,
        // Which file holds a pod's log: Logs objects, created by echo.ts as it starts a pod's process.
        '--enable-crds=Logs',
      ]),
    );
    const admin = cluster.client('admin');
    const nodeObject: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: node.nodeName,
        labels: { type: 'kwok', 'kubernetes.io/hostname': node.nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      },
      spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr] },
      status: {
        allocatable: { cpu: '64', memory: '256Gi', pods: '250' },
        capacity: { cpu: '64', memory: '256Gi', pods: '250' },
      },
    } as KubeObject;
    try {
      await admin.request('POST', '/api/v1/nodes', { body: nodeObject });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    }
    // The apiserver's TaintNodesByCondition admission gives a new Node the not-ready taint, which
    // only kube-controller-manager's node-lifecycle-controller lifts; that controller also taints a
    // node whose heartbeat is late (a loaded machine), so it stays off and the taint is lifted here.
    await admin.request('PATCH', `/api/v1/nodes/${node.nodeName}`, { body: { spec: { taints: null } }, contentType: 'application/merge-patch+json' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      for (const p of procs) if (p.exited()) throw new Error(`${p.name} exited`);
      const current = await admin.request<{
        spec?: { taints?: unknown[] };
        status?: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[]; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } };
      }>('GET', `/api/v1/nodes/${node.nodeName}`);
      const ready = current.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
      const endpoint = `${current.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '?'}:${current.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? '?'}`;
      if (ready && (current.spec?.taints ?? []).length === 0 && endpoint === kubelet) break;
      if (Date.now() > deadline) throw new Error(`node ${node.nodeName} not Ready with its kubelet endpoint ${kubelet} within 60 s (Ready ${ready}, endpoint ${endpoint})`);
      await sleep(200);
    }
    return { node, kubelet, logs, stop };
  } catch (err) {
    const text = logs();
    await stop();
    throw new Error(`could not start the workload controllers: ${(err as Error).message}\n${text}`, { cause: err });
  }
}
