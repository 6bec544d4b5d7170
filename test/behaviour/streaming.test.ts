import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import type { UploadEcho } from './harness.ts';
import { backend, entryPoint, freePort, Harness, model, patternSha256, request, route, vhost } from './harness.ts';

const TEN_MB = 10 * 1024 * 1024;

async function setup(t: TestContext): Promise<number> {
  const h = await Harness.create(t);
  const [site] = await h.echoes('site');
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('stream.test', [route('/', 'Prefix', 'site')])],
      backends: [backend('site', [site!.endpoint()])],
    }),
  );
  return port;
}

/** A body of `total` bytes produced in 64 KiB pieces, never held whole. */
function generated(total: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(65536, total - sent);
      const chunk = Buffer.alloc(n, sent % 251);
      sent += n;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

test('a 10 MB download streams through with its Content-Length', async (t) => {
  const port = await setup(t);
  const r = await request({ port, host: 'stream.test', path: `/__download/${TEN_MB}`, timeoutMs: 30_000 });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(TEN_MB));
  assert.equal(r.headers['transfer-encoding'], undefined, 'no needless chunking');
  assert.equal(r.body.length, TEN_MB);
  assert.equal(createHash('sha256').update(r.body).digest('hex'), patternSha256(TEN_MB));
});

test('a 10 MB upload streams through with its Content-Length; a chunked upload too', async (t) => {
  const port = await setup(t);
  const fixed = generated(TEN_MB);
  const r = await request({
    port,
    host: 'stream.test',
    path: '/__upload',
    method: 'PUT',
    headers: { 'content-length': TEN_MB, 'content-type': 'application/octet-stream' },
    body: fixed.stream,
    timeoutMs: 30_000,
  });
  assert.equal(r.status, 200);
  const up = JSON.parse(r.text) as UploadEcho;
  assert.equal(up.bytes, TEN_MB);
  assert.equal(up.sha256, fixed.sha256());
  assert.equal(up.headers['content-length'], String(TEN_MB));
  assert.equal(up.headers['transfer-encoding'], undefined);

  const chunked = generated(3 * 1024 * 1024 + 17);
  const r2 = await request({ port, host: 'stream.test', path: '/__upload', method: 'POST', body: chunked.stream, timeoutMs: 30_000 });
  const up2 = JSON.parse(r2.text) as UploadEcho;
  assert.equal(up2.bytes, 3 * 1024 * 1024 + 17);
  assert.equal(up2.sha256, chunked.sha256());
});

test('response bytes reach the client before the upstream has finished', async (t) => {
  const port = await setup(t);
  const started = Date.now();
  const firstAt = await new Promise<{ first: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/__drip', headers: { host: 'stream.test' } }, (res) => {
      let first = -1;
      let body = '';
      res.on('data', (c: Buffer) => {
        if (first < 0) first = Date.now() - started;
        body += c.toString();
      });
      res.on('end', () => resolve({ first, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(firstAt.body, 'first;second');
  assert.ok(firstAt.first < 500, `first bytes after ${firstAt.first} ms (the upstream waits 700 ms before the rest)`);
});
