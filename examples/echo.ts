import http from 'node:http';

/** A small echo backend: answers with its name, the request line and the headers it received. */
export function startEcho(name: string, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers }, null, 2);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(`${body}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
