/*
 * Route conditions and suffix hosts with a real nginx: the cases of ../haproxy/conditions-cases.ts.
 */
import { test } from 'node:test';
import { createNginxDriver } from '../../../src/drivers/nginx/index.ts';
import { checkConditions } from '../haproxy/conditions-cases.ts';
import { requireBinary } from '../haproxy/common.ts';

requireBinary('nginx');

test('nginx: route conditions fall through in the model order (map chains, header lines joined by Lua); suffix hosts after exact names and one-label wildcards, the longest first', async (t) => {
  await checkConditions(t, 'nginx', createNginxDriver({ gracePeriodMs: 1000, workerProcesses: 1 }));
});

test('nginx without the Lua module: the same, a header condition reading the first line of the header (nginx 1.22)', async (t) => {
  await checkConditions(t, 'nginx', createNginxDriver({ gracePeriodMs: 1000, workerProcesses: 1, luaModules: false }), true);
});
