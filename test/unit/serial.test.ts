import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialQueue } from '../../src/shared/serial.ts';

/** A promise and its resolve, to hold a task open until the test lets it go. */
function gate(): { readonly promise: Promise<void>; readonly open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

test('tasks run one at a time, in the order they were queued', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  const first = gate();
  let running = 0;
  let most = 0;
  const task = (name: string, wait?: Promise<void>) => async (): Promise<string> => {
    running++;
    most = Math.max(most, running);
    log.push(`start ${name}`);
    await wait;
    log.push(`end ${name}`);
    running--;
    return name;
  };
  const a = q.run(task('a', first.promise));
  const b = q.run(task('b'));
  const c = q.run(() => {
    log.push('sync c');
    return 'c';
  });
  assert.equal(q.pending, 3);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['start a'], 'b waits for a');
  first.open();
  assert.deepEqual(await Promise.all([a, b, c]), ['a', 'b', 'c']);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'sync c']);
  assert.equal(most, 1);
  assert.equal(q.pending, 0);
});

test('a throwing task rejects only its own promise; the next task still runs', async () => {
  const q = new SerialQueue();
  const thrown = q.run(() => {
    throw new Error('sync boom');
  });
  const rejected = q.run(() => Promise.reject(new Error('async boom')));
  const next = q.run(() => 42);
  // Both handlers are attached before either task runs: no rejection goes unhandled, even briefly.
  const checks = [assert.rejects(thrown, /sync boom/), assert.rejects(rejected, /async boom/)];
  assert.equal(await next, 42);
  await Promise.all(checks);
  assert.equal(await q.run(async () => 'still serving'), 'still serving');
  assert.equal(q.pending, 0);
});

test('idle resolves after every queued task, and never rejects', async () => {
  const q = new SerialQueue();
  await q.idle(); // an empty queue is idle at once
  const done: string[] = [];
  const failing = q.run(async () => {
    await new Promise((r) => setTimeout(r, 5));
    done.push('failing');
    throw new Error('boom');
  });
  failing.catch(() => undefined); // the caller's business, not the queue's
  void q.run(() => {
    done.push('after');
  });
  await q.idle();
  assert.deepEqual(done, ['failing', 'after']);
  assert.equal(q.pending, 0);
});

test('idle also waits for tasks queued while it waits', async () => {
  const q = new SerialQueue();
  const done: string[] = [];
  const first = gate();
  void q.run(async () => {
    await first.promise;
    done.push('first');
    // Queued by a running task, after idle() was called: idle waits for it too.
    void q.run(() => {
      done.push('queued later');
    });
  });
  const idle = q.idle();
  first.open();
  await idle;
  assert.deepEqual(done, ['first', 'queued later']);
});
