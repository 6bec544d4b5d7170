// Starts the native driver with a one-route model in front of one upstream, for bench/proxy.sh, with
// WORKERS worker threads chosen here (not the config's default): 1 is the driver on the main thread,
// as `passerelle run` wires `[proxy] workers = 1`; N > 1 is the worker pool of `[proxy] workers = N`.
// Usage: node bench/native-proxy.ts LISTEN_PORT UPSTREAM_PORT [WORKERS] [HOST]
import { createNativeDriver } from '../src/drivers/native/index.ts';
import { createNativeWorkerPool } from '../src/drivers/native/workers.ts';
import type { RoutingModel } from '../src/model/types.ts';

const [listenPort, upstreamPort, workersArg = '1', host = '127.0.0.1'] = process.argv.slice(2);
const workers = Number(workersArg);
if (listenPort === undefined || upstreamPort === undefined || !Number.isInteger(workers) || workers < 1) {
  process.stderr.write('usage: node bench/native-proxy.ts LISTEN_PORT UPSTREAM_PORT [WORKERS] [HOST]\n');
  process.exit(2);
}

const source = { kind: 'Ingress', namespace: 'bench', name: 'bench' } as const;
const model: RoutingModel = {
  entryPoints: [{ name: 'http', address: { host, port: Number(listenPort) }, tls: false, middlewares: [] }],
  virtualHosts: [
    { host: '*', kind: 'any', routes: [{ path: '/', pathType: 'Prefix', backend: 'bench/backend:80', source, field: 'spec' }], sources: [source] },
  ],
  backends: {
    'bench/backend:80': {
      id: 'bench/backend:80',
      namespace: 'bench',
      service: 'backend',
      servicePort: 80,
      endpoints: [{ address: '127.0.0.1', port: Number(upstreamPort), weight: 1 }],
      protocol: 'http',
    },
  },
  certificates: [],
  diagnostics: [],
};

const timeouts = { connectTimeoutMs: 2000, readTimeoutMs: 30_000 };
const driver = workers === 1 ? createNativeDriver(timeouts) : createNativeWorkerPool({ ...timeouts, workers });
await driver.apply(model);
process.stdout.write(`native proxy (${workers === 1 ? '1 worker: main thread' : `${workers} worker threads`}) listening on ${host}:${listenPort}\n`);
const shutdown = (): void => {
  void driver.stop(1000).then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
