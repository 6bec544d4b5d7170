/*
 * What turns the suite's Deployments into Ready pods with IPs and EndpointSlices in a cluster that
 * has only etcd and kube-apiserver, with real parts: kube-controller-manager (Deployments →
 * ReplicaSets → Pods, EndpointSlices from Ready pods, namespace deletion, garbage collection),
 * kube-scheduler (binds pods to the node), and kwok (fakes that node and marks the pods bound to it
 * Running and Ready, with IPs from a CIDR of the test network namespace). Nothing runs the pods'
 * containers: echo.ts starts echo-basic for them.
 */

import { setTimeout as sleep } from 'node:timers/promises';
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

/**
 * Starts kube-controller-manager, kube-scheduler and kwok against the cluster (as admin), creates
 * the fake Node, and resolves when kwok has made it Ready.
 */
export async function startWorkloads(cluster: Cluster, bins: ConformanceBinaries, node: NodeOptions = DEFAULT_NODE): Promise<Workloads> {
  const kubeconfig = cluster.kubeconfig('admin');
  const procs: Proc[] = [];
  const logs = (lines = 30): string => procs.map((p) => `--- ${p.name} ---\n${p.tail(lines)}`).join('\n');
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
  };
  try {
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
        `--server-address=127.0.0.1:${await freePort()}`,
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
      const current = await admin.request<{ spec?: { taints?: unknown[] }; status?: { conditions?: { type: string; status: string }[] } }>('GET', `/api/v1/nodes/${node.nodeName}`);
      if (current.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && (current.spec?.taints ?? []).length === 0) break;
      if (Date.now() > deadline) throw new Error(`node ${node.nodeName} not Ready within 60 s`);
      await sleep(200);
    }
    return { node, logs, stop };
  } catch (err) {
    const text = logs();
    await stop();
    throw new Error(`could not start the workload controllers: ${(err as Error).message}\n${text}`, { cause: err });
  }
}
