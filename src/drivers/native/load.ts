/*
 * The load-aware pickers of `upstream.loadBalance` (ingress-nginx's load-balance), on what the
 * proxy knows of each endpoint: requests in flight, and the peak EWMA of its response latency.
 *
 * - `least_conn`: the endpoint with the fewest requests in flight for its weight (nginx's
 *   least_conn); ties go round robin.
 * - `ewma`: two endpoints drawn at random, the one with the lower cost wins, the cost being the
 *   peak EWMA of latency (a slower answer raises it at once, faster ones lower it over a decay time
 *   of 10 s, as ingress-nginx's balancer) times the requests in flight plus one, over the weight. An
 *   endpoint that never answered costs nothing while idle, and a penalty while busy, so a new
 *   endpoint is tried without being flooded.
 *
 * Pure functions: the driver passes its endpoints, the time and the random source.
 */

/** What the pickers read (and `recordLatency` writes) of one endpoint. */
export interface PeerLoad {
  /** Epoch ms until which the endpoint is avoided; 0 when healthy. */
  downUntil: number;
  /** Requests in flight. */
  inflight: number;
  /** Peak EWMA of latency in ms as of `ewmaAt`; 0 before the first answer. */
  ewma: number;
  /** When `ewma` was last updated (`performance.now()` ms). */
  ewmaAt: number;
}

/** The decay time of the EWMA (ingress-nginx's DECAY_TIME, Finagle's default). */
export const EWMA_DECAY_MS = 10_000;

/** The cost of a busy endpoint that never answered: above any latency, rising with its load. */
const UNSEEDED_PENALTY_MS = 1e7;

/** Records the latency of one answer: a higher one replaces the average, a lower one is averaged in by elapsed time. */
export function recordLatency(p: PeerLoad, ms: number, now: number): void {
  const rtt = Math.max(0, ms);
  if (rtt > p.ewma) {
    p.ewma = rtt;
  } else {
    const w = Math.exp(-Math.max(0, now - p.ewmaAt) / EWMA_DECAY_MS);
    p.ewma = p.ewma * w + rtt * (1 - w);
  }
  p.ewmaAt = now;
}

/** The latency estimate now: the EWMA decayed toward 0 since its last sample (an idle slow endpoint is tried again in time). */
export function ewmaCost(p: PeerLoad, now: number): number {
  if (p.ewma === 0) return 0;
  return p.ewma * Math.exp(-Math.max(0, now - p.ewmaAt) / EWMA_DECAY_MS);
}

/** The EWMA picker's score of an endpoint (lower is better). */
export function ewmaScore(p: PeerLoad, weight: number, now: number): number {
  const cost = ewmaCost(p, now);
  if (cost === 0 && p.inflight > 0) return (UNSEEDED_PENALTY_MS + p.inflight) / weight;
  return (cost * (p.inflight + 1)) / weight;
}

/** Whether an endpoint may be picked: weight above 0 and not marked down (an expired mark is cleared). */
export function isUsable(p: PeerLoad, weight: number, wallNow: number): boolean {
  if (!(weight > 0)) return false;
  if (p.downUntil === 0) return true;
  if (p.downUntil <= wallNow) {
    p.downUntil = 0;
    return true;
  }
  return false;
}

/**
 * The least-loaded endpoint for its weight (in flight / weight); among equals, the `rotation`-th
 * (mod their number), so ties go round robin as `rotation` advances. -1 when none is usable.
 */
export function pickLeastConn(peers: readonly PeerLoad[], weights: readonly number[], rotation: number, wallNow: number): number {
  let best = -1;
  let ties = 0;
  for (let i = 0; i < peers.length; i++) {
    if (!isUsable(peers[i]!, weights[i]!, wallNow)) continue;
    if (best === -1) {
      best = i;
      ties = 1;
      continue;
    }
    // a/wa < b/wb without dividing.
    const lhs = peers[i]!.inflight * weights[best]!;
    const rhs = peers[best]!.inflight * weights[i]!;
    if (lhs < rhs) {
      best = i;
      ties = 1;
    } else if (lhs === rhs) {
      ties++;
    }
  }
  if (best === -1 || ties === 1) return best;
  let nth = rotation % ties;
  for (let i = best; i < peers.length; i++) {
    if (!isUsable(peers[i]!, weights[i]!, wallNow)) continue;
    if (peers[i]!.inflight * weights[best]! !== peers[best]!.inflight * weights[i]!) continue;
    if (nth-- === 0) return i;
  }
  return best;
}

/**
 * The better of two distinct usable endpoints drawn with `random` (in [0, 1)), by {@link ewmaScore};
 * the only usable one when there is one; -1 when none is.
 */
export function pickEwma(peers: readonly PeerLoad[], weights: readonly number[], random: () => number, now: number, wallNow: number): number {
  const usable: number[] = [];
  for (let i = 0; i < peers.length; i++) if (isUsable(peers[i]!, weights[i]!, wallNow)) usable.push(i);
  if (usable.length <= 1) return usable[0] ?? -1;
  const n = usable.length;
  const a = Math.min(n - 1, Math.floor(random() * n));
  let b = Math.min(n - 2, Math.floor(random() * (n - 1)));
  if (b >= a) b++;
  const i = usable[a]!;
  const j = usable[b]!;
  return ewmaScore(peers[j]!, weights[j]!, now) < ewmaScore(peers[i]!, weights[i]!, now) ? j : i;
}
