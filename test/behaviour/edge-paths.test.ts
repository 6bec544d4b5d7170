/**
 * Issue 9, request target: path normalisation (escapes, slashes, dot segments, parameters) and the
 * absolute form, over raw sockets, against upstreams that record the exact target they receive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Outcome } from './edge.ts';
import { assertOutcome, edgeSite, head, outcomeName } from './edge.ts';
import { capabilities } from './modes.ts';
import { exchange, printable, singleHeader } from './raw.ts';

const REFUSED = { status: 400 } as const;

/** A path case: the target sent on host edge.test and what must happen. */
interface PathCase {
  /** What the case checks. */
  readonly name: string;
  readonly target: string;
  readonly expect: Outcome;
  /** The outcome in a mode that decodes reserved escapes (nginx, declared), when it differs. */
  readonly decoded?: Outcome;
}

// Routes on edge.test: /public -> a, /admin -> b (Prefix), / -> c (Prefix), /exact -> d (Exact).
const pathCases: readonly PathCase[] = [
  // Dot segments (RFC 3986 §5.2.4), decoded before they are removed.
  { name: 'a dot-dot segment leaves /public for /admin', target: '/public/../admin', expect: { backend: 'b', received: '/admin' } },
  { name: 'lower-case encoded dots are a dot-dot segment', target: '/public/%2e%2e/admin', expect: { backend: 'b', received: '/admin' } },
  { name: 'upper-case encoded dots are a dot-dot segment', target: '/public/%2E%2E/admin', expect: { backend: 'b', received: '/admin' } },
  { name: 'mixed-case encoded dots are a dot-dot segment', target: '/public/%2e%2E/admin', expect: { backend: 'b', received: '/admin' } },
  { name: 'a half-encoded dot-dot (.%2e) is a dot-dot segment', target: '/public/.%2e/admin', expect: { backend: 'b', received: '/admin' } },
  { name: 'a half-encoded dot-dot (%2e.) is a dot-dot segment', target: '/public/%2e./admin', expect: { backend: 'b', received: '/admin' } },
  { name: 'a single-dot segment is removed', target: '/public/./x', expect: { backend: 'a', received: '/public/x' } },
  { name: 'a single dot then a dot-dot', target: '/public/./../admin/x', expect: { backend: 'b', received: '/admin/x' } },
  { name: 'nested dot-dots inside a prefix', target: '/admin/x/y/../../z', expect: { backend: 'b', received: '/admin/z' } },
  { name: 'a trailing /.. keeps the trailing slash', target: '/public/x/..', expect: { backend: 'a', received: '/public/' } },
  { name: 'a trailing /. keeps the trailing slash', target: '/public/x/.', expect: { backend: 'a', received: '/public/x/' } },
  { name: 'a trailing /.. out of /admin lands on the root route', target: '/admin/..', expect: { backend: 'c', received: '/' } },
  { name: 'a trailing encoded single dot', target: '/public/%2e', expect: { backend: 'a', received: '/public/' } },
  { name: 'a trailing encoded dot-dot lands on the root route', target: '/public/%2e%2e', expect: { backend: 'c', received: '/' } },
  { name: 'three dots are an ordinary segment', target: '/public/...', expect: { backend: 'a', received: '/public/...' } },
  { name: 'a segment starting with two dots is an ordinary segment', target: '/public/..a', expect: { backend: 'a', received: '/public/..a' } },
  { name: 'a dot-dot above the root is refused', target: '/../admin', expect: REFUSED },
  { name: 'a dot-dot above the root after a segment is refused', target: '/public/../../admin', expect: REFUSED },
  { name: 'an encoded dot-dot above the root is refused', target: '/%2e%2e/admin', expect: REFUSED },
  { name: 'a lone dot-dot is above the root', target: '/..', expect: REFUSED },
  // Slashes: encoded ones and backslashes are refused, runs are merged before dot segments.
  { name: 'a lower-case encoded slash is refused', target: '/public/..%2fadmin', expect: REFUSED },
  { name: 'an upper-case encoded slash is refused', target: '/public/..%2Fadmin', expect: REFUSED },
  { name: 'an encoded slash at the end of a prefix is refused', target: '/admin%2F', expect: REFUSED },
  { name: 'a lower-case encoded backslash is refused', target: '/public/..%5cadmin', expect: REFUSED },
  { name: 'an upper-case encoded backslash is refused', target: '/public/..%5Cadmin', expect: REFUSED },
  { name: 'a raw backslash after a dot-dot is refused', target: '/public/..\\admin', expect: REFUSED },
  { name: 'a raw backslash inside a segment is refused', target: '/public\\x', expect: REFUSED },
  { name: 'slashes are merged before dot segments are removed', target: '/public//../admin', expect: { backend: 'b', received: '/admin' } },
  { name: 'a leading double slash is merged', target: '//admin', expect: { backend: 'b', received: '/admin' } },
  { name: 'a double slash inside a prefix is merged', target: '/admin//x', expect: { backend: 'b', received: '/admin/x' } },
  { name: 'a trailing double slash is merged', target: '/public/x//', expect: { backend: 'a', received: '/public/x/' } },
  { name: 'runs of three slashes are merged everywhere', target: '///public///x', expect: { backend: 'a', received: '/public/x' } },
  // Path parameters: a dot segment with a parameter is refused; other parameters are plain text.
  { name: 'a dot-dot segment with a parameter (..;) is refused', target: '/public/..;/admin', expect: REFUSED },
  { name: 'encoded dots with a parameter (%2E%2E;) are refused', target: '/public/%2E%2E;/admin', expect: REFUSED },
  { name: 'a single-dot segment with a parameter (.;) is refused', target: '/public/.;/admin', expect: REFUSED },
  { name: 'a dot-dot with a named parameter (..;x) is refused', target: '/public/..;x/admin', expect: REFUSED },
  { name: 'a dot-dot with an encoded semicolon (..%3b) is refused', target: '/public/..%3b/admin', expect: REFUSED },
  { name: 'a single dot with an encoded semicolon (.%3B) is refused', target: '/public/.%3Bx', expect: REFUSED },
  { name: 'a parameter on the prefix segment does not select the prefix', target: '/public;x', expect: { backend: 'c', received: '/public;x' } },
  { name: 'a parameter on a prefix segment followed by more path stays on the root route', target: '/admin;/x', expect: { backend: 'c', received: '/admin;/x' } },
  { name: 'a semicolon inside a segment is kept', target: '/public/a;b', expect: { backend: 'a', received: '/public/a;b' } },
  {
    name: 'an encoded semicolon stays encoded, hex upper-cased',
    target: '/public/a%3bb',
    expect: { backend: 'a', received: '/public/a%3Bb' },
    decoded: { backend: 'a', received: '/public/a;b' },
  },
  // Escapes of unreserved characters are decoded; others are kept with upper-case hex.
  { name: 'an encoded unreserved letter is decoded', target: '/public/%61dmin', expect: { backend: 'a', received: '/public/admin' } },
  { name: 'an encoded letter in the prefix itself selects the prefix', target: '/%70ublic/x', expect: { backend: 'a', received: '/public/x' } },
  { name: 'an encoded tilde (upper-case hex) is decoded', target: '/public/%7Euser', expect: { backend: 'a', received: '/public/~user' } },
  { name: 'an encoded tilde (lower-case hex) is decoded', target: '/public/%7euser', expect: { backend: 'a', received: '/public/~user' } },
  { name: 'encoded hyphen and underscore are decoded', target: '/public/a%2db%5fc', expect: { backend: 'a', received: '/public/a-b_c' } },
  { name: 'an encoded letter selects an Exact route', target: '/ex%61ct', expect: { backend: 'd', received: '/exact' } },
  { name: 'an encoded space stays encoded', target: '/public/a%20b', expect: { backend: 'a', received: '/public/a%20b' } },
  {
    name: 'an encoded plus stays encoded, hex upper-cased',
    target: '/public/a%2bb',
    expect: { backend: 'a', received: '/public/a%2Bb' },
    decoded: { backend: 'a', received: '/public/a+b' },
  },
  // nginx re-escapes `"` too (ngx_escape_uri), so this one has no declared deviation.
  { name: 'an encoded double quote stays encoded', target: '/public/a%22b', expect: { backend: 'a', received: '/public/a%22b' } },
  { name: 'an encoded question mark stays encoded', target: '/public/a%3fb', expect: { backend: 'a', received: '/public/a%3Fb' } },
  { name: 'an encoded hash stays encoded', target: '/public/a%23b', expect: { backend: 'a', received: '/public/a%23b' } },
  { name: 'an encoded percent sign stays encoded', target: '/public/a%25b', expect: { backend: 'a', received: '/public/a%25b' } },
  { name: 'encoded UTF-8 stays encoded, hex upper-cased', target: '/public/%e2%82%ac', expect: { backend: 'a', received: '/public/%E2%82%AC' } },
  { name: 'paths are case-sensitive: /PUBLIC is not /public', target: '/PUBLIC/x', expect: { backend: 'c', received: '/PUBLIC/x' } },
  // Malformed escapes and control characters are refused.
  { name: 'a malformed escape (%zz) is refused', target: '/public/%zz', expect: REFUSED },
  { name: 'a truncated escape (%2) is refused', target: '/public/%2', expect: REFUSED },
  { name: 'a lone percent sign is refused', target: '/public/%', expect: REFUSED },
  { name: 'an escape with one non-hex digit (%g0) is refused', target: '/public/%g0x', expect: REFUSED },
  { name: 'an encoded NUL is refused', target: '/public/%00', expect: REFUSED },
  { name: 'an encoded line feed is refused', target: '/public/%0a', expect: REFUSED },
  { name: 'an encoded CR LF is refused', target: '/public/%0D%0Ax', expect: REFUSED },
  { name: 'an encoded tab is refused', target: '/public/a%09b', expect: REFUSED },
  { name: 'an encoded unit separator (%1f) is refused', target: '/public/%1f', expect: REFUSED },
  { name: 'an encoded DEL is refused', target: '/public/%7F', expect: REFUSED },
  { name: 'a raw NUL is refused', target: '/public/a\x00b', expect: REFUSED },
  { name: 'a raw control character (\\x01) is refused', target: '/public/a\x01b', expect: REFUSED },
  { name: 'a raw DEL is refused', target: '/public/a\x7fb', expect: REFUSED },
  // The query is passed on unchanged and plays no part in routing.
  { name: 'dot segments in the query are not touched', target: '/public?x=/../admin', expect: { backend: 'a', received: '/public?x=/../admin' } },
  {
    name: 'escapes and double slashes in the query are not touched',
    target: '/public/x?y=%2e%2e%2f&z=a//b',
    expect: { backend: 'a', received: '/public/x?y=%2e%2e%2f&z=a//b' },
  },
  { name: 'the query follows the normalised path', target: '/public/../admin?x=1', expect: { backend: 'b', received: '/admin?x=1' } },
  { name: 'an Exact route matches with a query', target: '/exact?x', expect: { backend: 'd', received: '/exact?x' } },
  // Exact routes see the normalised path.
  { name: 'an Exact route does not match a trailing slash', target: '/exact/', expect: { backend: 'c', received: '/exact/' } },
  { name: 'a trailing dot segment gives a trailing slash: no Exact match', target: '/exact/.', expect: { backend: 'c', received: '/exact/' } },
  { name: 'a dot-dot reaching an Exact path selects it', target: '/x/../exact', expect: { backend: 'd', received: '/exact' } },
];

test('path normalisation: each target is refused or reaches the route its normalised path selects', async (t) => {
  const site = await edgeSite(t);
  for (const c of pathCases) {
    const expected = !capabilities.keepsReservedEscapes && c.decoded !== undefined ? c.decoded : c.expect;
    await t.test(`${c.name}: ${printable(c.target)} -> ${outcomeName(expected)}`, async (st) => {
      site.reset();
      const got = await exchange(st, site.port, head(`GET ${c.target} HTTP/1.1`, 'Host: edge.test', 'Connection: close'));
      await assertOutcome(site, 'edge.test', got, expected);
    });
  }
});

/** An absolute-form case: the target, the Host header sent, and what the upstream receives. */
interface AbsoluteCase {
  readonly name: string;
  readonly target: string;
  readonly host: string;
  readonly expect: Outcome;
  /** The Host and X-Forwarded-Host the upstream receives. */
  readonly receivedHost?: string;
}

const absoluteCases: readonly AbsoluteCase[] = [
  {
    name: 'the authority replaces the Host header for routing and upstream',
    target: 'http://other.test/x',
    host: 'edge.test',
    expect: { backend: 'o', received: '/x' },
    receivedHost: 'other.test',
  },
  {
    name: 'an authority with a port replaces the Host header',
    target: 'http://other.test:8080/x',
    host: 'edge.test',
    expect: { backend: 'o', received: '/x' },
    receivedHost: 'other.test:8080',
  },
  {
    name: 'an authority that agrees with Host is routed normally',
    target: 'http://edge.test/public/x',
    host: 'edge.test',
    expect: { backend: 'a', received: '/public/x' },
    receivedHost: 'edge.test',
  },
  {
    name: 'the query of an absolute target is kept',
    target: 'http://edge.test/public/x?q=1',
    host: 'edge.test',
    expect: { backend: 'a', received: '/public/x?q=1' },
    receivedHost: 'edge.test',
  },
  {
    name: 'the scheme is case-insensitive',
    target: 'HTTP://edge.test/public/x',
    host: 'edge.test',
    expect: { backend: 'a', received: '/public/x' },
    receivedHost: 'edge.test',
  },
  {
    name: 'an https absolute target is accepted',
    target: 'https://edge.test/public/x',
    host: 'edge.test',
    expect: { backend: 'a', received: '/public/x' },
    receivedHost: 'edge.test',
  },
  {
    name: 'the path of an absolute target is normalised',
    target: 'http://edge.test/public/../admin',
    host: 'edge.test',
    expect: { backend: 'b', received: '/admin' },
    receivedHost: 'edge.test',
  },
  {
    name: 'an empty path becomes /',
    target: 'http://other.test',
    host: 'edge.test',
    expect: { backend: 'o', received: '/' },
    receivedHost: 'other.test',
  },
  { name: 'userinfo in the authority is refused', target: 'http://u@edge.test/', host: 'edge.test', expect: REFUSED },
  { name: 'userinfo with a password is refused', target: 'http://u:p@edge.test/public/', host: 'edge.test', expect: REFUSED },
  { name: 'another scheme is refused', target: 'ftp://edge.test/', host: 'edge.test', expect: REFUSED },
  { name: 'an empty authority is refused', target: 'http:///public/x', host: 'edge.test', expect: REFUSED },
  { name: 'a target without a leading slash is refused', target: 'x', host: 'edge.test', expect: REFUSED },
  { name: 'a scheme-less authority is refused', target: 'edge.test/public/x', host: 'edge.test', expect: REFUSED },
];

test('absolute-form targets: the authority routes, the upstream receives origin-form', async (t) => {
  const site = await edgeSite(t);
  for (const c of absoluteCases) {
    await t.test(`${c.name}: ${c.target} (Host ${c.host}) -> ${outcomeName(c.expect)}`, async (st) => {
      site.reset();
      const got = await exchange(st, site.port, head(`GET ${c.target} HTTP/1.1`, `Host: ${c.host}`, 'Connection: close'));
      const mismatched = c.receivedHost !== undefined && c.receivedHost !== c.host;
      if (mismatched && !capabilities.routesMismatchedAbsoluteForm) {
        await assertOutcome(site, c.host, got, REFUSED);
        return;
      }
      const rec = await assertOutcome(site, c.receivedHost ?? c.host, got, c.expect);
      if (rec !== undefined && c.receivedHost !== undefined) {
        assert.equal(singleHeader(rec.headers, 'host'), c.receivedHost, 'the Host the upstream receives');
        assert.equal(singleHeader(rec.headers, 'x-forwarded-host'), c.receivedHost, 'the X-Forwarded-Host the upstream receives');
      }
    });
  }
});

/** Cases of an entry point with `allowEncodedSlashes`. */
const encodedSlashCases: readonly PathCase[] = [
  { name: 'an encoded slash is kept encoded inside its segment', target: '/public/..%2fadmin', expect: { backend: 'a', received: '/public/..%2Fadmin' } },
  { name: 'an encoded backslash is kept encoded inside its segment', target: '/public/a%5cb', expect: { backend: 'a', received: '/public/a%5Cb' } },
  { name: 'a raw backslash is still refused', target: '/public/a\\b', expect: REFUSED },
  { name: 'dot segments are still removed', target: '/public/../admin/%2F', expect: { backend: 'b', received: '/admin/%2F' } },
];

test('allowEncodedSlashes keeps %2F and %5C encoded instead of refusing them', async (t) => {
  const site = await edgeSite(t, { entryPoint: { allowEncodedSlashes: true } });
  for (const c of encodedSlashCases) {
    const expected = capabilities.keepsEncodedSlashes || 'status' in c.expect ? c.expect : REFUSED;
    await t.test(`${c.name}: ${printable(c.target)} -> ${outcomeName(expected)}`, async (st) => {
      site.reset();
      const got = await exchange(st, site.port, head(`GET ${c.target} HTTP/1.1`, 'Host: edge.test', 'Connection: close'));
      await assertOutcome(site, 'edge.test', got, expected);
    });
  }
});
