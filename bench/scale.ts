/*
 * Scale benchmark: does a configuration with 10,000 hosts serve as fast as one with a single host?
 * For haproxy and nginx (Passerelle-rendered configurations, real binaries), it applies a model of
 * HOSTS virtual hosts (plus the measured one), times the apply (render + validate + start), then
 * drives wrk at one host, and does the same with a single host, in the same run. Loopback only.
 * Usage: bench/scale.sh   (env: HOSTS=10000 DURATION=10s CONNECTIONS=50 ROUNDS=2 MODES=haproxy,nginx)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHaproxyDriver } from '../src/drivers/haproxy/index.ts';
import { createNginxDriver } from '../src/drivers/nginx/index.ts';
import type { ExternalDriver } from '../src/drivers/external/apply.ts';
import type { RoutingModel } from '../src/model/types.ts';
import { backend, entryPoint, freePort, model, route, vhost } from '../test/behaviour/harness.ts';

const HOSTS = Number(process.env['HOSTS'] ?? 10_000);
const DURATION = process.env['DURATION'] ?? '10s';
const CONNECTIONS = process.env['CONNECTIONS'] ?? '50';
const ROUNDS = Number(process.env['ROUNDS'] ?? 2);
const MODES = (process.env['MODES'] ?? 'haproxy,nginx').split(',');

const work = mkdtempSync(path.join(tmpdir(), 'passerelle-scale-'));
const backendPort = await freePort();
writeFileSync(
  path.join(work, 'backend.conf'),
  `worker_processes 1; daemon off; pid ${work}/backend.pid; error_log ${work}/backend.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path ${work}/b1; proxy_temp_path ${work}/b2; fastcgi_temp_path ${work}/b3; uwsgi_temp_path ${work}/b4; scgi_temp_path ${work}/b5;
  server { listen 127.0.0.1:${backendPort}; location / { default_type text/plain; return 200 "ok"; } } }
`,
);
const backendProc = spawn('nginx', ['-c', path.join(work, 'backend.conf'), '-p', `${work}/`, '-e', 'stderr'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 300));

/**
 * A model with `n` hosts `hNNNN.scale.test` (Prefix "/" and "/api" each, spread over 100 Services on
 * the same upstream, so nginx cannot fold them into one server block) plus `target.scale.test`.
 */
function scaleModel(n: number, port: number): RoutingModel {
  const services = n === 0 ? 1 : Math.min(100, n);
  const hosts = [vhost('target.scale.test', [route('/', 'Prefix', 'web0')])];
  for (let i = 0; i < n; i++) {
    hosts.push(vhost(`h${String(i).padStart(5, '0')}.scale.test`, [route('/', 'Prefix', `web${i % services}`), route('/api', 'Prefix', `web${(i + 1) % services}`)]));
  }
  const backends = Array.from({ length: services }, (_, s) => backend(`web${s}`, [{ address: '127.0.0.1', port: backendPort, weight: 1, name: `web${s}` }]));
  return model({ entryPoints: [entryPoint('http', port)], virtualHosts: hosts, backends });
}

function wrk(port: number): { rps: number; p99: string; errors: string } {
  const r = spawnSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${DURATION}`, '--latency', '-H', 'Host: target.scale.test', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  const p99 = /\s99%\s+(\S+)/.exec(r.stdout)?.[1] ?? '?';
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? '0';
  const sock = /Socket errors: (.*)/.exec(r.stdout)?.[1] ?? 'none';
  return { rps, p99, errors: `non-2xx ${non2xx}, socket ${sock}` };
}

const rows: string[] = [];
const results: Record<string, number[]> = {};
for (let round = 1; round <= ROUNDS; round++) {
  for (const mode of MODES) {
    for (const n of [0, HOSTS]) {
      const port = await freePort();
      const dir = path.join(work, `${mode}-${n}-${round}`);
      const d: ExternalDriver = mode === 'haproxy' ? createHaproxyDriver({ workDir: dir }) : createNginxDriver({ workDir: dir, workerProcesses: 1 });
      const m = scaleModel(n, port);
      const started = performance.now();
      await d.apply(m);
      const applyMs = performance.now() - started;
      spawnSync('wrk', ['-t1', `-c${CONNECTIONS}`, '-d2s', '-H', 'Host: target.scale.test', `http://127.0.0.1:${port}/`]);
      const w = wrk(port);
      await d.stop(1000);
      const key = `${mode} ${n + 1}`;
      (results[key] ??= []).push(w.rps);
      rows.push(`round ${round} ${mode.padEnd(8)} ${String(n + 1).padStart(6)} hosts  first apply ${applyMs.toFixed(0).padStart(6)} ms  ${w.rps.toFixed(0).padStart(7)} req/s  p99 ${w.p99.padStart(9)}  ${w.errors}`);
      console.log(rows[rows.length - 1]);
    }
  }
}
backendProc.kill('SIGTERM');
rmSync(work, { recursive: true, force: true });

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
console.log(`\nwrk -t1 -c${CONNECTIONS} -d${DURATION} against one host; medians of ${ROUNDS} rounds`);
console.log('| mode    | 1 host req/s | ' + `${HOSTS + 1} hosts req/s | ratio |`);
console.log('|---------|--------------|---------------------|-------|');
for (const mode of MODES) {
  const one = median(results[`${mode} 1`] ?? []);
  const many = median(results[`${mode} ${HOSTS + 1}`] ?? []);
  console.log(`| ${mode.padEnd(7)} | ${one.toFixed(0).padStart(12)} | ${many.toFixed(0).padStart(19)} | ${(many / one).toFixed(2)}× |`);
}
