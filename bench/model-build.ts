/*
 * Micro-benchmark of the model build (translate) on a synthetic snapshot shaped like the one the
 * Kubernetes source holds in bench/k8s.sh: INGRESSES Ingresses (one host, one Prefix path each) over
 * SERVICES headless Services with one EndpointSlice each, objects as the apiserver returns them
 * (uid, resourceVersion, managedFields, status) passed through the source's stripObject. No
 * apiserver, no IO: prints the build time (median and min of RUNS after WARMUP) and, with a forced
 * GC, the heap held by the snapshot and by one model. Then, at each of SIZES Ingresses, side by side:
 * the full build (translate), the first build of an IncrementalTranslator, and its builds after one
 * Ingress changed and after one EndpointSlice changed (a new object each time, as the informers hand
 * it). A benchmark, not a test.
 *
 * Usage: node bench/model-build.ts   (env: INGRESSES=10000 SERVICES=1000 RUNS=15 WARMUP=3 SIZES=1000,10000)
 */

import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Snapshot } from '../src/model/k8s.ts';
import { translate } from '../src/model/translate/index.ts';
import { IncrementalTranslator } from '../src/model/translate/incremental.ts';
import type { RoutingModel } from '../src/model/types.ts';
import { stripObject } from '../src/sources/kubernetes/objects.ts';
import { benchOptions, synthetic } from './synthetic.ts';

const int = (name: string, def: number): number => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
};
const INGRESSES = int('INGRESSES', 10_000);
const SERVICES = Math.max(1, int('SERVICES', 1000));
const RUNS = Math.max(1, int('RUNS', 15));
const WARMUP = int('WARMUP', 3);
const SIZES = (process.env['SIZES'] ?? '1000,10000').split(',').map(Number);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapMB = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
};

const { rawIngress, rawSlice, snapshot: syntheticSnapshot } = synthetic(SERVICES);
const options = benchOptions;

const heap0 = heapMB();
const snapshot: Snapshot = syntheticSnapshot(INGRESSES);
const heapSnapshot = heapMB() - heap0;

let model: RoutingModel = translate(snapshot, options);
for (let i = 0; i < WARMUP; i++) model = translate(snapshot, options);
const times: number[] = [];
for (let i = 0; i < RUNS; i++) {
  gc();
  const t = performance.now();
  model = translate(snapshot, options);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] ?? NaN;
const min = times[0] ?? NaN;

// The heap one model holds (beyond the snapshot it shares strings with).
const before = heapMB();
let kept: RoutingModel | undefined = translate(snapshot, options);
const heapModel = heapMB() - before;
const summary = `${kept.virtualHosts.length} virtual hosts, ${Object.keys(kept.backends).length} backends, ${kept.diagnostics.length} diagnostics`;
kept = undefined;

process.stdout.write(
  [
    `model build (translate), ${INGRESSES} Ingresses, ${SERVICES} Services + EndpointSlices: ${summary}`,
    `build ms: median ${median.toFixed(1)}, min ${min.toFixed(1)} (${RUNS} runs after ${WARMUP} warm-up, GC before each)`,
    `heap MB: snapshot (stripped objects) ${heapSnapshot.toFixed(1)}, one model ${heapModel.toFixed(1)}`,
    '',
  ].join('\n'),
);
void model;

/** Median and min of `RUNS` timings of `run` (GC before each; `next` prepares each run untimed). */
function time<T>(next: (k: number) => T, run: (input: T) => unknown): { median: number; min: number } {
  for (let k = 0; k < WARMUP; k++) run(next(-1 - k));
  const ts: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    const input = next(k);
    gc();
    const t = performance.now();
    run(input);
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return { median: ts[Math.floor(ts.length / 2)] ?? NaN, min: ts[0] ?? NaN };
}

const fmt = (t: { median: number; min: number }): string => `${t.median.toFixed(1)} (${t.min.toFixed(1)})`.padStart(15);
const rows: string[] = [];
for (const size of SIZES) {
  const base = syntheticSnapshot(size);
  // The heap a translator keeps between builds (its units, and the model they share objects with).
  const before = heapMB();
  let kept: IncrementalTranslator | undefined = new IncrementalTranslator(options);
  kept.build(base);
  const stateMB = heapMB() - before;
  kept = undefined;
  const full = time(() => base, (s) => translate(s, options));
  const first = time(() => base, (s) => new IncrementalTranslator(options).build(s));
  // One translator follows a stream of snapshots; each run changes one object (a new reference).
  const inc = new IncrementalTranslator(options);
  inc.build(base);
  let ingresses = base.ingresses;
  const ingressChange = time(
    (k) => {
      const i = (k * 7919 + 13) % size;
      ingresses = ingresses.map((x, j) => (j === i ? stripObject(rawIngress(i, k % 2 === 0 ? '/changed' : '/')) : x));
      return { ...base, ingresses };
    },
    (s) => inc.build(s),
  );
  let slices = base.endpointSlices;
  const sliceChange = time(
    (k) => {
      const i = (k * 31 + 7) % SERVICES;
      slices = slices.map((x, j) => (j === i ? stripObject(rawSlice(i, k + 100)) : x));
      return { ...base, ingresses, endpointSlices: slices };
    },
    (s) => inc.build(s),
  );
  // The figures are worth something only if the models are the same.
  const last = { ...base, ingresses, endpointSlices: slices };
  assert.deepEqual(inc.build(last), translate(last, options));
  rows.push(`| ${String(size).padStart(9)} | ${fmt(full)} | ${fmt(first)} | ${fmt(ingressChange)} | ${fmt(sliceChange)} | ${`${(full.median / ingressChange.median).toFixed(0)}× / ${(full.median / sliceChange.median).toFixed(0)}×`.padStart(16)} | ${stateMB.toFixed(1).padStart(8)} |`);
  void kept;
}
process.stdout.write(
  [
    `incremental model build, ${SERVICES} Services + EndpointSlices; ms: median (min) of ${RUNS} runs after ${WARMUP} warm-up, GC before each`,
    '| Ingresses | full translate  | first (increm.) | 1 Ingress chg.  | 1 EPSlice chg.  | speed-up (I / E) | state MB |',
    '|-----------|-----------------|-----------------|-----------------|-----------------|------------------|----------|',
    ...rows,
    `node ${process.version}`,
    '',
  ].join('\n'),
);
