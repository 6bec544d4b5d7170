import { test } from 'node:test';
import { createNginxDriver } from '../../../src/drivers/nginx/index.ts';
import { requireBinary, scenarios } from '../haproxy/common.ts';

requireBinary('nginx');
const s = scenarios(() => createNginxDriver({ gracePeriodMs: 3000, workerProcesses: 1 }));

test('nginx: server names, regex one-label wildcards, = and ^~ locations, default backend', (t) => s['routing']!(t));
test('nginx: 20 reloads through the master process under a request stream lose no request', (t) => s['reloadWithoutLoss']!(t));
test('nginx: a configuration nginx -t refuses is never applied; the old one keeps serving', (t) => s['validationFailureKeepsServing']!(t));
