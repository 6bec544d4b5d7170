import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LimitTable } from '../../src/drivers/native/limit-table.ts';

test('LimitTable: token buckets per key, refilled by time, a view of the same buffer sees the same counts', () => {
  const a = new LimitTable(64);
  const b = new LimitTable(a.buffer);
  const takes = (t: LimitTable, key: string, n: number, now: number): number => Array.from({ length: n }, () => t.take(key, 2, 4, now)).filter(Boolean).length;
  assert.equal(takes(a, 'r|1.2.3.4', 3, 0), 3);
  assert.equal(takes(b, 'r|1.2.3.4', 3, 0), 1, 'the other view shares the bucket: 4 in all');
  assert.equal(takes(a, 'r|5.6.7.8', 5, 0), 4, 'another key has its own bucket');
  assert.equal(takes(b, 'r|1.2.3.4', 3, 1000), 2, '2 per second refilled');
  assert.equal(takes(a, 'r|1.2.3.4', 9, 10_000), 4, 'never more than the burst');
});

test('LimitTable: requests in progress per key, at most max; release frees one; a view of the same buffer counts with it', () => {
  const a = new LimitTable(64);
  const b = new LimitTable(a.buffer);
  assert.deepEqual([a.acquire('c|x', 2), b.acquire('c|x', 2), a.acquire('c|x', 2)], [true, true, false]);
  b.release('c|x');
  assert.equal(a.acquire('c|x', 2), true);
  assert.equal(a.acquire('c|y', 2), true, 'another key counts apart');
});

test('LimitTable: more keys than slots reuse slots instead of failing; a reused slot starts full', () => {
  const t = new LimitTable(8);
  for (let i = 0; i < 100; i++) assert.equal(t.take(`k${i}`, 1, 1, 0), true, `key ${i}`);
  assert.throws(() => new LimitTable(12), /power of two/);
});
