/*
 * Micro-benchmark of what each change costs the HAProxy and nginx drivers before anything is sent
 * to the proxy: the rendering (view + files + checksums; the HAProxy body, rendered after a runtime API
 * change is sent, apart) of the whole configuration, at
 * SIZES Ingresses of the synthetic cluster (bench/synthetic.ts). Prints, per size and dialect, the
 * median (min) of RUNS renders and the part of it that builds the view. No IO: a benchmark, not a test.
 *
 * Usage: node bench/render.ts   (env: SIZES=1000,10000 SERVICES=1000 RUNS=9 WARMUP=2)
 */

import v8 from 'node:v8';
import vm from 'node:vm';
import { IncrementalTranslator } from '../src/model/translate/incremental.ts';
import type { RoutingModel } from '../src/model/types.ts';
import { buildHaproxyView, createHaproxyRenderer } from '../src/render/haproxy/index.ts';
import type { HaproxyLayout, HaproxyRenderOptions } from '../src/render/haproxy/index.ts';
import { buildNginxView, createNginxRenderer } from '../src/render/nginx/index.ts';
import type { NginxRenderOptions } from '../src/render/nginx/index.ts';
import { benchOptions, synthetic } from './synthetic.ts';

const int = (name: string, def: number): number => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
};
const SERVICES = int('SERVICES', 1000);
const RUNS = int('RUNS', 9);
const WARMUP = int('WARMUP', 2);
const SIZES = (process.env['SIZES'] ?? '1000,10000').split(',').map(Number);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Median and min of RUNS timings of `run` after WARMUP (GC before each). */
function time(run: () => unknown): { median: number; min: number } {
  for (let k = 0; k < WARMUP; k++) run();
  const ts: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    gc();
    const t = performance.now();
    run();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return { median: ts[Math.floor(ts.length / 2)] ?? NaN, min: ts[0] ?? NaN };
}
const fmt = (t: { median: number; min: number }): string => `${t.median.toFixed(1)} (${t.min.toFixed(1)})`.padStart(15);

const workDir = '/var/lib/passerelle';
const haproxyOptions: HaproxyRenderOptions = { workDir };
const nginxOptions: NginxRenderOptions = { workDir, headersMoreModule: null, luaModules: null, resolvesHost: () => true, certificateProblem: () => undefined };
const haproxy = createHaproxyRenderer();
const nginx = createNginxRenderer();

const rows: string[] = [];
for (const size of SIZES) {
  const gen = synthetic(SERVICES);
  const model: RoutingModel = new IncrementalTranslator(benchOptions).build(gen.snapshot(size));
  // A change follows a rendering: its layout (server slots) is the previous one's.
  const layout: HaproxyLayout = haproxy.renderWithView(model, haproxyOptions).build.layout;
  const hView = time(() => buildHaproxyView(model, haproxyOptions, layout));
  const hAll = time(() => haproxy.renderWithView(model, haproxyOptions, layout));
  const hBody = time(() => haproxy.renderWithView(model, haproxyOptions, layout).rendered.main.content);
  const nView = time(() => buildNginxView(model, nginxOptions));
  const nAll = time(() => nginx.render(model, nginxOptions));
  const bytes = (haproxy.render(model, haproxyOptions, layout).main.content.length / 1024).toFixed(0);
  rows.push(`| ${String(size).padStart(9)} | ${fmt(hAll)} | ${fmt(hView)} | ${fmt(hBody)} | ${fmt(nAll)} | ${fmt(nView)} | ${bytes.padStart(8)} |`);
}
process.stdout.write(
  [
    `rendering per change, ${SERVICES} Services; ms: median (min) of ${RUNS} runs after ${WARMUP} warm-up, GC before each`,
    '| Ingresses | HAProxy render  | of it: view     | HAProxy + body  | nginx render    | of it: view     | cfg KiB  |',
    '|-----------|-----------------|-----------------|-----------------|-----------------|-----------------|----------|',
    ...rows,
    `node ${process.version}`,
    '',
  ].join('\n'),
);
