import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import acme from 'acme-client';
import { AcmeChallenges, createChallengeCertificate } from '../../src/acme/challenges.ts';
import type { ChallengeShare } from '../../src/acme/store/types.ts';
import type { SharedChallenge } from '../../src/acme/types.ts';
import { explainProblem } from '../../src/acme/client.ts';
import { certificateSecretName, challengesFromSecret, challengesSecretName, challengesToSecret } from '../../src/acme/store/kubernetes.ts';
import { selectAlpn } from '../../src/drivers/native/listeners.ts';

/** A share in memory: what a Secret and its watch do for replicas, with a write that takes a while. */
class MemoryShare implements ChallengeShare {
  readonly description = 'memory';
  set: readonly SharedChallenge[] = [];
  publishes = 0;
  readonly #listeners = new Set<(c: readonly SharedChallenge[]) => void>();

  async publish(challenges: readonly SharedChallenge[]): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
    this.set = [...challenges];
    this.publishes++;
    for (const l of this.#listeners) l(this.set);
  }

  follow(listener: (c: readonly SharedChallenge[]) => void): () => void {
    this.#listeners.add(listener);
    listener(this.set);
    return () => this.#listeners.delete(listener);
  }
}

test('challenges without a share: answered while added, gone when removed', async () => {
  const c = new AcmeChallenges();
  c.start();
  const h = { type: 'http-01' as const, name: 'a.test', token: 'tok-1', keyAuthorization: 'tok-1.thumb' };
  await c.add(h);
  assert.equal(c.http01('tok-1'), 'tok-1.thumb');
  assert.equal(c.http01('other'), undefined);
  assert.equal(c.tlsAlpn('a.test'), undefined, 'an HTTP-01 challenge gives no TLS-ALPN-01 certificate');
  await c.remove(h);
  assert.equal(c.http01('tok-1'), undefined);
  assert.equal(c.size, 0);
  await c.stop();
});

test('challenges with a share: published before add resolves, answered by a follower, unpublished after', async () => {
  const share = new MemoryShare();
  const leader = new AcmeChallenges({ share });
  const follower = new AcmeChallenges({ share });
  leader.start();
  follower.start();
  const h = { type: 'http-01' as const, name: 'a.test', token: 'tok-2', keyAuthorization: 'tok-2.thumb' };
  await leader.add(h);
  // When add resolves the CA may be told to validate: the follower must answer already.
  assert.equal(share.set.length, 1);
  assert.equal(follower.http01('tok-2'), 'tok-2.thumb');
  // Concurrent adds are coalesced into few publications, each carrying the whole set.
  const more = ['x', 'y', 'z'].map((t) => ({ type: 'http-01' as const, name: `${t}.test`, token: t, keyAuthorization: `${t}.k` }));
  const before = share.publishes;
  await Promise.all(more.map((m) => leader.add(m)));
  assert.ok(share.publishes - before <= 2, `${share.publishes - before} publications for 3 adds`);
  assert.deepEqual(follower.pending().map((c) => c.token).sort(), ['tok-2', 'x', 'y', 'z']);
  for (const m of [h, ...more]) await leader.remove(m);
  assert.equal(follower.http01('tok-2'), undefined);
  assert.equal(share.set.length, 0);
  await leader.stop();
  await follower.stop();
});

test('a published challenge past its expiry is not answered (a leader that died mid-order)', async () => {
  const share = new MemoryShare();
  share.set = [{ type: 'http-01', name: 'a.test', token: 'old', keyAuthorization: 'old.k', expiresAt: new Date(Date.now() - 1000).toISOString() }];
  const follower = new AcmeChallenges({ share });
  follower.start();
  assert.equal(follower.http01('old'), undefined);
  assert.equal(follower.size, 0);
  await follower.stop();
});

test('TLS-ALPN-01 challenge certificate: the name as only SAN, the critical acmeIdentifier of the key authorization (RFC 8737)', async () => {
  const pair = await createChallengeCertificate('a.example.test', 'token.thumbprint');
  const x = new X509Certificate(pair.certPem);
  assert.equal(x.subjectAltName, 'DNS:a.example.test');
  assert.ok(acme.crypto.isAlpnCertificateAuthorizationValid(pair.certPem, 'token.thumbprint'));
  assert.throws(() => {
    if (!acme.crypto.isAlpnCertificateAuthorizationValid(pair.certPem, 'other')) throw new Error('mismatch');
  });
  assert.match(pair.keyPem, /PRIVATE KEY/);
});

test('TLS-ALPN-01 through a share: the follower makes the same kind of certificate for the published name', async () => {
  const share = new MemoryShare();
  const leader = new AcmeChallenges({ share });
  const follower = new AcmeChallenges({ share });
  leader.start();
  follower.start();
  const c = { type: 'tls-alpn-01' as const, name: 'b.example.test', token: 't', keyAuthorization: 't.k' };
  await leader.add(c);
  assert.ok(leader.hasTlsAlpn('B.example.test.'));
  const own = await leader.tlsAlpn('b.example.test');
  const theirs = await follower.tlsAlpn('b.example.test');
  assert.ok(own && theirs);
  assert.ok(acme.crypto.isAlpnCertificateAuthorizationValid(theirs.certPem, 't.k'));
  assert.equal(follower.tlsAlpn('c.example.test'), undefined);
  assert.equal(follower.http01('t'), undefined, 'a TLS-ALPN-01 token is not an HTTP-01 answer');
  await leader.remove(c);
  assert.equal(follower.tlsAlpn('b.example.test'), undefined);
  await leader.stop();
  await follower.stop();
});

test('the challenges Secret: round trip, damaged data, and no certificate Secret takes its name', () => {
  const set: SharedChallenge[] = [
    { type: 'tls-alpn-01', name: 'b.test', token: 't2', keyAuthorization: 't2.k', expiresAt: '2030-01-01T00:00:00.000Z' },
    { type: 'http-01', name: 'a.test', token: 't1', keyAuthorization: 't1.k', expiresAt: '2030-01-01T00:00:00.000Z' },
  ];
  const s = challengesToSecret('acme', set);
  assert.equal(s.metadata.name, 'acme-challenges');
  assert.equal(s.metadata.labels?.['passerelle.dev/acme-part'], 'challenges');
  assert.equal(s.metadata.labels?.['passerelle.dev/acme-store'], 'acme');
  assert.deepEqual(challengesFromSecret(s)?.map((c) => c.token), ['t1', 't2']);
  assert.equal(challengesFromSecret({ metadata: { name: 'acme-challenges' }, data: { 'challenges.json': Buffer.from('{').toString('base64') } }), undefined);
  assert.deepEqual(challengesFromSecret({ metadata: { name: 'x' }, data: { 'challenges.json': Buffer.from('{"challenges":[{"type":"dns-01"}]}').toString('base64') } }), []);
  assert.equal(challengesSecretName('acme'), 'acme-challenges');
  assert.notEqual(certificateSecretName('acme', 'challenges'), 'acme-challenges');
  assert.equal(certificateSecretName('acme', 'a.test'), 'acme-a.test');
});

test('ALPN selection of a listener answering TLS-ALPN-01', () => {
  const cases: [string[], string | undefined][] = [
    [['acme-tls/1'], 'acme-tls/1'],
    [['h2', 'acme-tls/1'], 'acme-tls/1'],
    [['http/1.1', 'h2'], 'h2'],
    [['http/1.1'], 'http/1.1'],
    [['spdy/3'], undefined],
    [[], undefined],
  ];
  for (const [offered, want] of cases) assert.equal(selectAlpn(offered), want, offered.join(','));
});

test('plain causes of TLS-ALPN-01 failures name the TLS port and the handshake', () => {
  assert.match(explainProblem('urn:ietf:params:acme:error:connection', 'connection refused', 'challenge', 'tls-alpn-01'), /TLS handshake .*acme-tls\/1.*port 443/);
  assert.match(explainProblem('urn:ietf:params:acme:error:unauthorized', 'incorrect acmeIdentifier extension value', 'challenge', 'tls-alpn-01'), /challenge certificate/);
  assert.match(explainProblem('urn:ietf:params:acme:error:connection', 'connection refused', 'challenge', 'http-01'), /HTTP port/);
});
