/*
 * The state of per-client limits (token buckets, requests in progress) in one table that the
 * native proxy's worker threads share (a SharedArrayBuffer): with `[proxy] workers = N`, a limit
 * holds for the process, not N times over. Fixed size, open addressing over a few slots per key,
 * each slot guarded by a spin lock held for a handful of reads and writes.
 */

/** Slots per table: clients beyond it (per probe window) take the place of an older one. */
export const LIMIT_SLOTS = 1 << 15;
const PROBES = 8;
// Per slot: Int32 lock, key hash, in-progress count, unused; Float64 tokens, last refill time.
const INTS = 4;
const FLOATS = 2;

/** A clock all threads share (performance.now() starts at each thread's own origin). */
export const sharedClock = (): number => performance.timeOrigin + performance.now();

/** FNV-1a of a key, never 0 (0 marks a free slot). */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 1;
}

/** Limit counters, in a buffer worker threads can share. */
export class LimitTable {
  readonly buffer: SharedArrayBuffer;
  readonly #ints: Int32Array;
  readonly #floats: Float64Array;
  readonly #mask: number;

  /** A new table (`slots`: a power of two), or a view of one another thread created. */
  constructor(from: SharedArrayBuffer | number = LIMIT_SLOTS) {
    const slots = typeof from === 'number' ? from : from.byteLength / (INTS * 4 + FLOATS * 8);
    if (!Number.isInteger(slots) || slots < PROBES || (slots & (slots - 1)) !== 0) throw new RangeError(`a limit table needs a power of two of at least ${PROBES} slots`);
    this.buffer = typeof from === 'number' ? new SharedArrayBuffer(slots * (INTS * 4 + FLOATS * 8)) : from;
    this.#floats = new Float64Array(this.buffer, 0, slots * FLOATS);
    this.#ints = new Int32Array(this.buffer, slots * FLOATS * 8, slots * INTS);
    this.#mask = slots - 1;
  }

  /**
   * Runs `fn` on the slot of `key` with its lock held: the key's own slot, else a free one, else
   * (every slot of the window taken) the first of the window, reset. `fresh` is true for a reset slot.
   */
  #with<T>(key: string, fn: (slot: number, fresh: boolean) => T): T {
    const h = hashOf(key);
    const start = h & this.#mask;
    for (let i = 0; i <= PROBES; i++) {
      const slot = i === PROBES ? start : (start + i) & this.#mask;
      const base = slot * INTS;
      while (Atomics.compareExchange(this.#ints, base, 0, 1) !== 0);
      try {
        const owner = Atomics.load(this.#ints, base + 1);
        if (owner === h) return fn(slot, false);
        if (owner === 0 || i === PROBES) {
          Atomics.store(this.#ints, base + 1, h);
          Atomics.store(this.#ints, base + 2, 0);
          return fn(slot, true);
        }
      } finally {
        Atomics.store(this.#ints, base, 0);
      }
    }
    throw new Error('unreachable');
  }

  /** Takes one token of `key`'s bucket (`rps` per second, `burst` at most); false when none is left. */
  take(key: string, rps: number, burst: number, now: number): boolean {
    return this.#with(key, (slot, fresh) => {
      const f = slot * FLOATS;
      const tokens = fresh ? burst : Math.min(burst, (this.#floats[f] ?? 0) + (Math.max(0, now - (this.#floats[f + 1] ?? now)) / 1000) * rps);
      this.#floats[f + 1] = now;
      if (tokens < 1) {
        this.#floats[f] = tokens;
        return false;
      }
      this.#floats[f] = tokens - 1;
      return true;
    });
  }

  /** Counts one more request of `key` in progress; false (nothing counted) when it already has `max`. */
  acquire(key: string, max: number): boolean {
    return this.#with(key, (slot) => {
      const i = slot * INTS + 2;
      const n = Atomics.load(this.#ints, i);
      if (n >= max) return false;
      Atomics.store(this.#ints, i, n + 1);
      return true;
    });
  }

  /** Counts one request of `key` out (a slot another key took since counts nothing). */
  release(key: string): void {
    this.#with(key, (slot, fresh) => {
      const i = slot * INTS + 2;
      if (!fresh) Atomics.store(this.#ints, i, Math.max(0, Atomics.load(this.#ints, i) - 1));
    });
  }
}
