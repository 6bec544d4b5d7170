import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { flatResponseHeaders, grpcRequestHeaders } from '../../src/drivers/native/grpc.ts';
import { CONNECT_TIMEOUT, H2Client } from '../../src/drivers/native/h2-client.ts';
import { isConnectFailure, isTimeout } from '../../src/drivers/native/upstream.ts';

test('grpcRequestHeaders: Host becomes :authority, HTTP/2-forbidden headers go, repeated ones stay, TE: trailers is sent', () => {
  const h = grpcRequestHeaders('POST', '/pkg.Svc/Call', false, [
    'Host', 'api.test',
    'Content-Type', 'application/grpc',
    'Connection', 'keep-alive',
    'Keep-Alive', '5',
    'Transfer-Encoding', 'chunked',
    'Upgrade', 'h2c',
    'TE', 'gzip',
    'grpc-timeout', '1S',
    'x-b3', '1',
    'X-B3', '2',
    'x-forwarded-for', '192.0.2.1',
  ]);
  assert.deepEqual(h, {
    ':method': 'POST',
    ':path': '/pkg.Svc/Call',
    ':scheme': 'http',
    ':authority': 'api.test',
    'content-type': 'application/grpc',
    'grpc-timeout': '1S',
    'x-b3': ['1', '2'],
    'x-forwarded-for': '192.0.2.1',
    te: 'trailers',
  });
  assert.equal(grpcRequestHeaders('POST', '/', true, ['host', 'a.test'])[':scheme'], 'https');
});

test('flatResponseHeaders: pseudo-headers and hop-by-hop ones dropped, lists flattened, Server added when missing', () => {
  assert.deepEqual(flatResponseHeaders({ ':status': '200', 'content-type': 'application/grpc', 'set-cookie': ['a=1', 'b=2'], connection: 'close', 'grpc-status': '0' }, 'passerelle'), [
    'content-type', 'application/grpc',
    'set-cookie', 'a=1',
    'set-cookie', 'b=2',
    'grpc-status', '0',
    'server', 'passerelle',
  ]);
  assert.deepEqual(flatResponseHeaders({ server: 'pod', 'grpc-message': 'ok' }, 'passerelle'), ['server', 'pod', 'grpc-message', 'ok']);
  assert.deepEqual(flatResponseHeaders({ 'grpc-status': '0' }, undefined), ['grpc-status', '0'], 'trailers get no Server');
});

test('H2Client: an endpoint that accepts TCP but never speaks h2 over TLS fails the stream with the connect timeout, on time', async (t) => {
  // A TLS endpoint that never finishes its handshake.
  const sockets = new Set<Socket>();
  const server = createServer({ pauseOnConnect: true }, (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const client = new H2Client(`127.0.0.1:${(server.address() as { port: number }).port}`, true, 300, 1000);
  t.after(() => client.destroy());
  const started = performance.now();
  const { session, done } = client.session();
  const stream = session.request({ ':method': 'POST', ':path': '/' });
  const err = await new Promise<Error>((resolve) => stream.once('error', resolve));
  done();
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 1500, `${Math.round(elapsed)} ms`);
  assert.ok(isTimeout(err) && isConnectFailure(err), `${(err as NodeJS.ErrnoException).code}: ${err.message} (cause ${String((err as { cause?: { code?: string } }).cause?.code)})`);
  assert.equal((err as { cause?: { code?: string } }).cause?.code ?? (err as NodeJS.ErrnoException).code, CONNECT_TIMEOUT);
  // The failed session is not reused.
  assert.notEqual(client.session().session, session);
});
