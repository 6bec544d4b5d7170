/*
 * TLS-ALPN-01 (RFC 8737) in native mode against a real Pebble: Pebble validates only on the native
 * proxy's TLS port (its HTTP-01 port is closed), so the certificates can only come through the
 * `acme-tls/1` handshakes the native driver answers with the challenge certificate. Ordinary
 * clients keep getting h2 or http/1.1 from the same listener.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { connect } from 'node:tls';
import path from 'node:path';
import { freePort, startPebble } from './pebble.ts';
import { chainsTo, configToml, httpsGet, ingressYaml, servedChain, startEcho, startPasserelle, waitUntil } from './env.ts';

/** A handshake offering only `acme-tls/1`: the negotiated protocol, the leaf's SAN and whether the server closed at once. */
function acmeTlsHandshake(port: number, servername: string): Promise<{ alpn: string | false | null; san: string | undefined; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['acme-tls/1'], minVersion: 'TLSv1.3' }, () => {
      const alpn = s.alpnProtocol;
      const san = s.getPeerX509Certificate()?.subjectAltName;
      const timer = setTimeout(() => {
        s.destroy();
        resolve({ alpn, san, closed: false });
      }, 2000);
      s.once('close', () => {
        clearTimeout(timer);
        resolve({ alpn, san, closed: true });
      });
      s.resume();
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') return;
      reject(err);
    });
  });
}

test('native: TLS-ALPN-01 issues over the TLS port only, and ordinary clients still get h2 and http/1.1', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-alpn-'));
  const ports = { http: await freePort(), https: await freePort() };
  // HTTP-01 would be validated on a port nothing listens on: only TLS-ALPN-01 can succeed.
  const closedHttpPort = await freePort();
  const pebble = await startPebble({ dir, httpPort: closedHttpPort, tlsPort: ports.https, vaSleepSeconds: 2 });
  const echo = await startEcho('echo');
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  t.diagnostic(`pebble: ${pebble.binaries.version}`);

  const groups = [['alpn.example.test', 'www.alpn.example.test'], ['other.example.org']];
  const yaml = ingressYaml({ echoPort: echo.port, groups, tls: true });
  const running = await startPasserelle({ dir, toml: configToml({ dir, ports, pebble, acmeExtra: 'challenge = "tls-alpn-01"' }), yaml });
  try {
    const manager = running.acme!.manager;
    await waitUntil(() => manager.certificates().length === 2, 120_000, 'two certificates over TLS-ALPN-01');
    assert.equal(manager.counters.failures, 0, 'no failed order');
    const root = await pebble.root();
    for (const h of groups.flat()) {
      await waitUntil(async () => chainsTo(await servedChain(ports.https, h), h, root), 5000, `${h} served its ACME certificate`);
      const res = await httpsGet(ports.https, h, root);
      assert.equal(res.status, 200, `${h}: ${res.body}`);
    }
    assert.equal(running.acme!.challenges.size, 0, 'no challenge left after the orders');

    // HTTP/2 still negotiated on the listener that selects ALPN itself.
    const session = h2connect(`https://127.0.0.1:${ports.https}`, { servername: 'alpn.example.test', ca: root });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': '/', ':authority': 'alpn.example.test' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      assert.equal(status, 200);
      assert.equal(session.alpnProtocol, 'h2');
    } finally {
      session.close();
    }

    // An acme-tls/1 handshake without a pending challenge: the default certificate, then closed.
    const probe = await acmeTlsHandshake(ports.https, 'alpn.example.test');
    assert.equal(probe.alpn, 'acme-tls/1');
    assert.equal(probe.san, 'DNS:passerelle.invalid', 'no challenge pending: the default certificate');
    assert.ok(probe.closed, 'the server closes an acme-tls/1 connection after the handshake');
  } finally {
    await running.stop();
  }
});
