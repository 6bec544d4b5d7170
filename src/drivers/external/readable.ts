/*
 * Whether the proxy's unprivileged workers can read a file: nginx started as root runs its workers as
 * another user, and they open the password files themselves. A file under a directory they cannot
 * traverse (a work directory below a 0700 folder) would make basic auth answer 500.
 */
import { statSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { PassError } from '../../shared/errors.ts';

/** The account the proxy's workers run as: its user id and every group it belongs to. */
export interface WorkerAccount {
  readonly user: string;
  readonly uid: number;
  /** The primary group and the supplementary ones. */
  readonly gids: readonly number[];
}

/** What the check reads of a path. */
export interface PathMode {
  readonly path: string;
  /** Permission bits (`stat.mode & 0o777` is enough). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** The permission bits (r=4, x=1) that apply to `account` on a path: owner, else group, else others. */
function bitsFor(account: WorkerAccount, p: PathMode): number {
  if (account.uid === 0) return 0o7;
  if (p.uid === account.uid) return (p.mode >> 6) & 0o7;
  if (account.gids.includes(p.gid)) return (p.mode >> 3) & 0o7;
  return p.mode & 0o7;
}

/**
 * Why `account` cannot read the last path of `chain`, or undefined when it can. `chain` lists every
 * directory from the root down to the file, then the file: each directory needs its x bit for the
 * account, the file its r bit (the bits of the owner, group or others class that applies, as the kernel does).
 */
export function unreadableReason(account: WorkerAccount, chain: readonly PathMode[]): string | undefined {
  const file = chain.at(-1);
  if (file === undefined) return undefined;
  for (const dir of chain.slice(0, -1)) {
    if ((bitsFor(account, dir) & 0o1) === 0) {
      return `the directory ${dir.path} (mode ${(dir.mode & 0o777).toString(8).padStart(4, '0')}, owner ${dir.uid}:${dir.gid}) cannot be traversed by ${account.user}`;
    }
  }
  if ((bitsFor(account, file) & 0o4) === 0) return `${file.path} (mode ${(file.mode & 0o777).toString(8).padStart(4, '0')}, owner ${file.uid}:${file.gid}) cannot be read by ${account.user}`;
  return undefined;
}

/** The modes of every directory from `/` down to `file`, then of `file`; `dirs` remembers directories already read. */
export async function modeChain(file: string, dirs: Map<string, Promise<PathMode>> = new Map()): Promise<PathMode[]> {
  const abs = path.resolve(file);
  const paths: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    paths.unshift(p);
    if (path.dirname(p) === p) break;
  }
  // Synchronous on purpose: thousands of certificate files, each stat through the thread pool, take seconds on a busy machine.
  const read = async (p: string): Promise<PathMode> => {
    const s = statSync(p);
    return { path: p, mode: s.mode & 0o777, uid: s.uid, gid: s.gid };
  };
  return Promise.all(
    paths.map((p, i) => {
      if (i === paths.length - 1) return read(p);
      let d = dirs.get(p);
      if (d === undefined) dirs.set(p, (d = read(p)));
      return d;
    }),
  );
}

/**
 * Checks that `account` can read each of `files` (paths inside `workDir`). Directories below
 * `workDir` are the controller's own: those the account cannot traverse are given their x bits.
 * Each directory is read once per call (thousands of certificate files share one).
 * @throws PassError PASS_PROXY_UNREADABLE naming the file, the user and the directory or mode at fault.
 */
export async function checkWorkerReadable(workDir: string, files: readonly string[], account: WorkerAccount): Promise<void> {
  const root = path.resolve(workDir);
  const dirs = new Map<string, Promise<PathMode>>();
  for (const file of files) {
    let chain = await modeChain(file, dirs);
    let fixed = false;
    for (const dir of chain.slice(0, -1)) {
      const inside = dir.path.startsWith(`${root}${path.sep}`);
      if (inside && (bitsFor(account, dir) & 0o1) === 0) {
        await chmod(dir.path, dir.mode | 0o111);
        dirs.delete(dir.path);
        fixed = true;
      }
    }
    if (fixed) chain = await modeChain(file, dirs);
    const reason = unreadableReason(account, chain);
    if (reason !== undefined) {
      throw new PassError(
        'PASS_PROXY_UNREADABLE',
        `the proxy's workers run as "${account.user}" and cannot read ${file}: ${reason}; make the work directory's parents traversable (chmod o+x) or set [proxy] workDir to a directory that is`,
      );
    }
  }
}
