/**
 * Issue 9, request smuggling: ambiguous framing (Content-Length with Transfer-Encoding, repeated or
 * differing Content-Length, obfuscated Transfer-Encoding, malformed chunk sizes). Each body hides a
 * second request for `/smuggled`, laid out so that any reading but the right one exposes it; the
 * proxy must refuse the request or give it exactly one meaning, and `/smuggled` must never reach an
 * upstream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeSite, head } from './edge.ts';
import type { RawResponse, ReadResult } from './raw.ts';
import { describe, isResponse, printable, RawConnection, sleep } from './raw.ts';

/** The hidden request. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: edge.test\r\n\r\n';
const HEX = SMUGGLED.length.toString(16);
const START = ['POST /public/s HTTP/1.1', 'Host: edge.test'];

/**
 * TE.CL layout: a chunk holds the hidden request, and Content-Length covers only the chunk-size line;
 * a proxy that frames by Content-Length sees the hidden request next on the connection.
 */
function teCl(te: readonly string[]): string {
  return head(...START, ...te, `Content-Length: ${HEX.length + 2}`) + `${HEX}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
}

/**
 * CL.TE layout: Content-Length covers everything, the chunked body ends early; a proxy that frames
 * by chunks sees the hidden request next (unless it closes the connection, RFC 9112 §6.1).
 */
function clTe(te: readonly string[]): string {
  const body = `0\r\n\r\n${SMUGGLED}`;
  return head(...START, ...te, `Content-Length: ${body.length}`) + body;
}

/** A chunked body only, with a broken chunk-size line or chunk. */
function chunked(body: string, te: readonly string[] = ['Transfer-Encoding: chunked']): string {
  return head(...START, ...te) + body;
}

/** Transfer-Encoding header lines, plain or obfuscated. */
const transferEncodings: readonly { readonly name: string; readonly lines: readonly string[] }[] = [
  { name: 'plain chunked', lines: ['Transfer-Encoding: chunked'] },
  { name: 'xchunked', lines: ['Transfer-Encoding: xchunked'] },
  { name: 'chunked, identity', lines: ['Transfer-Encoding: chunked, identity'] },
  { name: 'identity, chunked', lines: ['Transfer-Encoding: identity, chunked'] },
  { name: 'a tab before chunked', lines: ['Transfer-Encoding:\tchunked'] },
  { name: 'a space before the colon', lines: ['Transfer-Encoding : chunked'] },
  { name: 'a vertical tab before chunked', lines: ['Transfer-Encoding: \x0bchunked'] },
  { name: 'upper-case CHUNKED', lines: ['Transfer-Encoding: CHUNKED'] },
  { name: 'quoted "chunked"', lines: ['Transfer-Encoding: "chunked"'] },
  { name: 'chunked folded onto a continuation line', lines: ['Transfer-Encoding:', ' chunked'] },
  { name: 'two lines, chunked then identity', lines: ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity'] },
  { name: 'two lines, identity then chunked', lines: ['Transfer-Encoding: identity', 'Transfer-Encoding: chunked'] },
];

/** A smuggling attempt: the exact bytes sent. */
interface SmuggleCase {
  readonly name: string;
  readonly request: string;
  /**
   * The bytes after the body may be read as the client's next request (RFC 9112 §2.2 lets a
   * recipient accept a bare LF as a line end): then it must be answered on its own, so that every
   * request an upstream receives is one the client got an answer for.
   */
  readonly mayBePipelined?: boolean;
}

const smuggleCases: readonly SmuggleCase[] = [
  ...transferEncodings.map((te) => ({ name: `Content-Length with Transfer-Encoding ${te.name}, TE.CL layout`, request: teCl(te.lines) })),
  ...transferEncodings.map((te) => ({ name: `Content-Length with Transfer-Encoding ${te.name}, CL.TE layout`, request: clTe(te.lines) })),
  {
    name: 'two equal Content-Length lines',
    request: head(...START, `Content-Length: ${SMUGGLED.length}`, `Content-Length: ${SMUGGLED.length}`) + SMUGGLED,
  },
  { name: 'a Content-Length list of equal values', request: head(...START, `Content-Length: ${SMUGGLED.length}, ${SMUGGLED.length}`) + SMUGGLED },
  { name: 'differing Content-Length lines, 0 first', request: head(...START, 'Content-Length: 0', `Content-Length: ${SMUGGLED.length}`) + SMUGGLED },
  { name: 'differing Content-Length lines, 0 last', request: head(...START, `Content-Length: ${SMUGGLED.length}`, 'Content-Length: 0') + SMUGGLED },
  { name: 'a Content-Length list of differing values', request: head(...START, `Content-Length: 0, ${SMUGGLED.length}`) + SMUGGLED },
  { name: 'a signed Content-Length (+N)', request: head(...START, `Content-Length: +${SMUGGLED.length}`) + SMUGGLED },
  { name: 'a chunk size with a 0x prefix', request: chunked(`0x${HEX}\r\n\r\n${SMUGGLED}`) },
  { name: 'a negative chunk size', request: chunked(`-1\r\n${SMUGGLED}\r\n0\r\n\r\n`) },
  { name: 'a chunk size beyond 64 bits', request: chunked(`FFFFFFFFFFFFFFFFFF\r\n${SMUGGLED}\r\n0\r\n\r\n`) },
  { name: 'a chunk size that wraps to 0 in 64 bits', request: chunked(`10000000000000000\r\n\r\n${SMUGGLED}`) },
  { name: 'a chunk size with spaces around an extension', request: chunked(`${HEX} ; ext\r\n${SMUGGLED}\r\n0\r\n\r\n`) },
  { name: 'a non-hex chunk size', request: chunked(`zz\r\n\r\n${SMUGGLED}`) },
  { name: 'chunk data not followed by CRLF', request: chunked(`5\r\nhello0\r\n\r\n${SMUGGLED}`) },
  { name: 'a chunk-size line ended by a bare LF', request: chunked(`${HEX}\n${SMUGGLED}\r\n0\r\n\r\n`) },
  { name: 'a last chunk ended by bare LFs', request: chunked(`5\r\nhello\r\n0\n\n${SMUGGLED}`), mayBePipelined: true },
];

const FOLLOW_UP = 'GET /public/follow HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n';

test('request smuggling: a hidden second request never reaches an upstream', async (t) => {
  const site = await edgeSite(t);
  for (const c of smuggleCases) {
    await t.test(`${c.name}: ${printable(c.request.slice(c.request.indexOf('\r\n') + 2, c.request.indexOf('\r\n\r\n')))}`, async (st) => {
      site.reset();
      const conn = await RawConnection.open(st, site.port);
      await conn.write(c.request);
      const answers = await conn.readAll(400, 4000);
      let followUp: ReadResult | undefined;
      if (!conn.closed) {
        await conn.write(FOLLOW_UP);
        followUp = await conn.readResponse(2500);
      }
      await sleep(300);
      conn.close();
      const seen = site.all();
      const observed =
        `answers ${JSON.stringify(answers.map((a) => describe(a)))}, ` +
        `follow-up ${followUp === undefined ? 'not sent (closed)' : describe(followUp)}, ` +
        `upstreams saw ${JSON.stringify(seen.map((r) => `${r.backend} ${r.method} ${r.target} body=${printable(r.body.toString('latin1'))} ${r.problems.join('; ')}`))}`;
      st.diagnostic(observed);
      const pipelined = c.mayBePipelined === true && answers.length === 2 && answers.every((a) => a.status === 200);
      if (pipelined) {
        // Read as two requests, each answered: the second was the client's own next request, not a hidden one.
        assert.deepEqual(seen.map((r) => r.target).filter((p) => p !== '/public/follow').sort(), ['/public/s', '/smuggled'], `each answer is one upstream request: ${observed}`);
      } else {
        assert.equal(
          seen.filter((r) => r.target.includes('/smuggled')).length,
          0,
          `the hidden request reached an upstream: ${observed}`,
        );
      }
      assert.deepEqual(
        seen.flatMap((r) => r.problems),
        [],
        `what the proxy forwards has one framing: ${observed}`,
      );
      const first: RawResponse | undefined = answers[0];
      if (first === undefined) {
        assert.ok(conn.closed || followUp === undefined || !isResponse(followUp) || followUp.status >= 400, `no answer and the connection stays usable: ${observed}`);
      } else if (pipelined) {
        assert.equal(seen.filter((r) => r.complete && r.target !== '/public/follow').length, 2, observed);
      } else if (first.status < 400) {
        assert.equal(first.status, 200, observed);
        assert.equal(answers.filter((a) => a.status < 400).length, 1, `a single normal answer: ${observed}`);
        const served = seen.filter((r) => r.target === '/public/s');
        assert.equal(served.length, 1, `one request reached an upstream: ${observed}`);
      } else {
        assert.ok(first.status < 600, observed);
        assert.equal(
          seen.filter((r) => r.target === '/public/s' && r.complete).length,
          0,
          `a refused request never reaches an upstream whole: ${observed}`,
        );
      }
    });
  }
});
