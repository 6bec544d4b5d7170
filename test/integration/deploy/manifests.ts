/*
 * deploy/ as the tests read it: the overlays rendered by kustomize, loose typed views of the fields the
 * tests use, and the Dockerfile's targets. Shared by overlays.test.ts (static agreement, dry run) and
 * pods.test.ts (the pod specs run by test/integration/deploy/kubelet.ts).
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../src/model/k8s.ts';

export const root = path.resolve(import.meta.dirname, '../../..');
export const OVERLAYS = ['native', 'haproxy-sidecar', 'nginx-sidecar', 'web'] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** What `kubectl kustomize DIR` prints, from kubectl or a standalone kustomize (the tests never skip). */
export function kustomize(dir: string): KubeObject[] {
  // scripts/setup-test-deps.sh builds this one; kubectl or a kustomize on PATH serve too.
  const cached = path.join(process.env['XDG_CACHE_HOME'] ?? path.join(homedir(), '.cache'), 'passerelle/kustomize/v5.5.0/kustomize');
  const tries: [string, string[]][] = [
    [cached, ['build', dir]],
    ['kubectl', ['kustomize', dir]],
    ['kustomize', ['build', dir]],
  ];
  const failures: string[] = [];
  for (const [bin, args] of tries) {
    try {
      const text = execFileSync(bin, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return parseAllDocuments(text)
        .map((d) => d.toJS() as KubeObject | null)
        .filter((o): o is KubeObject => o !== null && typeof o === 'object');
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT') {
        failures.push(`${bin}: not installed`);
        continue;
      }
      throw new Error(`${bin} ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
    }
  }
  throw new Error(`rendering deploy/ needs kustomize (scripts/setup-test-deps.sh builds it) or kubectl: ${failures.join('; ')}`);
}

const rendered = new Map<Overlay, KubeObject[]>();
/** The objects of deploy/overlays/OVERLAY (rendered once per process). */
export function render(overlay: Overlay): KubeObject[] {
  let objs = rendered.get(overlay);
  if (objs === undefined) {
    objs = kustomize(path.join('deploy/overlays', overlay));
    rendered.set(overlay, objs);
  }
  return objs;
}

// Loose views of the manifests: only the fields the tests read.
export interface Port {
  readonly name?: string;
  readonly containerPort: number;
}
export interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: string | number };
  readonly tcpSocket?: { readonly port: string | number };
}
export interface Mount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
}
export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
}
export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly Port[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly volumeMounts?: readonly Mount[];
  readonly securityContext?: { readonly readOnlyRootFilesystem?: boolean; readonly allowPrivilegeEscalation?: boolean };
}
export interface Volume {
  readonly name: string;
  readonly configMap?: { readonly name: string };
  readonly emptyDir?: object;
}
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
}
export interface PodSpec {
  readonly serviceAccountName?: string;
  readonly terminationGracePeriodSeconds?: number;
  readonly shareProcessNamespace?: boolean;
  readonly securityContext?: { readonly runAsUser?: number; readonly runAsGroup?: number; readonly runAsNonRoot?: boolean };
  readonly containers: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly affinity?: { readonly podAntiAffinity?: { readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly { readonly podAffinityTerm: { readonly labelSelector: LabelSelector; readonly topologyKey: string } }[] } };
}
export interface Deployment extends KubeObject {
  readonly spec: { readonly replicas: number; readonly selector: LabelSelector; readonly template: { readonly metadata: { readonly labels: Readonly<Record<string, string>> }; readonly spec: PodSpec } };
}
export interface ServiceObject extends KubeObject {
  readonly spec: { readonly selector?: Readonly<Record<string, string>>; readonly ports: readonly { readonly name?: string; readonly port: number; readonly targetPort?: string | number }[] };
}
export interface ConfigMapObject extends KubeObject {
  readonly data: Readonly<Record<string, string>>;
}

/** The one object of that kind and name. */
export function one<T extends KubeObject>(objs: readonly KubeObject[], kind: string, name: string): T {
  const found = objs.filter((o) => o.kind === kind && o.metadata?.name === name);
  assert.equal(found.length, 1, `one ${kind} ${name}`);
  return found[0] as T;
}

/** The Dockerfile's targets and the uid:gid of its USER lines. */
export function dockerfile(): { targets: Set<string>; users: Set<string> } {
  const text = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const targets = new Set([...text.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1] ?? ''));
  const users = new Set([...text.matchAll(/^USER\s+(\S+)/gim)].map((m) => m[1] ?? '').filter((u) => u !== 'root'));
  return { targets, users };
}
