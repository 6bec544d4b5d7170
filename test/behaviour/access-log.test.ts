import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AccessLog } from '../../src/drivers/access-log.ts';
import type { AccessLogFormat } from '../../src/drivers/access-log.ts';
import type { RequestRecord } from '../../src/drivers/types.ts';
import type { Logger } from '../../src/shared/logger.ts';
import { backend, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

/** Polls until `ok` holds (records of haproxy/nginx arrive over UDP a moment after the answer). */
async function until<T>(what: string, read: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Serves a.test (an echo), dead.test (an endpoint nothing listens on) and empty.test (no endpoint). */
async function serve(h: Harness): Promise<{ port: number; echoAddress: string; deadAddress: string }> {
  const echo = await h.echo('a');
  const port = await freePort();
  const deadPort = await freePort('127.0.0.1');
  await h.apply(
    model({
      entryPoints: [entryPoint('web', port)],
      virtualHosts: [
        vhost('a.test', [route('/', 'Prefix', 'a'), route('/exact', 'Exact', 'a')]),
        vhost('dead.test', [route('/', 'Prefix', 'dead')]),
        vhost('empty.test', [route('/', 'Prefix', 'empty')]),
      ],
      backends: [backend('a', [echo.endpoint()]), backend('dead', [{ address: '127.0.0.1', port: deadPort, weight: 1 }]), backend('empty', [])],
    }),
  );
  return { port, echoAddress: `${echo.host}:${echo.port}`, deadAddress: `127.0.0.1:${deadPort}` };
}

/** A logger that keeps what is logged at warn. */
function recordingLogger(): { logger: Logger; warnings: { obj: Record<string, unknown>; msg: string }[] } {
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    error() {},
    warn(obj, msg) {
      warnings.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' });
    },
    child() {
      return logger;
    },
  };
  return { logger, warnings };
}

for (const format of ['json', 'common'] as const satisfies readonly AccessLogFormat[]) {
  test(`access log in ${format} format: one line per request, with route, upstream, status and bytes`, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-access-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const filePath = path.join(dir, 'logs', 'access.log');
    const log = new AccessLog({ format, filePath });
    const records: RequestRecord[] = [];
    const h = await Harness.create(t, {
      connectTimeoutMs: 1000,
      observe: (r) => {
        records.push(r);
        log.observe(r);
      },
    });
    const { port, echoAddress, deadAddress } = await serve(h);

    const ok = await request({ port, host: 'a.test', path: '/hello?x=1' });
    assert.equal(ok.status, 200);
    assert.equal((await request({ port, host: 'a.test', path: '/exact' })).status, 200);
    assert.equal((await request({ port, host: 'nowhere.test', path: '/' })).status, 404);
    assert.equal((await request({ port, host: 'dead.test', path: '/d' })).status, 502);
    assert.equal((await request({ port, host: 'empty.test', path: '/e' })).status, 503);

    await until('five records', () => records.length, (n) => n >= 5);
    await log.close();
    const lines = (await readFile(filePath, 'utf8')).split('\n').filter((l) => l !== '');
    assert.equal(lines.length, records.length, lines.join('\n'));

    const byPath = (p: string): RequestRecord => {
      const r = records.find((x) => x.path === p);
      assert.ok(r !== undefined, `no record for ${p}: ${JSON.stringify(records)}`);
      return r;
    };
    const hello = byPath('/hello?x=1');
    assert.equal(hello.status, 200);
    assert.equal(hello.method, 'GET');
    assert.equal(hello.host, 'a.test');
    assert.equal(hello.client, '127.0.0.1');
    assert.equal(hello.entryPoint, 'web');
    assert.equal(hello.upstream, echoAddress);
    assert.equal(hello.route, 'a.test / Prefix');
    assert.equal(hello.backend, 'default/a:80');
    assert.equal(hello.bytes, ok.body.length);
    assert.ok(hello.durationMs >= 0 && hello.durationMs < 5000);
    assert.ok(Math.abs(hello.time.getTime() - Date.now()) < 60_000);
    assert.equal(byPath('/exact').route, 'a.test /exact Exact');
    assert.equal(byPath('/').status, 404);
    const dead = byPath('/d');
    assert.equal(dead.status, 502);
    assert.equal(dead.upstream, deadAddress);
    assert.equal(dead.route, 'dead.test / Prefix');
    assert.ok(dead.error !== undefined && dead.error !== '', `a cause for the 502: ${JSON.stringify(dead)}`);
    const empty = byPath('/e');
    assert.equal(empty.status, 503);
    assert.equal(empty.route, 'empty.test / Prefix');
    assert.match(empty.error ?? '', /no endpoint/);

    if (format === 'json') {
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const line = parsed.find((o) => o['path'] === '/hello?x=1');
      assert.ok(line !== undefined, lines.join('\n'));
      assert.equal(line['status'], 200);
      assert.equal(line['method'], 'GET');
      assert.equal(line['host'], 'a.test');
      assert.equal(line['client'], '127.0.0.1');
      assert.equal(line['upstream'], echoAddress);
      assert.equal(line['route'], 'a.test / Prefix');
      assert.equal(line['bytes'], ok.body.length);
      assert.equal(typeof line['durationMs'], 'number');
      assert.match(String(line['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(parsed.some((o) => o['status'] === 502 && typeof o['error'] === 'string'));
    } else {
      const line = lines.find((l) => l.includes('"GET /hello?x=1 '));
      assert.ok(line !== undefined, lines.join('\n'));
      assert.match(
        line,
        new RegExp(
          `^127\\.0\\.0\\.1 - - \\[\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d \\+0000\\] "GET /hello\\?x=1 HTTP/1\\.1" 200 ${ok.body.length} "a\\.test" "a\\.test / Prefix" "${echoAddress.replace(/\./g, '\\.')}" \\d+ms$`,
        ),
      );
      assert.ok(lines.some((l) => / 502 \d+ "dead\.test" "dead\.test \/ Prefix" /.test(l)), lines.join('\n'));
      assert.ok(lines.some((l) => / 404 \d+ "nowhere\.test" "-" "-" /.test(l)), lines.join('\n'));
    }
  });
}

test('upstream failures are logged at warn with their cause, without access logs', async (t) => {
  const { logger, warnings } = recordingLogger();
  // No observe: the failures alone must still be reported.
  const h = await Harness.create(t, { connectTimeoutMs: 1000, logger });
  const { port, deadAddress } = await serve(h);
  assert.equal((await request({ port, host: 'dead.test', path: '/d' })).status, 502);
  assert.equal((await request({ port, host: 'empty.test', path: '/e' })).status, 503);
  assert.equal((await request({ port, host: 'a.test', path: '/' })).status, 200);
  const failed = await until('two warnings', () => warnings.filter((w) => w.obj['status'] !== undefined), (w) => w.length >= 2);
  const w502 = failed.find((w) => w.obj['status'] === 502);
  assert.ok(w502 !== undefined, JSON.stringify(failed));
  assert.equal(w502.obj['upstream'], deadAddress);
  assert.equal(w502.obj['route'], 'dead.test / Prefix');
  assert.equal(typeof w502.obj['cause'], 'string');
  assert.match(w502.msg, /502/);
  const w503 = failed.find((w) => w.obj['status'] === 503);
  assert.ok(w503 !== undefined, JSON.stringify(failed));
  assert.match(String(w503.obj['cause']), /no endpoint/);
  assert.equal(failed.filter((w) => w.obj['status'] === 200).length, 0);
});
