import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { chmodSync, chownSync, closeSync, fchmodSync, fchownSync, fstatSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { RenderedConfig, RenderedFile } from '../../render/types.ts';
import type { PathMode } from './readable.ts';

/**
 * Writes a file atomically: a temporary file in the same directory, then rename over the target.
 * With `group`, the file belongs to that group (the proxy's worker group) before it appears.
 */
export async function writeAtomic(file: string, content: string, mode: number, group?: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode });
  if (group !== undefined) await chown(tmp, process.getuid?.() ?? 0, group);
  // writeFile's mode is masked by the umask; keys must end up 0600 exactly.
  await chmod(tmp, mode);
  await rename(tmp, file);
}

/** The mode and group a rendered file gets on disk: worker-readable files are 0640 to the worker group when there is one. */
function placement(f: RenderedFile, workerGroup: number | undefined): { mode: number; group?: number } {
  if (f.workerReadable !== true || workerGroup === undefined) return { mode: f.mode };
  return { mode: f.mode | 0o040, group: workerGroup };
}

/** The auxiliary files of `next` that `previous` does not have with the same content and mode (all when undefined). */
export function changedFiles(next: RenderedConfig, previous: RenderedConfig | undefined): RenderedFile[] {
  const before = new Map((previous?.files ?? []).map((f) => [f.path, f]));
  return next.files.filter((f) => {
    const old = before.get(f.path);
    return old === undefined || old.content !== f.content || old.mode !== f.mode;
  });
}

/**
 * Writes the auxiliary files of a rendering that differ from `previous` (all when undefined).
 * `workerGroup`: the group of unprivileged proxy workers, which must read worker-readable files;
 * `only`: which of them to write (the others in another call). Resolves to the mode and owner of
 * each file it created, by absolute path, as the open file gave them (a readability check needs no stat of its own).
 */
export async function writeAuxFiles(workDir: string, next: RenderedConfig, previous: RenderedConfig | undefined, workerGroup?: number, only?: (f: RenderedFile) => boolean): Promise<Map<string, PathMode>> {
  const changed = changedFiles(next, previous).filter((f) => only === undefined || only(f));
  for (const dir of new Set(changed.map((f) => path.dirname(path.join(workDir, f.path))))) mkdirSync(dir, { recursive: true });
  // Synchronous on purpose: thousands of certificate files through the thread pool take seconds on a
  // busy machine (bench/tls-hosts.ts), in one go a fraction of one; a change of a few files takes microseconds.
  const created = new Map<string, PathMode>();
  for (const f of changed) {
    const p = placement(f, workerGroup);
    const file = path.join(workDir, f.path);
    const made = createNew(file, f.content, p.mode, p.group);
    if (made !== undefined) {
      created.set(file, made);
      continue;
    }
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, f.content, { mode: p.mode });
    if (p.group !== undefined) chownSync(tmp, process.getuid?.() ?? 0, p.group);
    chmodSync(tmp, p.mode);
    renameSync(tmp, file);
  }
  return created;
}

/**
 * Writes a file that does not exist yet in place (nothing can be reading it: no temporary file and
 * rename needed), resolving to its mode and owner; undefined, writing nothing, when it exists.
 */
function createNew(file: string, content: string, mode: number, group: number | undefined): PathMode | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
  try {
    if (group !== undefined) fchownSync(fd, process.getuid?.() ?? 0, group);
    const st = fstatSync(fd);
    // The mode of open is masked by the umask; keys must end up 0600 exactly (a chmod only when masked).
    if ((st.mode & 0o7777) !== mode) fchmodSync(fd, mode);
    writeSync(fd, content);
    return { path: file, mode: (st.mode & 0o7777) === mode ? st.mode & 0o777 : mode & 0o777, uid: st.uid, gid: st.gid };
  } finally {
    closeSync(fd);
  }
}

/** Puts the auxiliary files of `previous` back (after a failed validation), removing files it did not have. */
export async function restoreAuxFiles(workDir: string, failed: RenderedConfig, previous: RenderedConfig | undefined, workerGroup?: number): Promise<void> {
  const keep = new Set((previous?.files ?? []).map((f) => f.path));
  for (const f of failed.files) if (!keep.has(f.path)) await rm(path.join(workDir, f.path), { force: true });
  if (previous !== undefined) await writeAuxFiles(workDir, previous, failed, workerGroup);
}

/** Copies a rendered main configuration into `history/`, keeping the newest `keep` of them. */
export async function keepHistory(workDir: string, main: RenderedFile, keep: number): Promise<void> {
  if (keep <= 0) return;
  const dir = path.join(workDir, 'history');
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  await writeFile(path.join(dir, `${stamp}-${main.path}`), main.content, { mode: 0o644 });
  const names = (await readdir(dir)).filter((n) => n.endsWith(main.path)).sort();
  for (const n of names.slice(0, Math.max(0, names.length - keep))) await rm(path.join(dir, n), { force: true });
}

/** Reads a file, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
