/**
 * The site the edge cases (issue 9) run against: host `edge.test` with `/public` -> a and `/admin`
 * -> b (Prefix), `/` -> c (Prefix), `/exact` -> d (Exact); host `other.test` -> o; optionally a
 * default backend `dflt`. Every upstream is a {@link Recorder}, so a case sees the exact bytes the
 * proxy forwarded.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { requestPath, resolveRequest } from '../../src/model/match.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import type { EntryPointOptions } from './harness.ts';
import { backend, entryPoint, freePort, Harness, model, route, vhost } from './harness.ts';
import type { DriverSettings } from './modes.ts';
import type { ReadResult, RecordedRequest, Recorder } from './raw.ts';
import { describe, isResponse, sleep } from './raw.ts';

/** The upstreams of the edge site. */
export type EdgeBackend = 'a' | 'b' | 'c' | 'd' | 'o' | 'dflt';

/** The edge site as applied. */
export interface EdgeSite {
  readonly harness: Harness;
  readonly port: number;
  /** The model applied: expected routes are computed from it with the model's own matcher. */
  readonly model: RoutingModel;
  readonly recorders: Readonly<Partial<Record<EdgeBackend, Recorder>>>;
  /** Every request recorded by every upstream since the last {@link reset}. */
  all(): RecordedRequest[];
  /** Bytes received by every upstream since the last {@link reset}. */
  bytes(): number;
  reset(): void;
}

/** Options of {@link edgeSite}. */
export interface EdgeOptions {
  readonly settings?: DriverSettings;
  readonly entryPoint?: EntryPointOptions;
  /** Add the default backend `dflt`. */
  readonly defaultBackend?: boolean;
}

/** Starts the driver of the mode under test with the edge site; everything stops in `t.after`. */
export async function edgeSite(t: TestContext, opts: EdgeOptions = {}): Promise<EdgeSite> {
  const harness = await Harness.create(t, opts.settings ?? {});
  const ids: EdgeBackend[] = ['a', 'b', 'c', 'd', 'o', ...(opts.defaultBackend === true ? (['dflt'] as const) : [])];
  const list = await harness.recorders(...ids);
  const recorders: Partial<Record<EdgeBackend, Recorder>> = {};
  for (const [i, id] of ids.entries()) recorders[id] = list[i]!;
  const port = await freePort();
  const m = model({
    entryPoints: [entryPoint('http', port, opts.entryPoint ?? {})],
    virtualHosts: [
      vhost('edge.test', [route('/public', 'Prefix', 'a'), route('/admin', 'Prefix', 'b'), route('/', 'Prefix', 'c'), route('/exact', 'Exact', 'd')]),
      vhost('other.test', [route('/', 'Prefix', 'o')]),
    ],
    backends: list.map((r) => backend(r.id, [r.endpoint()])),
    ...(opts.defaultBackend === true ? { defaultBackend: 'dflt' } : {}),
  });
  await harness.apply(m);
  return {
    harness,
    port,
    model: m,
    recorders,
    all: () => list.flatMap((r) => r.requests),
    bytes: () => list.reduce((n, r) => n + r.bytesReceived, 0),
    reset: () => {
      for (const r of list) r.reset();
    },
  };
}

/** A request head of lines joined with CRLF and ended by an empty line. */
export function head(...lines: string[]): string {
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** What a case expects: a refusal without any byte reaching an upstream, or an upstream receiving a target. */
export type Outcome = { readonly status: number } | { readonly backend: EdgeBackend; readonly received: string };

/** A readable form of an outcome for test names and messages. */
export function outcomeName(o: Outcome): string {
  return 'status' in o ? `${o.status}` : `${o.backend} receives ${JSON.stringify(o.received)}`;
}

/** Lets a late forward show up before the recorders are read. */
export const SETTLE_MS = 150;

/**
 * Asserts an outcome: a refusal with that status and nothing at any upstream; or a 200 from the
 * expected upstream, which received exactly one request with the expected target, and which is the
 * upstream the model's matcher selects for the path it received (on `host`).
 */
export async function assertOutcome(site: EdgeSite, host: string, got: ReadResult, expected: Outcome): Promise<RecordedRequest | undefined> {
  await sleep(SETTLE_MS);
  const seen = site.all().map((r) => `${r.backend} ${JSON.stringify(r.target)}`);
  if ('status' in expected) {
    assert.ok(isResponse(got), `expected ${expected.status}, got ${describe(got)}; upstreams saw ${JSON.stringify(seen)}`);
    assert.equal(got.status, expected.status, `expected ${expected.status}, got ${describe(got)}; upstreams saw ${JSON.stringify(seen)}`);
    assert.equal(site.bytes(), 0, `a refused request must not reach any upstream; they saw ${JSON.stringify(seen)}`);
    return undefined;
  }
  assert.ok(isResponse(got) && got.status === 200, `expected 200 from ${expected.backend}, got ${describe(got)}; upstreams saw ${JSON.stringify(seen)}`);
  const all = site.all();
  assert.equal(all.length, 1, `exactly one request reaches an upstream; they saw ${JSON.stringify(seen)}`);
  const rec = all[0]!;
  assert.equal(got.body.toString('latin1'), rec.backend, 'the answer comes from the upstream that recorded the request');
  assert.equal(rec.target, expected.received, `the target ${expected.backend} receives`);
  assert.equal(rec.backend, expected.backend, `the upstream that answers (it received ${JSON.stringify(rec.target)})`);
  const resolution = resolveRequest(site.model, host, requestPath(rec.target));
  const selected = resolution.outcome === 'not-found' ? 'none' : (resolution.backend?.service ?? 'none');
  assert.equal(rec.backend, selected, `the path the upstream received (${rec.target}) selects ${selected} in the model`);
  assert.deepEqual(rec.problems, [], 'the forwarded request is well-formed');
  return rec;
}
