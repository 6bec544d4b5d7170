import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import { generate } from 'selfsigned';
import type { Certificate } from '../../src/model/types.ts';
import type { Echo } from './harness.ts';
import type { DriverSettings } from './modes.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

async function makeCert(id: string, cn: string, names: readonly string[]): Promise<Certificate> {
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) }],
  });
  return { id, hosts: names, certPem: pems.cert, keyPem: pems.private, source: { kind: 'Secret', namespace: 'default', name: id.split('/')[1] ?? id } };
}

/** The certificate the server presents for an SNI name (or none). */
function peerCertificate(port: number, servername: string | undefined): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(servername === undefined ? {} : { servername }) }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.on('error', reject);
  });
}

async function tlsSetup(t: TestContext, settings: DriverSettings = {}): Promise<{ h: Harness; port: number; plain: number; certs: Certificate[] }> {
  const h = await Harness.create(t, settings);
  const [site] = await h.echoes('site');
  const certs = [await makeCert('default/secure', 'secure.test', ['secure.test']), await makeCert('default/wild', 'wild', ['*.wild-tls.test'])];
  const [port, plain] = [await freePort(), await freePort()];
  const m = model({
    entryPoints: [entryPoint('https', port, { tls: true }), entryPoint('http', plain)],
    virtualHosts: [
      vhost('secure.test', [route('/', 'Prefix', 'site')], 'default/secure'),
      vhost('*.wild-tls.test', [route('/', 'Prefix', 'site')], 'default/wild'),
    ],
    backends: [backend('site', [site!.endpoint()])],
    certificates: certs,
  });
  await h.apply(m);
  return { h, port, plain, certs };
}

test('TLS: the certificate is chosen by SNI, exact then wildcard, default otherwise', async (t) => {
  const { port, plain } = await tlsSetup(t);
  const exact = await peerCertificate(port, 'secure.test');
  assert.equal(exact.subject.CN, 'secure.test');
  assert.match(exact.subjectaltname ?? '', /DNS:secure\.test/);
  const wild = await peerCertificate(port, 'app.wild-tls.test');
  assert.match(wild.subjectaltname ?? '', /DNS:\*\.wild-tls\.test/);
  for (const name of ['unknown.test', 'a.b.wild-tls.test', undefined]) {
    const dflt = await peerCertificate(port, name);
    assert.ok(dflt.raw.length > 0, 'a default certificate is presented');
    assert.notEqual(dflt.fingerprint256, exact.fingerprint256, `default for ${name ?? 'no SNI'}`);
    assert.notEqual(dflt.fingerprint256, wild.fingerprint256, `default for ${name ?? 'no SNI'}`);
  }
  // HTTPS over HTTP/1.1 reaches the upstream with the TLS facts in X-Forwarded-*.
  const r = await request({ port, tls: true, host: 'secure.test', path: '/over-tls' });
  const echo = echoOf(r);
  assert.equal(echo.url, '/over-tls');
  assert.equal(echo.headers['x-forwarded-proto'], 'https');
  assert.equal(echo.headers['x-forwarded-port'], String(port));
  // The plain entry point is served side by side.
  assert.equal(echoOf(await request({ port: plain, host: 'secure.test' })).headers['x-forwarded-proto'], 'http');
});

test('TLS: a certificate naming a host without any route (as [[acme.domains]] gives) is served by SNI, in any letter case', async (t) => {
  const h = await Harness.create(t);
  const [site] = await h.echoes('site');
  const routed = await makeCert('default/routed', 'routed.test', ['routed.test']);
  const alone = await makeCert('acme/alone.test', 'alone.test', ['alone.test', 'www.alone.test']);
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('https', port, { tls: true })],
      virtualHosts: [vhost('routed.test', [route('/', 'Prefix', 'site')], 'default/routed')],
      backends: [backend('site', [site!.endpoint()])],
      certificates: [routed, alone],
    }),
  );
  for (const name of ['alone.test', 'www.alone.test', 'ALONE.Test']) {
    const served = await peerCertificate(port, name);
    assert.equal(served.subject.CN, 'alone.test', `certificate for ${name}`);
  }
  assert.equal((await peerCertificate(port, 'Routed.TEST')).subject.CN, 'routed.test');
  // Served, but not routed: the handshake succeeds and the request finds no route.
  assert.equal((await request({ port, tls: true, host: 'alone.test', path: '/' })).status, 404);
});

test('TLS: HTTP/2 is negotiated by ALPN and :authority routes like Host', async (t) => {
  const { port } = await tlsSetup(t);
  const session = h2connect(`https://127.0.0.1:${port}`, { servername: 'secure.test', rejectUnauthorized: false });
  t.after(() => session.close());
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  assert.equal(session.alpnProtocol, 'h2');
  const get = (path: string, authority: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const stream = session.request({ ':path': path, ':method': 'GET', ':authority': authority });
      let status = 0;
      let headers: Record<string, unknown> = {};
      const chunks: Buffer[] = [];
      stream.on('response', (hs) => {
        status = Number(hs[':status']);
        headers = hs;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8'), headers }));
      stream.on('error', reject);
    });
  const r = await get('/h2/path?x=1', 'secure.test');
  assert.equal(r.status, 200);
  const echo = JSON.parse(r.body) as Echo;
  assert.equal(echo.id, 'site');
  assert.equal(echo.url, '/h2/path?x=1');
  assert.equal(echo.headers.host, 'secure.test');
  assert.equal(echo.headers['x-forwarded-proto'], 'https');
  assert.equal(echo.httpVersion, '1.1', 'upstreams are spoken to in HTTP/1.1');
  // Several streams on the one connection.
  const many = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`/n/${i}`, 'x.wild-tls.test')));
  assert.deepEqual(
    many.map((m) => m.status),
    Array.from({ length: 10 }, () => 200),
  );
  const missing = await get('/', 'nowhere.test');
  assert.equal(missing.status, 404);
});

test('TLS: a changed certificate is served to new handshakes after apply', async (t) => {
  const { h, port, certs } = await tlsSetup(t);
  const before = await peerCertificate(port, 'secure.test');
  const renewed = await makeCert('default/secure', 'secure.test renewed', ['secure.test']);
  const [site] = await h.echoes('site2');
  await h.apply(
    model({
      entryPoints: [entryPoint('https', port, { tls: true })],
      virtualHosts: [vhost('secure.test', [route('/', 'Prefix', 'site2')], 'default/secure')],
      backends: [backend('site2', [site!.endpoint()])],
      certificates: [renewed, certs[1]!],
    }),
  );
  const after = await peerCertificate(port, 'secure.test');
  assert.notEqual(after.fingerprint256, before.fingerprint256);
  assert.equal(after.subject.CN, 'secure.test renewed');
  assert.equal(echoOf(await request({ port, tls: true, host: 'secure.test' })).id, 'site2');
});

test('TLS: plain HTTP sent to a TLS entry point gets a 400 that says to use https; TLS still works after it', async (t) => {
  // HAProxy answers it only with this option (its default closes the connection: see DriverSettings).
  const { port } = await tlsSetup(t, { answerPlainHttpOnTls: true });
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => socket.write('GET / HTTP/1.1\r\nHost: secure.test\r\n\r\n'));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('close', () => resolve(got));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(got) : reject(err)));
  });
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /https/i);
  const cert = await peerCertificate(port, 'secure.test');
  assert.equal(cert.subject.CN, 'secure.test');
  // TLS on the same port is served as without the option: the client's address, TLS facts, HTTP/2.
  const echo = echoOf(await request({ port, tls: true, host: 'secure.test', path: '/after' }));
  assert.equal(echo.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(echo.headers['x-forwarded-proto'], 'https');
  assert.equal(echo.headers['x-forwarded-port'], String(port));
  const session = h2connect(`https://127.0.0.1:${port}`, { servername: 'secure.test', rejectUnauthorized: false });
  t.after(() => session.close());
  const status = await new Promise<number>((resolve, reject) => {
    session.once('error', reject);
    const stream = session.request({ ':path': '/h2', ':method': 'GET', ':authority': 'secure.test' });
    stream.on('response', (hs) => resolve(Number(hs[':status'])));
    stream.on('error', reject);
    stream.resume();
  });
  assert.equal(session.alpnProtocol, 'h2');
  assert.equal(status, 200);
});
