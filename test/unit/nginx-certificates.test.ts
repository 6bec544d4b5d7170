import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generate } from 'selfsigned';
import { certificateChecker, certificateProblem } from '../../src/drivers/nginx/certificates.ts';
import type { PemPair } from '../../src/drivers/nginx/certificates.ts';

const pair = async (cn: string): Promise<PemPair> => {
  const p = await generate([{ name: 'commonName', value: cn }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  return { certPem: p.cert, keyPem: p.private };
};
const a = await pair('a.test');
const b = await pair('b.test');

test('certificateProblem: a matching pair loads; a wrong key, no certificate, or a broken key are named', () => {
  const cases: readonly { name: string; pair: PemPair; problem: RegExp | undefined }[] = [
    { name: 'matching', pair: a, problem: undefined },
    { name: 'other key', pair: { certPem: a.certPem, keyPem: b.keyPem }, problem: /private key does not match/ },
    { name: 'no certificate', pair: { certPem: 'not a pem', keyPem: a.keyPem }, problem: /no PEM certificate/ },
    { name: 'broken key', pair: { certPem: a.certPem, keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }, problem: /does not load/ },
  ];
  for (const c of cases) {
    const problem = certificateProblem(c.pair.certPem, c.pair.keyPem);
    if (c.problem === undefined) assert.equal(problem, undefined, c.name);
    else assert.match(problem ?? '', c.problem, c.name);
  }
});

test('certificateChecker.prefetch: many new pairs checked on worker threads give the answers a check here gives', async () => {
  // 1,200 distinct pairs (text after the PEM block changes the digest, not the meaning), bad ones spread over every share.
  const bad = new Set([3, 599, 600, 1199]);
  const pairs: PemPair[] = Array.from({ length: 1200 }, (_, i) => ({ certPem: `${a.certPem}# ${i}\n`, keyPem: bad.has(i) ? b.keyPem : a.keyPem }));
  let checkedHere = 0;
  const check = certificateChecker(20_000, (certPem, keyPem) => {
    checkedHere++;
    return certificateProblem(certPem, keyPem);
  });
  await check.prefetch(pairs);
  // Known now: the same answers as computed here, for every pair, none of them computed again.
  for (const [i, p] of pairs.entries()) assert.equal(check(p.certPem, p.keyPem), certificateProblem(p.certPem, p.keyPem), `pair ${i}`);
  assert.equal(checkedHere, 0);
  assert.deepEqual(
    pairs.flatMap((p, i) => (check(p.certPem, p.keyPem) === undefined ? [] : [i])),
    [...bad],
  );
  // A few new pairs are not worth threads: they are checked when asked for.
  await check.prefetch([{ certPem: `${a.certPem}# new\n`, keyPem: a.keyPem }]);
  assert.equal(check(`${a.certPem}# new\n`, a.keyPem), undefined);
  assert.equal(checkedHere, 1);
});
