/*
 * Where scripts/gateway-conformance-binaries.sh puts what the Gateway API conformance run needs:
 * the suite's test binary and echo-basic (gateway-api/<version>/), kwok, its Stages and its Logs CRD
 * (kwok/<version>/), and
 * kube-controller-manager and kube-scheduler beside kube-apiserver (kube/<version>/).
 * Each can be overridden by the PASSERELLE_* variable the script prints.
 */

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { kubeBinaries } from '../kube/harness.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** The binaries of the conformance run. */
export interface ConformanceBinaries {
  /** The suite, `go test -c` of test/gateway-conformance/suite. */
  readonly suite: string;
  readonly echoBasic: string;
  /** The suite's base manifests (its echo Deployments, Services and Gateways), copied by the script. */
  readonly baseManifests: string;
  readonly kwok: string;
  /** kwok's Stages (the "fast" ones of kwokctl), copied by the script beside kwok. */
  readonly kwokStages: string;
  /** kwok's Logs CRD (kwok.x-k8s.io/v1alpha1), copied by the script beside kwok. */
  readonly kwokLogsCrd: string;
  readonly controllerManager: string;
  readonly scheduler: string;
  /** The sigs.k8s.io/gateway-api/conformance version of the suite. */
  readonly version: string;
}

/** The kwok release scripts/gateway-conformance-binaries.sh builds unless PASSERELLE_KWOK_VERSION says otherwise. */
function kwokVersion(): string {
  const script = readFileSync(path.join(root, 'scripts/gateway-conformance-binaries.sh'), 'utf8');
  return process.env['PASSERELLE_KWOK_VERSION'] ?? /PASSERELLE_KWOK_VERSION:-(v[^}]+)\}/.exec(script)?.[1] ?? 'unknown';
}

/** The paths, from the environment or the cache (they may not exist: see {@link requireConformanceBinaries}). */
export function conformanceBinaries(): ConformanceBinaries {
  const goMod = readFileSync(path.join(root, 'test/gateway-conformance/suite/go.mod'), 'utf8');
  const version = /^\s*(?:require\s+)?sigs\.k8s\.io\/gateway-api\/conformance\s+(v\S+)/m.exec(goMod)?.[1] ?? 'unknown';
  const cache = process.env['PASSERELLE_CACHE'] ?? path.join(homedir(), '.cache', 'passerelle');
  const dir = path.join(cache, 'gateway-api', version);
  const kube = path.dirname(kubeBinaries().apiserver);
  const kwok = process.env['PASSERELLE_KWOK'] ?? path.join(cache, 'kwok', kwokVersion(), 'kwok');
  return {
    suite: process.env['PASSERELLE_GATEWAY_CONFORMANCE'] ?? path.join(dir, 'conformance.test'),
    echoBasic: process.env['PASSERELLE_ECHO_BASIC'] ?? path.join(dir, 'echo-basic'),
    baseManifests: process.env['PASSERELLE_GATEWAY_BASE_MANIFESTS'] ?? path.join(dir, 'base-manifests.yaml'),
    kwok,
    kwokStages: process.env['PASSERELLE_KWOK_STAGES'] ?? path.join(path.dirname(kwok), 'stages.yaml'),
    kwokLogsCrd: process.env['PASSERELLE_KWOK_LOGS_CRD'] ?? path.join(path.dirname(kwok), 'logs-crd.yaml'),
    controllerManager: process.env['PASSERELLE_KUBE_CONTROLLER_MANAGER'] ?? path.join(kube, 'kube-controller-manager'),
    scheduler: process.env['PASSERELLE_KUBE_SCHEDULER'] ?? path.join(kube, 'kube-scheduler'),
    version,
  };
}

/** Throws a clear error when a binary is missing (the conformance run never skips). */
export function requireConformanceBinaries(): ConformanceBinaries {
  const bins = conformanceBinaries();
  const missing = [bins.suite, bins.echoBasic, bins.baseManifests, bins.kwok, bins.kwokStages, bins.kwokLogsCrd, bins.controllerManager, bins.scheduler].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `the Gateway API conformance run needs binaries that are missing: ${missing.join(', ')}.\n` +
        'Build them once with: bash scripts/gateway-conformance-binaries.sh (cached afterwards), or set the PASSERELLE_* variables it prints.',
    );
  }
  return bins;
}
