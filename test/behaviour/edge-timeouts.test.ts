/**
 * Issue 9, slow clients: the entry point's client timeouts (request head, idle keep-alive, body
 * pause) are enforced, and slow clients do not keep others from being served. Short timeouts keep
 * the test under ~15 s; the cases run concurrently, each on its own paths.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientTimeouts } from '../../src/model/types.ts';
import type { EdgeSite } from './edge.ts';
import { edgeSite, head, SETTLE_MS } from './edge.ts';
import { capabilities } from './modes.ts';
import { describe, exchange, isResponse, RawConnection, sleep } from './raw.ts';

const TIMEOUTS: ClientTimeouts = { requestHeader: 2000, idle: 2000, body: 2000 };
/** How late a timeout may fire (timer granularity, Node's 500 ms connection check, load). */
const SLACK_MS = 1500;
/** How early it may fire. */
const EARLY_MS = 300;
const SLOW_CLIENTS = 20;
const DRIP_MS = 300;

/** Writes `text` one byte every `everyMs` until the connection closes or the text runs out. */
function drip(t: TestContext, conn: RawConnection, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (conn.closed || i >= text.length) {
      clearInterval(timer);
      return;
    }
    void conn.write(text.charAt(i++));
  }, everyMs);
  t.after(() => clearInterval(timer));
}

/** Asserts that an event came `elapsed` ms after its start, within [limit - EARLY, limit + SLACK]. */
function assertWithin(elapsed: number, limit: number, what: string): void {
  assert.ok(elapsed <= limit + SLACK_MS, `${what} after ${Math.round(elapsed)} ms: later than ${limit} + ${SLACK_MS} ms`);
  assert.ok(elapsed >= limit - EARLY_MS, `${what} after ${Math.round(elapsed)} ms: earlier than the ${limit} ms timeout`);
}

/** A request whose body stalls: it must get 408 or a close within the body timeout, and never reach an upstream whole. */
async function stalledBody(t: TestContext, site: EdgeSite, path: string, framing: string, start: string): Promise<void> {
  const conn = await RawConnection.open(t, site.port);
  await conn.write(head(`POST ${path} HTTP/1.1`, 'Host: edge.test', framing) + start);
  const stalledAt = performance.now();
  const got = await conn.readResponse(TIMEOUTS.body + SLACK_MS + 1000);
  const at = isResponse(got) ? performance.now() : (conn.closedAt ?? performance.now());
  assert.ok(got !== 'timeout', `no 408 and no close ${Math.round(at - stalledAt)} ms after the body stalled`);
  if (isResponse(got)) assert.equal(got.status, 408, `the answer to a stalled body: ${describe(got)}`);
  assertWithin(at - stalledAt, TIMEOUTS.body, `the stalled body was ${isResponse(got) ? 'answered' : 'closed'}`);
  await sleep(SETTLE_MS);
  const mine = site.all().filter((r) => r.target === path);
  assert.deepEqual(
    mine.filter((r) => r.complete).map((r) => r.target),
    [],
    'an upstream never receives the stalled request whole',
  );
}

test('slow clients: client timeouts of the entry point', { concurrency: true }, async (t) => {
  const site = await edgeSite(t, { entryPoint: { timeouts: TIMEOUTS } });

  await Promise.all([
    t.test(
      `${SLOW_CLIENTS} clients sending a header byte every ${DRIP_MS} ms get ${capabilities.answersHeaderTimeout ? '408' : 'closed'} within the request-header timeout; others are served meanwhile`,
      async (st) => {
        const slow = await Promise.all(Array.from({ length: SLOW_CLIENTS }, () => RawConnection.open(st, site.port)));
        for (const conn of slow) drip(st, conn, `GET /public/slow HTTP/1.1\r\nHost: edge.test\r\nX-Pad: ${'p'.repeat(200)}\r\n\r\n`, DRIP_MS);
        const started = performance.now();
        const served: string[] = [];
        while (performance.now() - started < TIMEOUTS.requestHeader + 200) {
          const r = await exchange(st, site.port, head('GET /public/meanwhile HTTP/1.1', 'Host: edge.test', 'Connection: close'), { readTimeoutMs: 2000 });
          served.push(describe(r));
          await sleep(300);
        }
        assert.ok(served.length >= 4, `requests sent meanwhile: ${served.length}`);
        assert.deepEqual(served.filter((d) => !d.startsWith('200 ')), [], 'every request on a new connection is served while the slow clients drip');
        await Promise.all(slow.map((c) => c.waitClosed(TIMEOUTS.requestHeader + SLACK_MS + 1000 - (performance.now() - c.openedAt))));
        for (const [i, conn] of slow.entries()) {
          assert.ok(conn.closed, `slow client ${i} still open ${Math.round(performance.now() - conn.openedAt)} ms after it connected`);
          assertWithin((conn.closedAt ?? 0) - conn.openedAt, TIMEOUTS.requestHeader, `slow client ${i} was closed`);
          const answer = await conn.readResponse(0);
          if (capabilities.answersHeaderTimeout) {
            assert.ok(isResponse(answer) && answer.status === 408, `slow client ${i} gets a 408 before the close: ${describe(answer)} (${conn.received.length} bytes)`);
          } else {
            assert.equal(conn.received.length, 0, `slow client ${i} is closed without an answer (declared): ${describe(answer)}`);
          }
        }
        await sleep(SETTLE_MS);
        assert.deepEqual(
          site.all().filter((r) => r.target === '/public/slow').map((r) => r.target),
          [],
          'an incomplete head never reaches an upstream',
        );
      },
    ),
    t.test('a keep-alive connection idle after one request is closed within the idle timeout', async (st) => {
      const conn = await RawConnection.open(st, site.port);
      await conn.write(head('GET /public/idle HTTP/1.1', 'Host: edge.test'));
      const first = await conn.readResponse(5000);
      assert.ok(isResponse(first) && first.status === 200, `the request is served: ${describe(first)}`);
      const idleFrom = performance.now();
      const closed = await conn.waitClosed(TIMEOUTS.idle + SLACK_MS + 1000);
      assert.ok(closed, `the idle connection is still open ${Math.round(performance.now() - idleFrom)} ms after its answer`);
      assertWithin((conn.closedAt ?? 0) - idleFrom, TIMEOUTS.idle, 'the idle connection was closed');
      const extra = await conn.readResponse(0);
      assert.ok(extra === 'closed' || (isResponse(extra) && extra.status === 408), `nothing but a 408 before an idle close: ${describe(extra)}`);
    }),
    t.test('a Content-Length body that stalls gets 408 or a close within the body timeout', (st) =>
      stalledBody(st, site, '/public/stall-length', 'Content-Length: 100', 'hello'),
    ),
    t.test('a chunked body that stalls gets 408 or a close within the body timeout', (st) =>
      stalledBody(st, site, '/public/stall-chunked', 'Transfer-Encoding: chunked', '5\r\nhello\r\n'),
    ),
  ]);
});
