import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkWorkerReadable, unreadableReason } from '../../src/drivers/external/readable.ts';
import type { PathMode, WorkerAccount } from '../../src/drivers/external/readable.ts';
import { PassError } from '../../src/shared/errors.ts';

const nobody: WorkerAccount = { user: 'nobody', uid: 65534, gids: [65534, 33] };
const dir = (p: string, mode: number, uid = 0, gid = 0): PathMode => ({ path: p, mode, uid, gid });

test('a 0640 file of the worker group under traversable directories is readable', () => {
  const chain = [dir('/', 0o755), dir('/var', 0o755), dir('/var/work', 0o711), dir('/var/work/auth.htpasswd', 0o640, 0, 65534)];
  assert.equal(unreadableReason(nobody, chain), undefined);
});

test('a parent directory without x for others (0700) is named, with its mode', () => {
  const chain = [dir('/', 0o755), dir('/root', 0o700), dir('/root/work', 0o711), dir('/root/work/a.htpasswd', 0o640, 0, 65534)];
  assert.match(unreadableReason(nobody, chain) ?? '', /directory \/root \(mode 0700, owner 0:0\) cannot be traversed by nobody/);
});

test('the class that applies is used: owner, else a group of the account (supplementary too), else others', () => {
  // Others may read, but the account is in the group, whose bits say no: the kernel refuses.
  assert.match(unreadableReason(nobody, [dir('/', 0o755), dir('/f', 0o604, 0, 65534)]) ?? '', /cannot be read by nobody/);
  assert.equal(unreadableReason(nobody, [dir('/', 0o755), dir('/f', 0o640, 0, 33)]), undefined);
  assert.equal(unreadableReason(nobody, [dir('/', 0o750, 0, 33), dir('/f', 0o400, 65534, 0)]), undefined);
  assert.match(unreadableReason(nobody, [dir('/', 0o755), dir('/f', 0o600)]) ?? '', /\/f \(mode 0600, owner 0:0\) cannot be read/);
  assert.equal(unreadableReason({ user: 'root', uid: 0, gids: [0] }, [dir('/', 0o700), dir('/f', 0o000)]), undefined);
});

test('checkWorkerReadable gives its own subdirectories their x bits, and fails naming file and user on a parent it does not own', async (t) => {
  const base = mkdtempSync(path.join(tmpdir(), 'passerelle-readable-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  chmodSync(base, 0o755);
  const work = path.join(base, 'work');
  mkdirSync(path.join(work, 'auth'), { recursive: true });
  chmodSync(work, 0o711);
  chmodSync(path.join(work, 'auth'), 0o700);
  const file = path.join(work, 'auth', 'users.htpasswd');
  writeFileSync(file, 'demo:x\n', { mode: 0o644 });
  chmodSync(file, 0o644);
  // An account that owns nothing here: only the others bits apply.
  const other: WorkerAccount = { user: 'stranger', uid: 4_000_000, gids: [4_000_000] };
  await checkWorkerReadable(work, [file], other);
  assert.equal(statSync(path.join(work, 'auth')).mode & 0o777, 0o711);
  chmodSync(base, 0o700);
  await assert.rejects(checkWorkerReadable(work, [file], other), (err: unknown) => {
    assert.ok(err instanceof PassError);
    assert.equal(err.code, 'PASS_PROXY_UNREADABLE');
    assert.match(err.message, /run as "stranger" and cannot read .*users\.htpasswd: the directory .* \(mode 0700/);
    return true;
  });
  // The parent is not the controller's: it is left as it was.
  assert.equal(statSync(base).mode & 0o777, 0o700);
});
