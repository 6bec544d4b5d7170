// Serves a Passerelle-RENDERED HAProxy or nginx configuration for bench/proxy.sh: the real driver
// renders the model, validates it with the binary and starts the proxy (bundled mode, a child of this
// process, so a `taskset` on this process pins the proxy too). The model is either one host
// (`target.bench.test`, Prefix "/") or that host plus HOSTS others (`hNNNNN.bench.test`, Prefix "/"
// and "/api" each, over 100 Services), all in front of one upstream. SIGTERM stops the proxy.
// Usage: node bench/rendered-proxy.ts haproxy|nginx LISTEN_PORT UPSTREAM_PORT HOSTS [WORK_DIR]
import { createHaproxyDriver } from '../src/drivers/haproxy/index.ts';
import { createNginxDriver } from '../src/drivers/nginx/index.ts';
import type { ExternalDriver } from '../src/drivers/external/apply.ts';
import type { RoutingModel } from '../src/model/types.ts';
import { backend, entryPoint, model, route, vhost } from '../test/behaviour/harness.ts';

const [mode, listenPort, upstreamPort, hostsArg, workDir] = process.argv.slice(2);
if ((mode !== 'haproxy' && mode !== 'nginx') || listenPort === undefined || upstreamPort === undefined || hostsArg === undefined) {
  process.stderr.write('usage: node bench/rendered-proxy.ts haproxy|nginx LISTEN_PORT UPSTREAM_PORT HOSTS [WORK_DIR]\n');
  process.exit(2);
}
const extra = Number(hostsArg);

/**
 * The measured host plus `n` others spread over 100 Services (all on the same upstream), so that the
 * configurations hold 100 backends and nginx 100 server blocks of distinct hosts, not one.
 */
function benchModel(n: number, port: number, upstream: number): RoutingModel {
  const services = n === 0 ? 1 : Math.min(100, n);
  const hosts = [vhost('target.bench.test', [route('/', 'Prefix', 'web0')])];
  for (let i = 0; i < n; i++) {
    hosts.push(vhost(`h${String(i).padStart(5, '0')}.bench.test`, [route('/', 'Prefix', `web${i % services}`), route('/api', 'Prefix', `web${(i + 1) % services}`)]));
  }
  return model({
    entryPoints: [entryPoint('http', port)],
    virtualHosts: hosts,
    backends: Array.from({ length: services }, (_, s) => backend(`web${s}`, [{ address: '127.0.0.1', port: upstream, weight: 1, name: `web${s}` }])),
  });
}

const options = workDir === undefined ? {} : { workDir };
const driver: ExternalDriver = mode === 'haproxy' ? createHaproxyDriver(options) : createNginxDriver({ ...options, workerProcesses: 1 });
const started = performance.now();
await driver.apply(benchModel(extra, Number(listenPort), Number(upstreamPort)));
process.stdout.write(`rendered ${mode} with ${extra + 1} hosts listening on 127.0.0.1:${listenPort} (apply ${Math.round(performance.now() - started)} ms, ${driver.configFile})\n`);
const shutdown = (): void => {
  void driver.stop(1000).then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
