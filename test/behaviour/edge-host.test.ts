/**
 * Issue 9, Host and Connection: missing, repeated and malformed Host headers, and Connection
 * headers that name the Host, the proxy's own headers or the message framing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capabilities } from './modes.ts';
import type { Outcome } from './edge.ts';
import { assertOutcome, edgeSite, head, outcomeName, SETTLE_MS } from './edge.ts';
import { describe, exchange, isResponse, printable, RawConnection, singleHeader, sleep } from './raw.ts';

const REFUSED = { status: 400 } as const;

/** A Host case: the request line, the header lines, what must happen and the host routing sees. */
interface HostCase {
  readonly name: string;
  readonly requestLine?: string;
  readonly lines: readonly string[];
  readonly expect: Outcome;
  /** The Host value routing uses (for the model's matcher); default `edge.test`. */
  readonly host?: string;
}

// edge.test: /public -> a; other hosts: the default backend dflt.
const hostCases: readonly HostCase[] = [
  { name: 'an HTTP/1.1 request without Host is refused', lines: [], expect: REFUSED },
  {
    name: capabilities.refusesRepeatedEqualHost ? 'two equal Host lines are refused' : 'two equal Host lines are folded into one (declared)',
    lines: ['Host: edge.test', 'Host: edge.test'],
    expect: capabilities.refusesRepeatedEqualHost ? REFUSED : { backend: 'a', received: '/public/h' },
  },
  { name: 'two different Host lines are refused', lines: ['Host: edge.test', 'Host: other.test'], expect: REFUSED },
  { name: 'a Host with a space is refused', lines: ['Host: a b'], expect: REFUSED },
  { name: 'a Host with a slash is refused', lines: ['Host: a/b'], expect: REFUSED },
  { name: 'a Host with userinfo is refused', lines: ['Host: a@b'], expect: REFUSED },
  { name: 'an empty Host is refused', lines: ['Host:'], expect: REFUSED },
  { name: 'a Host with two colons is refused', lines: ['Host: a:b:c'], expect: REFUSED },
  { name: 'a Host with a non-numeric port is refused', lines: ['Host: edge.test:http'], expect: REFUSED },
  { name: 'a Host with an unclosed IPv6 bracket is refused', lines: ['Host: [::1'], expect: REFUSED },
  { name: 'a Host listing two names is refused', lines: ['Host: edge.test, other.test'], expect: REFUSED },
  { name: 'Host is matched without case and port', lines: ['Host: EDGE.Test:8080'], host: 'EDGE.Test:8080', expect: { backend: 'a', received: '/public/h' } },
  { name: 'Host is matched without a trailing dot', lines: ['Host: edge.test.'], host: 'edge.test.', expect: { backend: 'a', received: '/public/h' } },
  { name: 'an IPv4 Host is valid', lines: ['Host: 127.0.0.1'], host: '127.0.0.1', expect: { backend: 'dflt', received: '/public/h' } },
  { name: 'a bracketed IPv6 Host with a port is valid', lines: ['Host: [::1]:8080'], host: '[::1]:8080', expect: { backend: 'dflt', received: '/public/h' } },
  { name: 'an underscore in a Host name is valid', lines: ['Host: under_score.test'], host: 'under_score.test', expect: { backend: 'dflt', received: '/public/h' } },
  {
    name: 'an HTTP/1.0 request without Host goes to the default backend',
    requestLine: 'GET /public/h HTTP/1.0',
    lines: [],
    host: '',
    expect: { backend: 'dflt', received: '/public/h' },
  },
  { name: 'an HTTP/1.0 request with Host is routed by it', requestLine: 'GET /public/h HTTP/1.0', lines: ['Host: edge.test'], expect: { backend: 'a', received: '/public/h' } },
];

test('Host rules: missing, repeated or malformed Host is refused, never a 5xx', async (t) => {
  const site = await edgeSite(t, { defaultBackend: true });
  for (const c of hostCases) {
    await t.test(`${c.name}: ${printable(c.lines.join(' | '))} -> ${outcomeName(c.expect)}`, async (st) => {
      site.reset();
      const got = await exchange(st, site.port, head(c.requestLine ?? 'GET /public/h HTTP/1.1', ...c.lines, 'Connection: close'));
      await assertOutcome(site, c.host ?? 'edge.test', got, c.expect);
    });
  }
});

/** Connection headers that list what the proxy must forward anyway. */
const listingCases: readonly { readonly name: string; readonly connection: string }[] = [
  { name: 'Connection listing Host does not remove Host', connection: 'close, Host' },
  { name: 'Connection listing the forwarding headers does not remove the proxy\'s', connection: 'X-Forwarded-For, X-Real-IP, Forwarded, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Port' },
  { name: 'Connection listing Host in upper case does not remove Host', connection: 'keep-alive, HOST, x-forwarded-for' },
];

test('a Connection header never removes Host or the headers the proxy adds', async (t) => {
  const site = await edgeSite(t);
  for (const c of listingCases) {
    await t.test(`${c.name} (Connection: ${c.connection})`, async (st) => {
      site.reset();
      const got = await exchange(st, site.port, head('GET /public/c HTTP/1.1', 'Host: edge.test', `Connection: ${c.connection}`));
      const rec = await assertOutcome(site, 'edge.test', got, { backend: 'a', received: '/public/c' });
      assert.ok(rec !== undefined);
      assert.equal(singleHeader(rec.headers, 'host'), 'edge.test');
      assert.equal(singleHeader(rec.headers, 'x-forwarded-for'), '127.0.0.1');
      assert.equal(singleHeader(rec.headers, 'x-real-ip'), '127.0.0.1');
      assert.equal(singleHeader(rec.headers, 'x-forwarded-host'), 'edge.test');
      assert.equal(singleHeader(rec.headers, 'x-forwarded-proto'), 'http');
      assert.equal(singleHeader(rec.headers, 'x-forwarded-port'), String(site.port));
    });
  }
});

/** A request with a body whose framing header is also named in Connection. */
const framingCases: readonly { readonly name: string; readonly lines: readonly string[]; readonly body: string }[] = [
  {
    name: 'Connection: Transfer-Encoding with a chunked body',
    lines: ['Connection: Transfer-Encoding', 'Transfer-Encoding: chunked'],
    body: '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
  },
  { name: 'Connection: Content-Length with a sized body', lines: ['Connection: Content-Length', 'Content-Length: 11'], body: 'hello world' },
  {
    name: 'Connection listing both framing headers with a chunked body',
    lines: ['Connection: keep-alive, Content-Length, Transfer-Encoding', 'Transfer-Encoding: chunked'],
    body: 'b\r\nhello world\r\n0\r\n\r\n',
  },
];

test('a framing header named in Connection still frames the body, and the connection stays in step', async (t) => {
  const site = await edgeSite(t);
  for (const c of framingCases) {
    await t.test(c.name, async (st) => {
      site.reset();
      const conn = await RawConnection.open(st, site.port);
      await conn.write(head('POST /public/upload HTTP/1.1', 'Host: edge.test', ...c.lines) + c.body);
      const first = await conn.readResponse(5000);
      assert.ok(isResponse(first) && first.status === 200, `the request with a body is served: ${describe(first)}`);
      await conn.write(head('GET /public/after HTTP/1.1', 'Host: edge.test', 'Connection: close'));
      const second = await conn.readResponse(5000);
      assert.ok(isResponse(second) && second.status === 200, `the next request on the connection is served: ${describe(second)}`);
      await sleep(SETTLE_MS);
      const seen = site.all();
      assert.deepEqual(
        seen.map((r) => [r.backend, r.target]),
        [
          ['a', '/public/upload'],
          ['a', '/public/after'],
        ],
      );
      const upload = seen[0]!;
      assert.equal(upload.body.toString('latin1'), 'hello world', 'the upstream receives the whole body');
      assert.ok(upload.complete, 'and the whole message');
      assert.deepEqual(upload.problems, [], 'with one framing');
    });
  }
});
