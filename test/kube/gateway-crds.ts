/*
 * The Gateway API's standard-channel CRDs (sigs.k8s.io/gateway-api v1.6.3, the version whose
 * conformance suite the tests run) for the test cluster: the module comes from the Go module proxy
 * (`go mod download`, cached in the Go module cache), and its `config/crd/standard/` files are
 * applied as they are.
 */

import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { KubeObject } from '../../src/model/k8s.ts';
import { KubeApiError } from '../../src/sources/kubernetes/client.ts';
import { parseAllDocuments } from 'yaml';
import type { Cluster } from './harness.ts';

const run = promisify(execFile);

/** The Gateway API release whose CRDs (and conformance suite) the tests use. */
export const GATEWAY_API_VERSION = 'v1.6.3';

let dir: Promise<string> | undefined;

/**
 * The directory of the `sigs.k8s.io/gateway-api` module (downloaded once through the Go module proxy,
 * then read from the module cache): `go mod download -json` with `GOFLAGS` cleared, Go from the PATH
 * or /usr/local/go/bin.
 */
export function gatewayApiDir(): Promise<string> {
  dir ??= (async () => {
    const env = { ...process.env, GOFLAGS: '', PATH: `${process.env['PATH'] ?? ''}:/usr/local/go/bin` };
    let stdout: string;
    try {
      ({ stdout } = await run('go', ['mod', 'download', '-json', `sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`], { env, cwd: path.resolve(import.meta.dirname), maxBuffer: 16 * 1024 * 1024, timeout: 300_000 }));
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`go mod download sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION} failed (the Gateway API tests need Go and the module proxy): ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
    }
    const info = JSON.parse(stdout) as { Dir?: unknown; Error?: unknown };
    if (typeof info.Dir !== 'string') throw new Error(`go mod download gave no directory for sigs.k8s.io/gateway-api: ${stdout}`);
    return info.Dir;
  })();
  // A failure is not cached: the next call tries again.
  dir.catch(() => {
    dir = undefined;
  });
  return dir;
}

/** One CRD of the release's standard channel, by its file's resource plural (`referencegrants`). */
export async function gatewayCrd(plural: string): Promise<KubeObject> {
  const file = path.join(await gatewayApiDir(), 'config', 'crd', 'standard', `gateway.networking.k8s.io_${plural}.yaml`);
  const crd = parseAllDocuments(await readFile(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .find((o) => o?.kind === 'CustomResourceDefinition');
  if (crd === undefined || crd === null) throw new Error(`${file} holds no CustomResourceDefinition`);
  return crd;
}

/** Whether a CRD reports Established=True. */
function established(crd: KubeObject): boolean {
  const status = crd.status as { conditions?: readonly { type?: string; status?: string }[] } | undefined;
  return (status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
}

/**
 * Applies every file of `config/crd/standard/` to the cluster (as admin) and waits until each CRD is
 * Established. The `vap_safeupgrades` ValidatingAdmissionPolicy (an upgrade guard, not a CRD) is
 * applied when the apiserver takes it and skipped when it refuses it.
 */
export async function installGatewayCrds(cluster: Cluster): Promise<void> {
  const crdDir = path.join(await gatewayApiDir(), 'config', 'crd', 'standard');
  const files = (await readdir(crdDir)).filter((f) => f.endsWith('.yaml')).sort();
  const crds: string[] = [];
  for (const file of files) {
    const objects = parseAllDocuments(await readFile(path.join(crdDir, file), 'utf8'))
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o !== null && typeof o === 'object');
    for (const obj of objects) {
      if (obj.kind === 'CustomResourceDefinition') {
        await cluster.apply(obj);
        crds.push(obj.metadata?.name ?? '');
        continue;
      }
      try {
        await cluster.apply(obj);
      } catch (err) {
        if (!(file.includes('vap_safeupgrades') && err instanceof KubeApiError)) throw err;
      }
    }
  }
  const admin = cluster.client('admin');
  const deadline = Date.now() + 60_000;
  for (const name of crds) {
    for (;;) {
      const crd = await admin.request<KubeObject>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      if (established(crd)) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within 60 s: ${JSON.stringify(crd.status)}`);
      await sleep(100);
    }
  }
  // Discovery serves a new group a moment after its CRDs are Established.
  for (;;) {
    try {
      await admin.request('GET', '/apis/gateway.networking.k8s.io/v1/httproutes');
      return;
    } catch (err) {
      if (Date.now() > deadline || !(err instanceof KubeApiError) || err.status !== 404) throw err;
      await sleep(100);
    }
  }
}
