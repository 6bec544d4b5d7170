/**
 * Issue 9, trust headers: X-Forwarded-*, X-Real-IP and Forwarded from a client are replaced unless
 * the client's address is in the entry point's `trustedIPs`, then kept and extended. Control
 * characters in header values are refused. Clients connect from 127.0.0.50 and 127.0.0.51 so that
 * their address is told apart from the proxy's own.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { capabilities } from './modes.ts';
import { assertOutcome, edgeSite, head, SETTLE_MS } from './edge.ts';
import { backend, entryPoint, freePort, Harness, model, route, vhost } from './harness.ts';
import type { Recorder } from './raw.ts';
import { describe, exchange, headerValues, isResponse, printable, singleHeader, sleep } from './raw.ts';

const CLIENT = '127.0.0.50';
const OTHER_CLIENT = '127.0.0.51';

/** Entry points: nobody trusted, all of loopback, a range we are not in, one exact address. */
type Entry = 'plain' | 'loopback' | 'elsewhere' | 'exact';
const TRUSTED: Readonly<Record<Entry, readonly string[] | undefined>> = {
  plain: undefined,
  loopback: ['127.0.0.0/8'],
  elsewhere: ['10.0.0.0/8'],
  exact: [CLIENT],
};

/** Every forwarding header a client may send. */
const SENT = [
  'X-Forwarded-For: 203.0.113.7',
  'X-Forwarded-Proto: https',
  'X-Forwarded-Host: evil.test',
  'X-Forwarded-Port: 8443',
  'X-Real-IP: 203.0.113.9',
  'Forwarded: for=198.51.100.1;proto=https',
];

/** What the upstream receives; `PORT` stands for the entry point's port. */
interface Received {
  readonly xff: string;
  readonly proto: string;
  readonly host: string;
  readonly port: string;
  readonly realIp: string;
  /** Forwarded without the driver's forwardedHeader setting (undefined: absent), and with it. */
  readonly forwarded: { readonly off: string | undefined; readonly on: string };
}

const PORT = 'PORT';

/** The proxy's own values for a client at `ip` on host trust.test. */
function proxyValues(ip: string): Received {
  return { xff: ip, proto: 'http', host: 'trust.test', port: PORT, realIp: ip, forwarded: { off: undefined, on: `for=${ip};host=trust.test;proto=http` } };
}

const THIS_HOP = `for=${CLIENT};host=trust.test;proto=http`;

interface TrustCase {
  readonly name: string;
  readonly entry: Entry;
  readonly from: string;
  readonly lines: readonly string[];
  readonly expect: Received;
}

const trustCases: readonly TrustCase[] = [
  { name: 'an untrusted client\'s forwarding headers are all replaced', entry: 'plain', from: CLIENT, lines: SENT, expect: proxyValues(CLIENT) },
  { name: 'an untrusted client without forwarding headers gets the proxy\'s', entry: 'plain', from: CLIENT, lines: [], expect: proxyValues(CLIENT) },
  {
    name: 'an untrusted client\'s headers are replaced whatever the case of their names',
    entry: 'plain',
    from: CLIENT,
    lines: ['x-FORWARDED-for: 203.0.113.7', 'X-FORWARDED-PROTO: https', 'x-forwarded-HOST: evil.test', 'x-forwarded-port: 8443', 'X-REAL-IP: 203.0.113.9', 'FORWARDED: for=198.51.100.1'],
    expect: proxyValues(CLIENT),
  },
  {
    name: 'an untrusted client\'s repeated X-Forwarded-For lines are all replaced',
    entry: 'plain',
    from: CLIENT,
    lines: ['X-Forwarded-For: 203.0.113.7', 'X-Forwarded-For: 198.51.100.2', 'Forwarded: for=198.51.100.1', 'Forwarded: for=198.51.100.3'],
    expect: proxyValues(CLIENT),
  },
  {
    name: 'Connection listing the forwarding headers does not keep an untrusted client\'s values or drop the proxy\'s',
    entry: 'plain',
    from: CLIENT,
    lines: [...SENT, 'Connection: Forwarded, X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Port'],
    expect: proxyValues(CLIENT),
  },
  {
    name: 'a client outside trustedIPs (10.0.0.0/8) is untrusted',
    entry: 'elsewhere',
    from: CLIENT,
    lines: SENT,
    expect: proxyValues(CLIENT),
  },
  {
    name: 'a client trusted by a CIDR (127.0.0.0/8) keeps its headers; X-Forwarded-For and Forwarded are extended',
    entry: 'loopback',
    from: CLIENT,
    lines: SENT,
    expect: {
      xff: `203.0.113.7, ${CLIENT}`,
      proto: 'https',
      host: 'evil.test',
      port: '8443',
      realIp: '203.0.113.9',
      forwarded: { off: 'for=198.51.100.1;proto=https', on: `for=198.51.100.1;proto=https, ${THIS_HOP}` },
    },
  },
  { name: 'a trusted client without forwarding headers gets the proxy\'s', entry: 'loopback', from: CLIENT, lines: [], expect: proxyValues(CLIENT) },
  {
    name: 'a trusted client\'s repeated X-Forwarded-For lines are joined, then extended',
    entry: 'loopback',
    from: CLIENT,
    lines: ['X-Forwarded-For: 203.0.113.7', 'X-Forwarded-For: 198.51.100.2'],
    expect: { ...proxyValues(CLIENT), xff: `203.0.113.7, 198.51.100.2, ${CLIENT}` },
  },
  {
    name: 'a trusted client sending only X-Forwarded-Proto keeps it and gets the proxy\'s other values',
    entry: 'loopback',
    from: CLIENT,
    lines: ['X-Forwarded-Proto: https'],
    expect: { ...proxyValues(CLIENT), proto: 'https' },
  },
  {
    name: 'a client trusted by its exact address keeps its headers',
    entry: 'exact',
    from: CLIENT,
    lines: SENT,
    expect: {
      xff: `203.0.113.7, ${CLIENT}`,
      proto: 'https',
      host: 'evil.test',
      port: '8443',
      realIp: '203.0.113.9',
      forwarded: { off: 'for=198.51.100.1;proto=https', on: `for=198.51.100.1;proto=https, ${THIS_HOP}` },
    },
  },
  { name: 'another address than the exact trusted one is untrusted', entry: 'exact', from: OTHER_CLIENT, lines: SENT, expect: proxyValues(OTHER_CLIENT) },
];

/** One driver with the four entry points and one recording upstream for trust.test. */
async function trustSite(t: TestContext, forwardedHeader: boolean): Promise<{ ports: Readonly<Record<Entry, number>>; upstream: Recorder }> {
  const h = await Harness.create(t, { forwardedHeader });
  const upstream = await h.recorder('trust');
  const entries = Object.keys(TRUSTED) as Entry[];
  const ports = {} as Record<Entry, number>;
  for (const e of entries) ports[e] = await freePort();
  await h.apply(
    model({
      entryPoints: entries.map((e) => {
        const trustedIPs = TRUSTED[e];
        return entryPoint(e, ports[e], trustedIPs === undefined ? {} : { trustedIPs });
      }),
      virtualHosts: [vhost('trust.test', [route('/', 'Prefix', 'trust')])],
      backends: [backend('trust', [upstream.endpoint()])],
    }),
  );
  return { ports, upstream };
}

for (const forwardedHeader of [false, true]) {
  test(`trust headers (forwardedHeader ${forwardedHeader ? 'on' : 'off'})`, async (t) => {
    const { ports, upstream } = await trustSite(t, forwardedHeader);
    for (const c of trustCases) {
      await t.test(`${c.name} (entry point trusting ${JSON.stringify(TRUSTED[c.entry] ?? [])}, client ${c.from})`, async (st) => {
        upstream.reset();
        const port = ports[c.entry];
        const got = await exchange(st, port, head('GET /t HTTP/1.1', 'Host: trust.test', ...c.lines, 'Connection: close'), { localAddress: c.from });
        assert.ok(isResponse(got) && got.status === 200, `served: ${describe(got)}`);
        await sleep(50);
        assert.equal(upstream.requests.length, 1);
        const headers = upstream.requests[0]!.headers;
        const want = c.expect;
        const port_ = (v: string): string => (v === PORT ? String(port) : v);
        assert.equal(singleHeader(headers, 'x-forwarded-for'), want.xff, 'X-Forwarded-For');
        assert.equal(singleHeader(headers, 'x-forwarded-proto'), want.proto, 'X-Forwarded-Proto');
        assert.equal(singleHeader(headers, 'x-forwarded-host'), want.host, 'X-Forwarded-Host');
        assert.equal(singleHeader(headers, 'x-forwarded-port'), port_(want.port), 'X-Forwarded-Port');
        assert.equal(singleHeader(headers, 'x-real-ip'), want.realIp, 'X-Real-IP');
        const forwarded = forwardedHeader ? want.forwarded.on : want.forwarded.off;
        assert.deepEqual(headerValues(headers, 'forwarded'), forwarded === undefined ? [] : [forwarded], 'Forwarded');
        assert.equal(singleHeader(headers, 'host'), 'trust.test', 'Host');
      });
    }
  });
}

/** Header values with control characters: refused, except a tab. */
const controlCases: readonly { readonly name: string; readonly value: string; readonly refused: boolean }[] = [
  { name: 'a NUL in a header value is refused', value: 'a\x00b', refused: true },
  { name: 'a \\x01 in a header value is refused', value: 'a\x01b', refused: true },
  { name: 'an escape character (\\x1b) in a header value is refused', value: 'a\x1b[31mb', refused: true },
  { name: 'a DEL in a header value is refused', value: 'a\x7fb', refused: true },
  { name: 'a bare CR in a header value is refused', value: 'a\rb', refused: true },
  { name: 'a vertical tab in a header value is refused', value: 'a\x0bb', refused: true },
  { name: 'a tab inside a header value is passed on', value: 'a\tb', refused: false },
];

test('control characters in header values', async (t) => {
  const site = await edgeSite(t);
  for (const c of controlCases) {
    await t.test(`${c.name}: X-Test: ${printable(c.value)}`, async (st) => {
      site.reset();
      const got = await exchange(st, site.port, head('GET /public/ctl HTTP/1.1', 'Host: edge.test', `X-Test: ${c.value}`, 'Connection: close'));
      if (c.refused && (capabilities.refusesControlCharacters || c.value.includes('\x00') || c.value.includes('\r'))) {
        await assertOutcome(site, 'edge.test', got, { status: 400 });
        return;
      }
      if (c.refused) {
        // nginx refuses only NUL, CR and LF (its parser); other control characters pass unchanged (declared).
        assert.ok(isResponse(got) && got.status === 200, `served: ${describe(got)}`);
        await sleep(SETTLE_MS);
        const all = site.all();
        assert.equal(all.length, 1);
        assert.equal(all[0]!.target, '/public/ctl');
        assert.deepEqual(headerValues(all[0]!.headers, 'x-test'), [c.value]);
        return;
      }
      const rec = await assertOutcome(site, 'edge.test', got, { backend: 'a', received: '/public/ctl' });
      assert.deepEqual(headerValues(rec?.headers ?? [], 'x-test'), [c.value]);
    });
  }
});
