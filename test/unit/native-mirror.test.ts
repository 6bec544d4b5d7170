import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { CompiledBackend } from '../../src/drivers/native/balance.ts';
import { pickMirrors, teeBody } from '../../src/drivers/native/mirror.ts';

function compiled(id: string, endpoints: number): CompiledBackend {
  return { id, upstreams: [], cycle: new Uint16Array(endpoints), cursor: 0, weights: [], rotation: 0, unavailable: 'none' };
}

const backends = new Map([
  ['ns/a:80', compiled('ns/a:80', 1)],
  ['ns/b:80', compiled('ns/b:80', 2)],
  ['ns/empty:80', compiled('ns/empty:80', 0)],
]);

const CASES: readonly { readonly name: string; readonly targets: readonly [string, number][]; readonly draws: readonly number[]; readonly expect: readonly string[] }[] = [
  { name: 'every target at 100 % draws nothing', targets: [['ns/a:80', 100], ['ns/b:80', 100]], draws: [], expect: ['ns/a:80', 'ns/b:80'] },
  { name: 'a draw under the percent copies', targets: [['ns/a:80', 20]], draws: [0.1999], expect: ['ns/a:80'] },
  { name: 'a draw at the percent does not', targets: [['ns/a:80', 20]], draws: [0.2], expect: [] },
  { name: 'each target draws on its own', targets: [['ns/a:80', 50], ['ns/b:80', 33.3]], draws: [0.7, 0.3], expect: ['ns/b:80'] },
  { name: 'a backend without endpoints or unknown gets no copy', targets: [['ns/empty:80', 100], ['ns/gone:80', 100], ['ns/a:80', 100]], draws: [], expect: ['ns/a:80'] },
];

for (const c of CASES) {
  test(`pickMirrors: ${c.name}`, () => {
    const draws = [...c.draws];
    const random = (): number => {
      const d = draws.shift();
      if (d === undefined) throw new Error('an unexpected draw');
      return d;
    };
    const picked = pickMirrors({ targets: c.targets.map(([backend, percent]) => ({ backend, percent })) }, backends, random);
    assert.deepEqual(picked.map((b) => b.id), c.expect);
    assert.equal(draws.length, 0, 'every draw used');
  });
}

/** Reads a stream to its end (or its error). */
async function drain(s: NodeJS.ReadableStream): Promise<{ bytes: number; error?: string }> {
  let bytes = 0;
  try {
    for await (const c of s) bytes += (c as Buffer).length;
    return { bytes };
  } catch (err) {
    return { bytes, error: (err as Error).message };
  }
}

test('teeBody: the backend and a reading copy get every byte', async () => {
  const body = new PassThrough();
  const { main, copies } = teeBody(body, 1, 1024);
  const got = Promise.all([drain(main), drain(copies[0]!)]);
  for (let i = 0; i < 10; i++) {
    body.write(Buffer.alloc(500, i));
    await new Promise((resolve) => setImmediate(resolve));
  }
  body.end();
  assert.deepEqual(await got, [{ bytes: 5000 }, { bytes: 5000 }]);
});

test('teeBody: a copy nobody reads is dropped past its limit while the backend gets the whole body', async () => {
  const body = new PassThrough();
  const { main, copies } = teeBody(body, 1, 1024);
  const mainRead = drain(main);
  for (let i = 0; i < 10; i++) {
    body.write(Buffer.alloc(500, i));
    await new Promise((resolve) => setImmediate(resolve));
  }
  body.end();
  assert.deepEqual(await mainRead, { bytes: 5000 });
  assert.equal(copies[0]!.destroyed, true);
  assert.match((await drain(copies[0]!)).error ?? '', /fell behind/);
});
