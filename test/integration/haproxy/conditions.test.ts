/*
 * Route conditions and suffix hosts with a real HAProxy: the cases of conditions-cases.ts.
 */
import { test } from 'node:test';
import { createHaproxyDriver } from '../../../src/drivers/haproxy/index.ts';
import { checkConditions } from './conditions-cases.ts';
import { requireBinary } from './common.ts';

requireBinary('haproxy');

test('haproxy: route conditions fall through in the model order; suffix hosts after exact names and one-label wildcards, the longest first', async (t) => {
  await checkConditions(t, 'haproxy', createHaproxyDriver({ gracePeriodMs: 1000 }));
});
