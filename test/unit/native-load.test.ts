import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EWMA_DECAY_MS, ewmaCost, ewmaScore, isUsable, pickEwma, pickLeastConn, recordLatency } from '../../src/drivers/native/load.ts';
import type { PeerLoad } from '../../src/drivers/native/load.ts';
import { pickEndpoint } from '../../src/drivers/native/balance.ts';
import type { CompiledBackend } from '../../src/drivers/native/balance.ts';
import type { Upstream } from '../../src/drivers/native/upstream.ts';

const peer = (over: Partial<PeerLoad> = {}): PeerLoad => ({ downUntil: 0, inflight: 0, ewma: 0, ewmaAt: 0, ...over });
/** A random source that yields the given values in turn. */
const seq = (...values: number[]): (() => number) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

test('recordLatency: a higher latency replaces the average at once (peak); a lower one is averaged in by the time since the last sample', () => {
  const p = peer();
  recordLatency(p, 100, 1000);
  assert.equal(p.ewma, 100);
  assert.equal(p.ewmaAt, 1000);
  recordLatency(p, 300, 1001);
  assert.equal(p.ewma, 300, 'peak');
  // One decay time later, a 0 ms answer weighs 1 - 1/e.
  recordLatency(p, 0, 1001 + EWMA_DECAY_MS);
  assert.ok(Math.abs(p.ewma - 300 / Math.E) < 1e-9, String(p.ewma));
  // Right after, a fast answer barely moves it.
  const before = p.ewma;
  recordLatency(p, 0, 1002 + EWMA_DECAY_MS);
  assert.ok(p.ewma < before && p.ewma > before * 0.999);
});

test('ewmaCost decays toward 0 while no answer comes (an idle slow endpoint is tried again in time)', () => {
  const p = peer({ ewma: 200, ewmaAt: 0 });
  assert.equal(ewmaCost(p, 0), 200);
  assert.ok(Math.abs(ewmaCost(p, EWMA_DECAY_MS) - 200 / Math.E) < 1e-9);
  assert.ok(ewmaCost(p, 10 * EWMA_DECAY_MS) < 0.01);
  assert.equal(ewmaCost(peer(), 5000), 0);
});

test('ewmaScore: latency × (in flight + 1) / weight; an endpoint that never answered costs 0 idle, a penalty when busy', () => {
  assert.equal(ewmaScore(peer({ ewma: 10, ewmaAt: 0 }), 1, 0), 10);
  assert.equal(ewmaScore(peer({ ewma: 10, ewmaAt: 0, inflight: 2 }), 1, 0), 30);
  assert.equal(ewmaScore(peer({ ewma: 10, ewmaAt: 0, inflight: 2 }), 2, 0), 15);
  assert.equal(ewmaScore(peer(), 1, 0), 0);
  assert.ok(ewmaScore(peer({ inflight: 1 }), 1, 0) > ewmaScore(peer({ ewma: 5000, ewmaAt: 0, inflight: 3 }), 1, 0), 'unseeded and busy: above any measured latency');
  assert.ok(ewmaScore(peer({ inflight: 2 }), 1, 0) > ewmaScore(peer({ inflight: 1 }), 1, 0));
});

test('isUsable: weight above 0, not down; an expired down mark is cleared', () => {
  assert.equal(isUsable(peer(), 1, 100), true);
  assert.equal(isUsable(peer(), 0, 100), false);
  assert.equal(isUsable(peer({ downUntil: 200 }), 1, 100), false);
  const p = peer({ downUntil: 50 });
  assert.equal(isUsable(p, 1, 100), true);
  assert.equal(p.downUntil, 0);
});

test('pickLeastConn: fewest in flight for the weight; ties rotate; down and weight-0 endpoints are skipped', () => {
  const peers = [peer({ inflight: 2 }), peer({ inflight: 1 }), peer({ inflight: 3 })];
  assert.equal(pickLeastConn(peers, [1, 1, 1], 0, 0), 1);
  // 2/4 beats 1/1.
  assert.equal(pickLeastConn(peers, [4, 1, 1], 0, 0), 0);
  const idle = [peer(), peer({ inflight: 1 }), peer(), peer()];
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((r) => pickLeastConn(idle, [1, 1, 1, 1], r, 0)),
    [0, 2, 3, 0, 2, 3],
    'round robin among the idle ones',
  );
  assert.equal(pickLeastConn([peer({ downUntil: 500 }), peer({ inflight: 9 })], [1, 1], 0, 100), 1, 'a down endpoint is skipped');
  assert.equal(pickLeastConn([peer(), peer({ inflight: 9 })], [0, 1], 0, 100), 1, 'weight 0 is never picked');
  assert.equal(pickLeastConn([peer({ downUntil: 500 })], [1], 0, 100), -1, 'none usable');
  assert.equal(pickLeastConn([], [], 0, 0), -1);
});

test('pickEwma: the better of two random endpoints; the one usable endpoint; -1 when none', () => {
  const fast = peer({ ewma: 5, ewmaAt: 0 });
  const slow = peer({ ewma: 200, ewmaAt: 0 });
  const busyFast = peer({ ewma: 5, ewmaAt: 0, inflight: 100 });
  // Two endpoints: both are drawn whatever the random source says.
  for (const r of [0, 0.3, 0.7, 0.99]) assert.equal(pickEwma([slow, fast], [1, 1], seq(r), 0, 0), 1);
  // Load counts: 5 × 101 > 200 × 1.
  assert.equal(pickEwma([slow, busyFast], [1, 1], Math.random, 0, 0), 0);
  // Three endpoints: the draw decides which two compete. a = floor(r1 × 3), b = floor(r2 × 2), shifted past a.
  const three = [slow, peer({ ewma: 100, ewmaAt: 0 }), fast];
  assert.equal(pickEwma(three, [1, 1, 1], seq(0, 0), 0, 0), 1, 'slow (0) against the middle one (1)');
  assert.equal(pickEwma(three, [1, 1, 1], seq(0, 0.9), 0, 0), 2, 'slow (0) against fast (2)');
  assert.equal(pickEwma(three, [1, 1, 1], seq(0.99, 0.99), 0, 0), 2, 'fast (2) against the middle one (1)');
  assert.equal(pickEwma([slow, fast], [1, 1], Math.random, 0, 0), 1);
  assert.equal(pickEwma([slow, peer({ downUntil: 1000 })], [1, 1], Math.random, 0, 10), 0, 'the only usable one');
  assert.equal(pickEwma([peer({ downUntil: 1000 })], [1], Math.random, 0, 10), -1);
  // An idle endpoint that never answered is tried; while busy it is not flooded.
  assert.equal(pickEwma([fast, peer()], [1, 1], Math.random, 0, 0), 1);
  assert.equal(pickEwma([fast, peer({ inflight: 1 })], [1, 1], Math.random, 0, 0), 0);
});

test('pickEwma: over many requests of a simulated slow and fast endpoint, the fast one takes nearly all', () => {
  const peers = [peer(), peer()];
  const latency = [150, 2];
  const picks = [0, 0];
  let now = 0;
  for (let i = 0; i < 200; i++) {
    const j = pickEwma(peers, [1, 1], Math.random, now, 0);
    picks[j]!++;
    now += latency[j]!;
    recordLatency(peers[j]!, latency[j]!, now);
  }
  assert.ok(picks[1]! >= 195, `fast ${picks[1]}, slow ${picks[0]}`);
});

/** A backend of plain load records, as the pickers see the upstreams. */
function backendOf(peers: PeerLoad[], weights: number[] = peers.map(() => 1)): CompiledBackend {
  return { id: 'b', upstreams: peers as unknown as Upstream[], cycle: Uint16Array.from(peers.map((_, i) => i)), cursor: 0, weights, rotation: 0, unavailable: '' };
}

test('pickEndpoint: round robin by default, least_conn and ewma by the route', () => {
  const b = backendOf([peer({ inflight: 5 }), peer()]);
  assert.deepEqual([pickEndpoint(b, undefined), pickEndpoint(b, undefined), pickEndpoint(b, 'round_robin')], [0, 1, 0], 'round robin ignores load');
  assert.deepEqual([pickEndpoint(b, 'least_conn'), pickEndpoint(b, 'least_conn')], [1, 1]);
  const e = backendOf([peer({ ewma: 100, ewmaAt: performance.now() }), peer({ ewma: 1, ewmaAt: performance.now() })]);
  assert.equal(pickEndpoint(e, 'ewma'), 1);
  // Nothing usable: round robin's pick (which returns an endpoint anyway).
  const down = backendOf([peer({ downUntil: Date.now() + 60_000 }), peer({ downUntil: Date.now() + 60_000 })]);
  assert.ok([0, 1].includes(pickEndpoint(down, 'least_conn')));
  assert.ok([0, 1].includes(pickEndpoint(down, 'ewma')));
});
