/**
 * Issue 9, size limits: a header section or a request line beyond the proxy's limit is refused
 * before anything reaches an upstream; many headers of ordinary size are served.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOutcome, edgeSite, head } from './edge.ts';
import { capabilities } from './modes.ts';
import { exchange, headerValues } from './raw.ts';

const KIB_64 = 64 * 1024;

test('size limits', async (t) => {
  const site = await edgeSite(t);

  await t.test(`one 64 KiB header is refused with ${capabilities.headerTooLargeStatus}`, async (st) => {
    site.reset();
    const got = await exchange(st, site.port, head('GET /public/big HTTP/1.1', 'Host: edge.test', `X-Big: ${'a'.repeat(KIB_64)}`, 'Connection: close'));
    await assertOutcome(site, 'edge.test', got, { status: capabilities.headerTooLargeStatus });
  });

  await t.test(`a 64 KiB URL is refused with ${capabilities.uriTooLongStatus}`, async (st) => {
    site.reset();
    const got = await exchange(st, site.port, head(`GET /public/${'u'.repeat(KIB_64)} HTTP/1.1`, 'Host: edge.test', 'Connection: close'));
    await assertOutcome(site, 'edge.test', got, { status: capabilities.uriTooLongStatus });
  });

  await t.test('200 headers of ordinary size are served and all forwarded', async (st) => {
    site.reset();
    const lines = Array.from({ length: 200 }, (_, i) => `X-Many-${String(i).padStart(3, '0')}: value-${i}`);
    const got = await exchange(st, site.port, head('GET /public/many HTTP/1.1', 'Host: edge.test', ...lines, 'Connection: close'));
    const rec = await assertOutcome(site, 'edge.test', got, { backend: 'a', received: '/public/many' });
    assert.ok(rec !== undefined);
    for (let i = 0; i < 200; i++) assert.deepEqual(headerValues(rec.headers, `x-many-${String(i).padStart(3, '0')}`), [`value-${i}`]);
  });

  await t.test('a 4 KiB header is served', async (st) => {
    site.reset();
    const cookie = `c=${'k'.repeat(4096)}`;
    const got = await exchange(st, site.port, head('GET /public/cookie HTTP/1.1', 'Host: edge.test', `Cookie: ${cookie}`, 'Connection: close'));
    const rec = await assertOutcome(site, 'edge.test', got, { backend: 'a', received: '/public/cookie' });
    assert.deepEqual(headerValues(rec?.headers ?? [], 'cookie'), [cookie]);
  });
});
