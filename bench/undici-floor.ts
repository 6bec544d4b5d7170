// The floor of what one Node process can proxy, for bench/proxy.sh: a node:http server that sends
// every request to one upstream through an undici Pool (keep-alive) and streams the answer back. No
// routing, no header rules, no timeouts beyond undici's own: only the two HTTP hops a Node proxy pays.
// Usage: node bench/undici-floor.ts LISTEN_PORT UPSTREAM_PORT
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';

const [listenPort, upstreamPort] = process.argv.slice(2);
if (listenPort === undefined || upstreamPort === undefined) {
  process.stderr.write('usage: node bench/undici-floor.ts LISTEN_PORT UPSTREAM_PORT\n');
  process.exit(2);
}

const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 });
// Hop-by-hop headers are not forwarded either way (RFC 9110 7.6.1).
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
const forward = (headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> => {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP.has(name)) out[name] = value;
  return out;
};

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  pool.stream(
    { path: req.url ?? '/', method: req.method ?? 'GET', headers: forward(req.headers), body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
    ({ statusCode, headers }) => {
      res.writeHead(statusCode, forward(headers));
      return res;
    },
    (err) => {
      if (err === null) return;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('Bad Gateway');
      else res.destroy();
    },
  );
});
server.listen(Number(listenPort), '127.0.0.1', () => process.stdout.write(`undici floor listening on 127.0.0.1:${listenPort}\n`));
const shutdown = (): void => {
  server.close();
  void pool.close().then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
