import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.ts';
import { liveConfig, restartSections } from '../../src/cli/reload.ts';

const base = `[entryPoints.web]\naddress = "127.0.0.1:8000"\n\n[proxy]\nmode = "native"\n`;

test('entry point changes are live; other changed sections are named as needing a restart', () => {
  const running = parseConfig(base, '/tmp/p.toml');
  const more = parseConfig(`${base}\n[entryPoints.admin]\naddress = "127.0.0.1:8001"\n  [entryPoints.admin.auth.basic]\n  users = ["demo:$apr1$M7pJ5fVy$/oV8m1hsMBPMpsDOzicGF0"]\n`, '/tmp/p.toml');
  assert.deepEqual(restartSections(running, more), []);
  const other = parseConfig(`${base.replace('"native"', '"nginx"')}\n[web]\naddress = "127.0.0.1:9999"\n[kubernetes]\nenabled = true\n`, '/tmp/p.toml');
  assert.deepEqual(restartSections(running, other), ['kubernetes', 'proxy', 'web']);
  const live = liveConfig(running, other);
  assert.equal(live.proxy.mode, 'native');
  assert.equal(live.kubernetes.enabled, false);
  assert.deepEqual(liveConfig(running, more).defaultEntryPoints, ['admin', 'web']);
});
