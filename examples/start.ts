// `npm start`: the embedded default. Starts the echo backends the example's EndpointSlices point at,
// then Passerelle (native proxy, file source) on examples/passerelle.toml, and prints curl commands.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '../src/cli/flags.ts';
import { startController } from '../src/cli/run.ts';
import { startEcho } from './echo.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const backends: [string, number][] = [
  ['whoami-a', 9101],
  ['whoami-b', 9102],
  ['api-a', 9201],
  ['web-a', 9301],
];
const servers = await Promise.all(backends.map(([name, port]) => startEcho(name, '127.0.0.1', port)));
const running = await startController(parseFlags(['run', `--configfile=${path.join(here, 'passerelle.toml')}`, ...process.argv.slice(2)]));

process.stdout.write(`
Passerelle is serving examples/ingress/*.yaml (edit them: changes apply within a second).
Try:
  curl http://whoami.localhost:8000/                       # host routing, round-robin over whoami-a/whoami-b
  curl http://anything.apps.localhost:8000/                # one-label wildcard *.apps.localhost
  curl http://shop.localhost:8000/api/items                # path rule /api -> api
  curl http://shop.localhost:8000/                         # path rule /  -> web
  curl http://nope.localhost:8000/                         # no rule: 404
  curl -i http://secure.localhost:8001/login?next=1        # redirect entry point: 302 to https
  curl -k https://secure.localhost:8443/                   # TLS, certificate picked by SNI (self-signed demo)
  curl -k --http2 -sI https://secure.localhost:8443/       # HTTP/2 through ALPN
  curl -i http://whoami.localhost:8002/                    # basic auth: 401 without credentials
  curl -u klefevre:klo98zsd http://whoami.localhost:8002/  # the seed's user: 200
Stop with Ctrl-C.
`);

const stop = async (): Promise<void> => {
  await running.stop();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
