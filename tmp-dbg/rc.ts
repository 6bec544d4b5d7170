import { Agent } from 'node:http';
import { createHaproxyDriver } from '../src/drivers/haproxy/index.ts';
import { backend, echoOf, entryPoint, model, request, route, startEcho, vhost } from '../test/behaviour/harness.ts';
const d = createHaproxyDriver({ workDir: '/tmp/dbgwork3', gracePeriodMs: 5000 });
const [a, b, c] = [await startEcho('a'), await startEcho('b'), await startEcho('c')];
const ep = entryPoint('http', 18779);
const build = (i: number) => model({ entryPoints: [ep], virtualHosts: [vhost('swap.test', [route('/svc', 'Prefix', 'svc'), route(`/v${i}`, 'Exact', 'other')])], backends: [backend('svc', [(i === 20 ? c : i % 2 === 0 ? a : b)!.endpoint()]), backend('other', [c!.endpoint()])] });
await d.apply(build(0));
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
for (let i = 1; i <= 20; i++) { await d.apply(build(i)); await request({ port: 18779, host: 'swap.test', path: '/svc/x', agent }); }
console.log('reloads', d.reloads, 'runtime', d.runtimeUpdates);
const ids = (await Promise.all(Array.from({ length: 16 }, () => request({ port: 18779, host: 'swap.test', path: '/svc/x', agent })))).map((r) => echoOf(r).id).join('');
console.log(ids);
agent.destroy(); await d.stop(100); await a.close(); await b.close(); await c.close();
