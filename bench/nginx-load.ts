/*
 * What loading nginx's Lua module costs a large configuration: the same model (HOSTS hosts, each its
 * own server block, over 100 Services) applied by the nginx driver with the Lua balancer and without
 * it (template path), then `nginx -t` of each rendered configuration timed RUNS times, side by side,
 * alternating. That parse is most of a reload (every structural change in nginx mode).
 * Usage: npx node bench/nginx-load.ts   (env: HOSTS=2000 RUNS=5)
 */
import { execa } from 'execa';
import { createNginxDriver } from '../src/drivers/nginx/index.ts';
import type { RoutingModel } from '../src/model/types.ts';
import { backend, entryPoint, freePort, model, route, startEcho, vhost } from '../test/behaviour/harness.ts';

const HOSTS = Number(process.env['HOSTS'] ?? 2000);
const RUNS = Number(process.env['RUNS'] ?? 5);
const SERVICES = 100;

const echo = await startEcho('site');
const hosts = Array.from({ length: HOSTS }, (_, i) => vhost(`h${i}.load.test`, [route('/', 'Prefix', `web${i % SERVICES}`), route(`/p${i}`, 'Prefix', `web${(i + 1) % SERVICES}`)]));
// The same model on a port of its own per variant (both nginx run at once).
const modelOn = (port: number): RoutingModel =>
  model({ entryPoints: [entryPoint('http', port)], virtualHosts: hosts, backends: Array.from({ length: SERVICES }, (_, s) => backend(`web${s}`, [echo.endpoint()])) });

const variants = [
  { name: 'with Lua balancer', driver: createNginxDriver({ workerProcesses: 1, gracePeriodMs: 1000 }) },
  { name: 'template path (no Lua)', driver: createNginxDriver({ workerProcesses: 1, gracePeriodMs: 1000, luaModules: false }) },
];
const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
try {
  for (const v of variants) await v.driver.apply(modelOn(await freePort()));
  for (let r = 0; r < RUNS; r++) {
    for (const v of variants) {
      const workDir = v.driver.workDir;
      const t0 = performance.now();
      await execa('nginx', ['-t', '-q', '-c', v.driver.configFile, '-p', `${workDir}/`, '-e', 'stderr']);
      times.get(v.name)?.push(performance.now() - t0);
    }
  }
} finally {
  for (const v of variants) await v.driver.stop(500);
  await echo.close();
}
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const base = median(times.get('template path (no Lua)') ?? []);
console.log(`\nnginx -t of one rendered configuration, ${HOSTS} server blocks, median of ${RUNS} (alternating runs)`);
console.log('| nginx                  | nginx -t ms | ratio |');
console.log('|------------------------|-------------|-------|');
for (const v of variants) {
  const t = median(times.get(v.name) ?? []);
  console.log(`| ${v.name.padEnd(22)} | ${t.toFixed(0).padStart(11)} | ${(t / base).toFixed(2).padStart(5)} |`);
}
process.exit(0);
