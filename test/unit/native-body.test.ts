import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { limitBody, watchSend } from '../../src/drivers/native/body.ts';
import { SEND_TIMEOUT, isTimeout } from '../../src/drivers/native/upstream.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A sink that takes chunks after `delayMs` each, collecting them. */
function sink(delayMs: number, into: Buffer[]): Writable {
  return new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, done) {
      into.push(chunk);
      setTimeout(done, delayMs);
    },
  });
}

test('watchSend: a body the reader keeps taking passes whole', async () => {
  const got: Buffer[] = [];
  const source = Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
  await pipeline(watchSend(source, 100), sink(0, got));
  assert.equal(Buffer.concat(got).toString(), 'abc');
});

test('watchSend: a client slow to send arms nothing (pauses longer than the timeout between its chunks)', async () => {
  const got: Buffer[] = [];
  const source = new PassThrough();
  const done = pipeline(watchSend(source, 100), sink(0, got));
  for (const part of ['one', 'two', 'three']) {
    source.write(part);
    await sleep(250);
  }
  source.end();
  await done;
  assert.equal(Buffer.concat(got).toString(), 'onetwothree');
});

test('watchSend: data the reader does not take for the timeout fails the body with the send timeout', async () => {
  const source = new PassThrough();
  const watched = watchSend(source, 200);
  // A reader that takes one chunk and then stalls: data piles up behind it.
  const got: Buffer[] = [];
  const started = performance.now();
  const done = pipeline(watched, sink(60_000, got)).catch((err: unknown) => err as Error);
  const big = Buffer.alloc(64 * 1024, 1);
  for (let i = 0; i < 8; i++) source.write(big);
  const err = await done;
  const elapsed = performance.now() - started;
  assert.ok(err instanceof Error, 'the pipeline failed');
  assert.equal((err as NodeJS.ErrnoException).code, SEND_TIMEOUT);
  assert.ok(isTimeout(err), 'answered as a timeout (504)');
  assert.ok(elapsed >= 180 && elapsed < 1500, `${Math.round(elapsed)} ms`);
  source.destroy();
});

test('watchSend: a tail the reader never takes fails too', async () => {
  const source = Readable.from([Buffer.from('tail')]);
  const watched = watchSend(source, 150);
  const err = await new Promise<Error>((resolve) => {
    watched.once('error', resolve);
    // One read starts the flow; nobody takes the data: it waits after the source has ended.
    watched.read(0);
  });
  assert.equal((err as NodeJS.ErrnoException).code, SEND_TIMEOUT);
});

test('limitBody: passes up to the limit, then fails and says so', async () => {
  let told = false;
  const ok: Buffer[] = [];
  await pipeline(limitBody(Readable.from([Buffer.alloc(5), Buffer.alloc(5)]), 10, () => (told = true)), sink(0, ok));
  assert.equal(Buffer.concat(ok).length, 10);
  assert.equal(told, false);
  const failed = await pipeline(limitBody(Readable.from([Buffer.alloc(6), Buffer.alloc(6)]), 10, () => (told = true)), sink(0, [])).catch((err: unknown) => err as Error);
  assert.ok(failed instanceof Error);
  assert.equal(told, true);
});
