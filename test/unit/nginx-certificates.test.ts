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
const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';

test('certificateProblem: a matching pair loads; a wrong key, no certificate, or a broken key are named', () => {
  const cases: readonly { name: string; pair: PemPair; problem: RegExp | undefined }[] = [
    { name: 'matching', pair: a, problem: undefined },
    { name: 'other key', pair: { certPem: a.certPem, keyPem: b.keyPem }, problem: /private key does not match/ },
    { name: 'no certificate', pair: { certPem: 'not a pem', keyPem: a.keyPem }, problem: /no PEM certificate/ },
    { name: 'broken key', pair: { certPem: a.certPem, keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }, problem: /does not load/ },
    // Chain certificates: one that parses is remembered by its text, one that does not is refused every time.
    { name: 'chain', pair: { certPem: `${a.certPem.trimEnd()}\n${b.certPem}`, keyPem: a.keyPem }, problem: undefined },
    { name: 'same chain certificate again', pair: { certPem: `${a.certPem.trimEnd()}\n${b.certPem}`, keyPem: a.keyPem }, problem: undefined },
    { name: 'broken chain certificate', pair: { certPem: `${a.certPem.trimEnd()}\n${broken}`, keyPem: a.keyPem }, problem: /does not load/ },
    { name: 'same broken chain certificate again', pair: { certPem: `${a.certPem.trimEnd()}\n${broken}`, keyPem: a.keyPem }, problem: /does not load/ },
    // OpenSSL refuses text on an END line ("bad end line") where Node reads past it; text on lines of its own is fine.
    { name: 'text after the certificate END', pair: { certPem: `${a.certPem.trimEnd()}# x\n`, keyPem: a.keyPem }, problem: /END line has text/ },
    { name: 'text after the key END', pair: { certPem: a.certPem, keyPem: `${a.keyPem.trimEnd()} x\n` }, problem: /END line has text/ },
    { name: 'spaces after END, then a comment line', pair: { certPem: `${a.certPem.trimEnd()}  \n# comment\n`, keyPem: a.keyPem }, problem: undefined },
  ];
  for (const c of cases) {
    const problem = certificateProblem(c.pair.certPem, c.pair.keyPem);
    if (c.problem === undefined) assert.equal(problem, undefined, c.name);
    else assert.match(problem ?? '', c.problem, c.name);
  }
});

test('certificateChecker.start: many new pairs are checked on worker threads, giving the answers a check here gives', async () => {
  // 1,200 distinct pairs (text after the PEM block changes the digest, not the meaning), bad ones spread over every share.
  const bad = new Set([3, 599, 600, 1199]);
  const pairs: PemPair[] = Array.from({ length: 1200 }, (_, i) => ({ certPem: `${a.certPem.trimEnd()}\n# ${i}\n`, keyPem: bad.has(i) ? b.keyPem : a.keyPem }));
  let checkedHere = 0;
  const check = certificateChecker(20_000, (certPem, keyPem) => {
    checkedHere++;
    return certificateProblem(certPem, keyPem);
  });
  const pending = check.start(pairs);
  // Not waited for: the workers answer meanwhile (chunks are taken in order, the last bad pair is in the last one).
  const last = pairs[1199]!;
  const deadline = Date.now() + 60_000;
  while (pending.check(last.certPem, last.keyPem) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await pending.settle();
  assert.equal(checkedHere, 0, 'every pair was checked on a worker thread');
  // Known now: the same answers as computed here, for every pair, none of them computed again.
  for (const [i, p] of pairs.entries()) assert.equal(check(p.certPem, p.keyPem), certificateProblem(p.certPem, p.keyPem), `pair ${i}`);
  assert.equal(checkedHere, 0);
  assert.deepEqual(
    pairs.flatMap((p, i) => (check(p.certPem, p.keyPem) === undefined ? [] : [i])),
    [...bad],
  );
  // A few new pairs are not worth threads: they are checked when asked for.
  await check.prefetch([{ certPem: `${a.certPem.trimEnd()}\n# new\n`, keyPem: a.keyPem }]);
  assert.equal(check(`${a.certPem.trimEnd()}\n# new\n`, a.keyPem), undefined);
  assert.equal(checkedHere, 1);
});

test('certificateChecker.start: a pair still being checked is guessed as loading; settle says whether a guess was wrong', async () => {
  const bad = new Set([10, 700]);
  const make = (tag: string): PemPair[] => Array.from({ length: 800 }, (_, i) => ({ certPem: `${a.certPem.trimEnd()}\n# ${tag} ${i}\n`, keyPem: bad.has(i) ? b.keyPem : a.keyPem }));
  const check = certificateChecker();
  // Guesses for every pair, asked before any worker can have answered: the bad ones are guessed wrong.
  const wrong = check.start(make('x'));
  const guessed = make('x').map((p) => wrong.check(p.certPem, p.keyPem));
  assert.ok(guessed.every((g) => g === undefined));
  assert.equal(await wrong.settle(), false);
  // Settled: the answers are known, the bad pairs named.
  assert.match(check(make('x')[700]!.certPem, b.keyPem) ?? '', /private key does not match/);
  // Guesses for the good pairs only: they hold.
  const right = check.start(make('y'));
  for (const [i, p] of make('y').entries()) if (!bad.has(i)) assert.equal(right.check(p.certPem, p.keyPem), undefined);
  assert.equal(await right.settle(), true);
  // Settle with this thread taking chunks at once (prefetch): the same answers.
  const pairs = make('z');
  await check.prefetch(pairs);
  assert.deepEqual(
    pairs.flatMap((p, i) => (check(p.certPem, p.keyPem) === undefined ? [] : [i])),
    [...bad],
  );
});
