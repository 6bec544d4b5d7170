import { test } from 'node:test';
import { createNginxDriver } from '../../../src/drivers/nginx/index.ts';
import { spawn } from 'node:child_process';
import { requireBinary, scenarios, sidecarMode, templatesWatched } from '../haproxy/common.ts';

requireBinary('nginx');
const s = scenarios(() => createNginxDriver({ gracePeriodMs: 3000, workerProcesses: 1 }));

test('nginx: server names, regex one-label wildcards, = and ^~ locations, default backend', (t) => s['routing']!(t));
test('nginx: 20 reloads through the master process under a request stream lose no request', (t) => s['reloadWithoutLoss']!(t));
test('nginx: a configuration nginx -t refuses is never applied; the old one keeps serving', (t) => s['validationFailureKeepsServing']!(t));

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
