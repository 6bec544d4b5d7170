/*
 * Misdirected requests (421, the Gateway API's GatewayHTTPSListenerDetectMisdirectedRequests): on a
 * Gateway's own address, a TLS entry point whose scope lists its HTTPS listeners' hostnames answers
 * 421 to a request whose Host falls to another listener than the connection's server name (SNI), over
 * HTTP/1.1 and HTTP/2 (where clients reuse a connection for another host). The table is the
 * conformance test's; every answer is also the reference's (misdirected, then resolveRequest of
 * modelForScope). The entry point's own address has no listener hostnames: never 421.
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { generate } from 'selfsigned';
import { misdirected, modelForScope, normalizeHost, resolveRequest } from '../../src/model/match.ts';
import type { RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

const GATEWAY = '127.0.0.34';
const NAMES = ['example.org', 'second-example.org', 'third-example.wildcard.org', 'fourth-example.wildcard.org', 'fith-example.wildcard.org', 'unknown-example.org'];

let https = 0;
let h: Harness | undefined;
let served: RoutingModel | undefined;

const suffix = (host: string, routes: VirtualHost['routes']): VirtualHost => ({ ...vhost(host, routes), kind: 'suffix' });

before(async () => {
  h = await Harness.start();
  const [v1, v2, v3] = await h.echoes('v1', 'v2', 'v3');
  https = await freePort();
  const pems = await generate([{ name: 'commonName', value: 'example.org' }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [...NAMES, '*.wildcard.org'].map((value) => ({ type: 2 as const, value })) }] });
  const base = model({
    entryPoints: [entryPoint('https', https, { tls: true })],
    virtualHosts: [vhost('example.org', [route('/', 'Prefix', 'v1')]), vhost('second-example.org', [route('/', 'Prefix', 'v2')])],
    backends: [backend('v1', [v1!.endpoint()]), backend('v2', [v2!.endpoint()]), backend('v3', [v3!.endpoint()])],
    certificates: [{ id: 'default/names', hosts: [...NAMES, '*.wildcard.org'], certPem: pems.cert, keyPem: pems.private, source: { kind: 'Secret', namespace: 'default', name: 'names' } }],
  });
  served = {
    ...base,
    addressScopes: [
      {
        address: GATEWAY,
        entryPoint: 'https',
        listenerHostnames: ['', '*.wildcard.org', 'fourth-example.wildcard.org', 'second-example.org'],
        virtualHosts: [
          vhost('example.org', [route('/detect', 'Prefix', 'v1')]),
          vhost('fourth-example.wildcard.org', [route('/detect', 'Prefix', 'v1')]),
          vhost('second-example.org', [route('/detect', 'Prefix', 'v2')]),
          suffix('*.wildcard.org', [route('/detect', 'Prefix', 'v3')]),
        ],
      },
    ],
  };
  await h.apply(served);
});

after(async () => {
  await h?.close();
});

// [server name, Host, who answers]: the conformance test's cases.
const table: readonly [string, string, string][] = [
  ['example.org', 'example.org', 'v1'],
  ['example.org', 'second-example.org', '421'],
  ['example.org', 'unknown-example.org', '404'],
  ['second-example.org', 'second-example.org', 'v2'],
  ['second-example.org', 'example.org', '421'],
  ['second-example.org', 'unknown-example.org', '421'],
  ['third-example.wildcard.org', 'third-example.wildcard.org', 'v3'],
  ['third-example.wildcard.org', 'fith-example.wildcard.org', 'v3'],
  ['third-example.wildcard.org', 'fourth-example.wildcard.org', '421'],
  ['third-example.wildcard.org', 'second-example.org', '421'],
  ['third-example.wildcard.org', 'unknown-example.org', '421'],
  ['fourth-example.wildcard.org', 'fourth-example.wildcard.org', 'v1'],
  ['fourth-example.wildcard.org', 'fith-example.wildcard.org', '421'],
  ['unknown-example.org', 'example.org', 'v1'],
  ['unknown-example.org', 'unknown-example.org', '404'],
  // A Host with a port and in capitals is the same host.
  ['example.org', 'Second-Example.org:443', '421'],
  ['second-example.org', 'SECOND-example.org:443', 'v2'],
];

function reference(sni: string, host: string, address: string): string {
  const scope = served!.addressScopes?.find((s) => s.address === address && s.entryPoint === 'https');
  if (misdirected(scope?.listenerHostnames, sni, normalizeHost(host))) return '421';
  const ref = resolveRequest(modelForScope(served!, address, 'https'), host, '/detect');
  return ref.outcome === 'not-found' ? '404' : (ref.backend?.service ?? '?');
}

const answer = (status: number, body: string): string => (status === 200 ? (JSON.parse(body) as { id: string }).id : String(status));

for (const [sni, host, who] of table) {
  test(`misdirected (HTTP/1.1): server name ${sni}, Host ${host}: ${who}`, async () => {
    assert.equal(reference(sni, host, GATEWAY), who, 'the reference agrees with the table');
    const r = await request({ address: GATEWAY, port: https, tls: true, servername: sni, host, path: '/detect' });
    assert.equal(r.status === 200 ? echoOf(r).id : String(r.status), who);
  });
}

/** One HTTP/2 session per server name, its streams asking for the hosts of the table. */
async function h2get(session: ClientHttp2Session, authority: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': '/detect', ':method': 'GET', ':authority': authority });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (hs) => (status = Number(hs[':status'])));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', reject);
  });
}

test('misdirected (HTTP/2): each server name\'s connection answers 421 to the hosts of other listeners, and serves its own', async (t) => {
  for (const sni of [...new Set(table.map(([s]) => s))]) {
    const session = h2connect(`https://${GATEWAY}:${https}`, { servername: sni, rejectUnauthorized: false });
    t.after(() => session.close());
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    assert.equal(session.alpnProtocol, 'h2');
    for (const [s, host, who] of table) {
      if (s !== sni) continue;
      const r = await h2get(session, host);
      assert.equal(answer(r.status, r.body), who, `h2 server name ${sni}, :authority ${host}`);
    }
    session.close();
  }
});

test('misdirected: the entry point\'s own address has no listener hostnames: a Host other than the server name is routed', async () => {
  assert.equal(reference('example.org', 'second-example.org', '127.0.0.1'), 'v2');
  const r = await request({ address: '127.0.0.1', port: https, tls: true, servername: 'example.org', host: 'second-example.org', path: '/' });
  assert.equal(r.status === 200 ? echoOf(r).id : String(r.status), 'v2');
});

test('misdirected: a connection without a server name is never misdirected', async () => {
  const r = await request({ address: GATEWAY, port: https, tls: true, servername: '', host: 'second-example.org', path: '/detect' });
  assert.equal(r.status === 200 ? echoOf(r).id : String(r.status), 'v2');
});
