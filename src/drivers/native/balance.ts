/*
 * Load balancing of the native driver: a backend's endpoints, its smooth weighted round-robin
 * cycle, and the pick of the next endpoint by the route's algorithm (round robin by default;
 * least_conn and ewma in load.ts).
 */
import type { UpstreamPolicy } from '../../model/policy.ts';
import type { Backend } from '../../model/types.ts';
import { unavailableCause } from '../../model/unavailable.ts';
import { pickEwma, pickLeastConn } from './load.ts';
import type { Upstream, UpstreamRegistry } from './upstream.ts';

/** A route's load-balancing algorithm (`upstream.loadBalance`); undefined is round robin. */
export type Balance = UpstreamPolicy['loadBalance'];

/** A backend ready to pick endpoints: upstreams plus a precomputed weighted round-robin cycle. */
export interface CompiledBackend {
  readonly id: string;
  readonly upstreams: readonly Upstream[];
  /** Indexes into `upstreams`, smooth-weighted; empty when the backend has no endpoints. */
  readonly cycle: Uint16Array;
  /** Next position in `cycle`; shared by every request on this router. */
  cursor: number;
  /** The endpoints' weights for the load-aware pickers (0: never picked; all 1 when every weight is 0). */
  readonly weights: readonly number[];
  /** Advances on each least_conn pick: its ties go round robin. */
  rotation: number;
  /** Why a request gets 503 when `cycle` is empty, for the answer and the log. */
  readonly unavailable: string;
}

/** Smooth weighted round-robin (nginx's), unrolled once into a cycle so picking is an index bump. */
export function weightedCycle(weights: readonly number[]): Uint16Array {
  const positive = weights.map((w) => (Number.isFinite(w) && w > 0 ? Math.floor(w) : 0));
  const total0 = positive.reduce((a, b) => a + b, 0);
  // All weights zero: spread evenly rather than refuse traffic.
  const ws = total0 === 0 ? weights.map(() => 1) : positive;
  const g = ws.reduce((a, b) => (b === 0 ? a : gcd(a, b)), 0) || 1;
  let scaled = ws.map((w) => w / g);
  let total = scaled.reduce((a, b) => a + b, 0);
  const maxLen = 4096;
  if (total > maxLen) {
    scaled = scaled.map((w) => (w === 0 ? 0 : Math.max(1, Math.round((w * maxLen) / total))));
    total = scaled.reduce((a, b) => a + b, 0);
  }
  const cycle = new Uint16Array(total);
  const current = scaled.map(() => 0);
  for (let n = 0; n < total; n++) {
    let best = -1;
    for (let i = 0; i < scaled.length; i++) {
      const w = scaled[i]!;
      if (w === 0) continue;
      current[i]! += w;
      if (best === -1 || current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    cycle[n] = best;
  }
  return cycle;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Compiles a model backend: its endpoints' upstreams (from the registry, shared across routers) and its cycle. */
export function compileBackend(backend: Backend, upstreams: UpstreamRegistry): CompiledBackend {
  // The cycle holds Uint16 indexes.
  const eps = backend.endpoints.slice(0, 65535);
  return {
    id: backend.id,
    upstreams: eps.map((e) => upstreams.get(e.address, e.port)),
    cycle: eps.length === 0 ? new Uint16Array(0) : weightedCycle(eps.map((e) => e.weight)),
    cursor: 0,
    weights: pickWeights(eps.map((e) => e.weight)),
    rotation: 0,
    unavailable: unavailableCause(backend),
  };
}

/** Weights as the load-aware pickers use them: as the cycle, all zero spreads evenly. */
function pickWeights(weights: readonly number[]): number[] {
  const positive = weights.map((w) => (Number.isFinite(w) && w > 0 ? w : 0));
  return positive.every((w) => w === 0) ? positive.map(() => 1) : positive;
}

/**
 * The endpoint for a request by the route's algorithm: weighted round robin, least_conn or ewma
 * (load.ts); endpoints marked down are skipped while others are up.
 */
export function pickEndpoint(backend: CompiledBackend, balance: Balance, random: () => number = Math.random): number {
  if (balance === 'least_conn') {
    const rotation = backend.rotation;
    backend.rotation = rotation >= 0x3fffffff ? 0 : rotation + 1;
    const i = pickLeastConn(backend.upstreams, backend.weights, rotation, Date.now());
    return i === -1 ? pickUpstream(backend) : i;
  }
  if (balance === 'ewma') {
    const i = pickEwma(backend.upstreams, backend.weights, random, performance.now(), Date.now());
    return i === -1 ? pickUpstream(backend) : i;
  }
  return pickUpstream(backend);
}

/** Next endpoint of a backend in weighted round-robin order, skipping ones marked down when others are up. */
export function pickUpstream(backend: CompiledBackend): number {
  const cycle = backend.cycle;
  const pos = backend.cursor;
  backend.cursor = pos + 1 >= cycle.length ? 0 : pos + 1;
  const index = cycle[pos]!;
  const ups = backend.upstreams;
  if (ups[index]!.downUntil === 0) return index;
  const now = Date.now();
  if (ups[index]!.downUntil <= now) {
    ups[index]!.downUntil = 0;
    return index;
  }
  for (let step = 1; step < ups.length; step++) {
    const j = (index + step) % ups.length;
    const d = ups[j]!.downUntil;
    if (d === 0 || d <= now) return j;
  }
  return index;
}

/**
 * The endpoint a session-affinity cookie names, when it is still in the backend and not marked down;
 * undefined: pick as usual (and set a new cookie).
 */
export function affinityUpstream(backend: CompiledBackend, id: string | undefined): number | undefined {
  if (id === undefined) return undefined;
  const ups = backend.upstreams;
  for (let i = 0; i < ups.length; i++) {
    const u = ups[i]!;
    if (u.affinityId === id) return u.downUntil === 0 || u.downUntil <= Date.now() ? i : undefined;
  }
  return undefined;
}
