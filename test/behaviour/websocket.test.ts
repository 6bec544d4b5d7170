import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { backend, entryPoint, freePort, Harness, model, route, vhost } from './harness.ts';

function roundTrip(ws: WebSocket, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
    ws.send(message);
  });
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

test('WebSocket upgrades pass through on plain and TLS entry points', async (t) => {
  const h = await Harness.create(t);
  const [ws1] = await h.echoes('ws1');
  const [plain, secure] = [await freePort(), await freePort()];
  await h.apply(
    model({
      entryPoints: [entryPoint('http', plain), entryPoint('https', secure, { tls: true })],
      virtualHosts: [vhost('ws.test', [route('/socket', 'Prefix', 'ws1')]), vhost('127.0.0.1', [route('/socket', 'Prefix', 'ws1')])],
      backends: [backend('ws1', [ws1!.endpoint()])],
    }),
  );

  // Node's global WebSocket client sends the URL's host, served by the 127.0.0.1 virtual host.
  const viaGlobal = new globalThis.WebSocket(`ws://127.0.0.1:${plain}/socket/global`);
  const got = await new Promise<string>((resolve, reject) => {
    viaGlobal.onopen = () => viaGlobal.send('hello');
    viaGlobal.onmessage = (ev: MessageEvent) => resolve(String(ev.data));
    viaGlobal.onerror = () => reject(new Error('global WebSocket failed'));
  });
  viaGlobal.close();
  assert.equal(got, 'ws1:hello');

  for (const [scheme, port] of [['ws', plain], ['wss', secure]] as const) {
    const ws = new WebSocket(`${scheme}://127.0.0.1:${port}/socket/x`, {
      headers: { host: 'ws.test' },
      ...(scheme === 'wss' ? { servername: 'ws.test', rejectUnauthorized: false } : {}),
    });
    await opened(ws);
    assert.equal(await roundTrip(ws, `ping-${scheme}`), `ws1:ping-${scheme}`);
    assert.equal(await roundTrip(ws, 'again'), 'ws1:again');
    const big = 'x'.repeat(200_000);
    assert.equal(await roundTrip(ws, big), `ws1:${big}`);
    ws.close();
  }

  const refused = new WebSocket(`ws://127.0.0.1:${plain}/elsewhere`, { headers: { host: 'ws.test' } });
  await assert.rejects(opened(refused), /404/);
});
