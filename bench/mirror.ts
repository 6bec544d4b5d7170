// Serves one route for bench/mirror.sh through the driver of a mode (native: the driver on the main
// thread; haproxy / nginx: the real driver renders, validates and starts the proxy as its child, so a
// `taskset` on this process pins the proxy too). The model: host `target.bench.test`, Prefix "/" to
// the upstream, and a second backend `copy` on MIRROR; with `mirror` the route copies every request to
// `copy` (route policy mirror, 100 %), with `plain` it has no policy: the only difference.
// Usage: node bench/mirror.ts native|haproxy|nginx plain|mirror LISTEN_PORT UPSTREAM_HOST:PORT MIRROR_HOST:PORT [WORK_DIR]
import { createHaproxyDriver } from '../src/drivers/haproxy/index.ts';
import { createNativeDriver } from '../src/drivers/native/index.ts';
import { createNginxDriver } from '../src/drivers/nginx/index.ts';
import type { RoutingModel } from '../src/model/types.ts';
import { backend, entryPoint, model, route, vhost } from '../test/behaviour/harness.ts';

const USAGE = 'usage: node bench/mirror.ts native|haproxy|nginx plain|mirror LISTEN_PORT UPSTREAM_HOST:PORT MIRROR_HOST:PORT [WORK_DIR]\n';
const [mode, variant, listenPort, upstreamArg, mirrorArg, workDir] = process.argv.slice(2);

/** `host:port` as an endpoint address, or undefined when it is not one. */
function hostPort(arg: string | undefined): { address: string; port: number } | undefined {
  const m = /^([0-9.]+):([0-9]+)$/.exec(arg ?? '');
  return m === null ? undefined : { address: m[1]!, port: Number(m[2]) };
}

const upstream = hostPort(upstreamArg);
const copy = hostPort(mirrorArg);
if (
  (mode !== 'native' && mode !== 'haproxy' && mode !== 'nginx') ||
  (variant !== 'plain' && variant !== 'mirror') ||
  listenPort === undefined ||
  upstream === undefined ||
  copy === undefined
) {
  process.stderr.write(USAGE);
  process.exit(2);
}

const served = route('/', 'Prefix', 'web0');
const benchModel: RoutingModel = model({
  entryPoints: [entryPoint('http', Number(listenPort))],
  virtualHosts: [vhost('target.bench.test', [variant === 'mirror' ? { ...served, policy: { mirror: { targets: [{ backend: 'default/copy:80', percent: 100 }] } } } : served])],
  backends: [backend('web0', [{ ...upstream, weight: 1, name: 'web0' }]), backend('copy', [{ ...copy, weight: 1, name: 'copy' }])],
});

const options = workDir === undefined ? {} : { workDir };
const driver =
  mode === 'native'
    ? createNativeDriver({ connectTimeoutMs: 2000, readTimeoutMs: 30_000 })
    : mode === 'haproxy'
      ? createHaproxyDriver(options)
      : createNginxDriver({ ...options, workerProcesses: 1 });
const started = performance.now();
await driver.apply(benchModel);
process.stdout.write(`${mode} ${variant} listening on 127.0.0.1:${listenPort} (apply ${Math.round(performance.now() - started)} ms)\n`);
const shutdown = (): void => {
  void driver.stop(1000).then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
