import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayDuration } from '../../src/model/translate/gateway/routes.ts';

const CASES: readonly { readonly value: unknown; readonly ms: number | undefined }[] = [
  { value: '500ms', ms: 500 },
  { value: '10s', ms: 10_000 },
  { value: '1m30s', ms: 90_000 },
  { value: '1h2m3s4ms', ms: 3_723_004 },
  { value: '0s', ms: 0 },
  { value: '99999ms', ms: 99_999 },
  { value: '100000ms', ms: undefined },
  { value: '1.5s', ms: undefined },
  { value: '10', ms: undefined },
  { value: '1h2m3s4ms5ms', ms: undefined },
  { value: ' 10s', ms: undefined },
  { value: '-1s', ms: undefined },
  { value: 10, ms: undefined },
  { value: '', ms: undefined },
];

for (const c of CASES) {
  test(`gatewayDuration(${JSON.stringify(c.value)}) is ${String(c.ms)}`, () => {
    assert.equal(gatewayDuration(c.value), c.ms);
  });
}
