/*
 * The Dockerfile, checked statically (no registry or daemon here to build it): the three targets,
 * a non-root numeric USER that deploy/ runs as, tini as PID 1, a HEALTHCHECK on [web]'s /healthz,
 * the proxy binaries where each target needs them, nothing written outside /work; and hadolint
 * when it is installed.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../../..');

/** One instruction: its keyword and its arguments with continuation lines joined. */
interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string;
  readonly instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    assert.ok(m, `an instruction: ${line}`);
    const op = (m[1] ?? '').toUpperCase();
    const args = (m[2] ?? '').trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(f, `FROM image [AS name]: ${args}`);
      stages.push({ from: f[1] ?? '', name: f[2] ?? String(stages.length), instructions: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      continue;
    } else {
      const s = stages[stages.length - 1];
      assert.ok(s, `${op} before any FROM`);
      s.instructions.push({ op, args });
    }
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
const byName = new Map(stages.map((s) => [s.name, s]));

/** A stage's instructions with those of the stages it builds FROM first (inheritance of USER, ENTRYPOINT…). */
function effective(name: string): Instruction[] {
  const s = byName.get(name);
  assert.ok(s, `stage ${name}`);
  return [...(byName.has(s.from) ? effective(s.from) : []), ...s.instructions];
}
function last(name: string, op: string): string | undefined {
  return effective(name).filter((i) => i.op === op).at(-1)?.args;
}
function installs(name: string): string {
  return effective(name).filter((i) => i.op === 'RUN' && i.args.includes('apt-get install')).map((i) => i.args).join(' ');
}

const TARGETS = ['passerelle', 'passerelle-haproxy', 'passerelle-sidecar'] as const;

test('the Dockerfile has the three targets, and the native one is the default (last) stage', () => {
  for (const t of TARGETS) assert.ok(byName.has(t), `target ${t}`);
  assert.equal(stages.at(-1)?.name, 'passerelle');
});

for (const t of TARGETS) {
  test(`${t}: non-root numeric USER 65532:65532 (deploy/), tini as PID 1, HEALTHCHECK on /healthz, the config where deploy/ mounts it`, () => {
    assert.equal(last(t, 'USER'), '65532:65532');
    const entrypoint = JSON.parse(last(t, 'ENTRYPOINT') ?? 'null') as string[] | null;
    assert.ok(Array.isArray(entrypoint), 'ENTRYPOINT in exec form');
    assert.deepEqual(entrypoint.slice(0, 2), ['/usr/bin/tini', '--']);
    assert.ok(entrypoint.includes('/app/bin/passerelle.js'));
    assert.match(installs(t), /\btini\b/);
    const health = last(t, 'HEALTHCHECK') ?? '';
    assert.match(health, /CMD .*127\.0\.0\.1:8080\/healthz/);
    assert.match(health, /--timeout=\d+s/);
    const cmd = JSON.parse(last(t, 'CMD') ?? 'null') as string[] | null;
    assert.ok(Array.isArray(cmd) && cmd.includes('--configfile=/etc/passerelle/passerelle.toml'), 'CMD runs /etc/passerelle/passerelle.toml (the ConfigMap mount)');
    // Read-only root: the only declared writable place is the work directory, owned by the user.
    assert.equal(last(t, 'VOLUME'), '["/work"]');
    assert.match(installs(t) + effective(t).map((i) => i.args).join(' '), /chown 65532:65532 \/work/);
    assert.match(effective(t).filter((i) => i.op === 'EXPOSE').map((i) => i.args).join(' '), /8000 8443 8080/);
  });
}

test('proxy binaries: none in passerelle, haproxy in passerelle-haproxy, haproxy and nginx (for validation) in passerelle-sidecar', () => {
  assert.doesNotMatch(installs('passerelle'), /\b(haproxy|nginx)\b/);
  assert.match(installs('passerelle-haproxy'), /\bhaproxy\b/);
  assert.doesNotMatch(installs('passerelle-haproxy'), /\bnginx\b/);
  assert.match(installs('passerelle-sidecar'), /\bhaproxy\b.*\bnginx\b/);
  // The stock nginx image has none of Debian's dynamic modules: the controller must not find one to load.
  assert.doesNotMatch(installs('passerelle-sidecar'), /libnginx-mod/);
  for (const t of TARGETS) {
    for (const i of effective(t).filter((x) => x.op === 'RUN' && x.args.includes('apt-get install'))) {
      assert.match(i.args, /--no-install-recommends/, `${t}: ${i.args}`);
      assert.match(i.args, /rm -rf \/var\/lib\/apt\/lists/, `${t}: apt lists removed in the same layer`);
    }
  }
});

test('dependencies are installed from the lock file without dev dependencies, and only what runs is copied', () => {
  const all = stages.flatMap((s) => s.instructions);
  assert.ok(all.some((i) => i.op === 'RUN' && /npm ci --omit=dev/.test(i.args)));
  const copies = all.filter((i) => i.op === 'COPY').map((i) => i.args);
  assert.ok(!copies.some((c) => /^(\.|\.\/)\s/.test(c)), 'no COPY . (tests, benches, .git)');
  const ignore = readFileSync(path.join(root, '.dockerignore'), 'utf8');
  assert.match(ignore, /^\*$/m, '.dockerignore starts from nothing');
});

test('hadolint, when installed, finds nothing', () => {
  const r = spawnSync('hadolint', ['Dockerfile'], { cwd: root, encoding: 'utf8' });
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    // Not packaged in Debian bookworm nor on npm: the checks above stand in for it.
    return;
  }
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
