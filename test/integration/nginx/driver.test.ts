import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { createNginxDriver } from '../../../src/drivers/nginx/index.ts';
import { spawn } from 'node:child_process';
import { backend, echoOf, entryPoint, freePort, model, request, route, vhost } from '../../behaviour/harness.ts';
import { cert, served, servedCN } from '../certs.ts';
import { echoes, requireBinary, scenarios, sidecarMode, templatesWatched } from '../haproxy/common.ts';

requireBinary('nginx');
const s = scenarios(() => createNginxDriver({ gracePeriodMs: 3000, workerProcesses: 1 }));

test('nginx: server names, regex one-label wildcards, = and ^~ locations, default backend', (t) => s['routing']!(t));
test('nginx: 20 reloads through the master process under a request stream lose no request', (t) => s['reloadWithoutLoss']!(t));

test('nginx: certificates by SNI from one map, read at each handshake: a pair that would not load is left out with an error naming it, the rest applies', async (t) => {
  const d = createNginxDriver({ gracePeriodMs: 3000, workerProcesses: 1 });
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const [http, https] = [await freePort(), await freePort()];
  const good = await cert('default/good', 'good.test');
  const other = await cert('default/other', 'bad.test');
  // Each part is a well-formed PEM; together they do not load (the key is another certificate's).
  const mismatched = { ...(await cert('default/bad', 'bad.test')), keyPem: other.keyPem };
  const build = (certificates: (typeof good)[]) =>
    model({
      entryPoints: [entryPoint('http', http), entryPoint('https', https, { tls: true })],
      virtualHosts: [vhost('good.test', [route('/', 'Prefix', 'a')], 'default/good'), vhost('bad.test', [route('/', 'Prefix', 'a')], 'default/bad')],
      backends: [backend('a', [a!.endpoint()])],
      certificates,
    });
  await d.apply(build([good, mismatched]));
  const diag = d.current?.diagnostics.find((x) => x.code === 'PASS_NGINX_CERTIFICATE');
  assert.equal(diag?.severity, 'error');
  assert.match(diag?.message ?? '', /"default\/bad".*private key does not match/);
  assert.deepEqual(diag?.object, { kind: 'Secret', namespace: 'default', name: 'bad' });
  assert.equal(await servedCN(https, 'good.test'), 'good.test default/good');
  const dflt = await served(https, 'nowhere.test');
  assert.equal((await served(https, 'bad.test')).fingerprint, dflt.fingerprint, 'the host of the left-out pair gets the default certificate');
  assert.equal(echoOf(await request({ port: https, tls: true, host: 'bad.test' })).id, 'a');
  assert.equal(echoOf(await request({ port: http, host: 'good.test' })).id, 'a');
  // Workers (nobody, when the test runs as root) read the files at each handshake: 0640 to their group.
  const pem = statSync(path.join(d.workDir, 'certs/default_good.pem'));
  assert.equal(pem.mode & 0o777, process.getuid?.() === 0 ? 0o640 : 0o600);
  // Fixed: served after the next apply, the diagnostic gone.
  await d.apply(build([good, { ...other, id: 'default/bad' }]));
  assert.equal(d.current?.diagnostics.some((x) => x.code === 'PASS_NGINX_CERTIFICATE'), false);
  assert.equal(await servedCN(https, 'bad.test'), 'bad.test default/other');
});

const customLocation = `    location {{modifier}} {{loc path}} {
{{#if action.proxy}}
      proxy_pass http://{{name action.proxy}};
{{else}}
      return {{int action.status}} "Nothing here (custom template)";
{{/if}}
    }
`;

test('nginx: a change in the user template folder re-renders and re-applies; a broken template is refused', (t) =>
  templatesWatched(t, (templates) => createNginxDriver({ templates, gracePeriodMs: 2000, workerProcesses: 1 }), { file: 'nginx/location.hbs', content: customLocation }));

test('nginx: sidecar mode writes files and reloads a master started apart through the shared pid file', (t) =>
  sidecarMode(
    t,
    (workDir) => createNginxDriver({ workDir, reload: 'sidecar', gracePeriodMs: 2000, workerProcesses: 1 }),
    (workDir) => spawn('nginx', ['-c', `${workDir}/nginx.conf`, '-p', `${workDir}/`, '-e', 'stderr'], { stdio: 'ignore' }),
  ));
