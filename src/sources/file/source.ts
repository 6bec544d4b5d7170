import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import type { KubeObject, Snapshot } from '../../model/k8s.ts';
import { groupByKind, type Source } from '../snapshot.ts';
import { parseObjectsFile } from './parse.ts';

/** Options of {@link FileSource}. */
export interface FileSourceOptions {
  readonly directory: string;
  /** Watch the folder with chokidar (default true). */
  readonly watch?: boolean;
  readonly logger?: Logger;
}

interface FileState {
  /** The last objects that parsed; kept when a later edit breaks the file. */
  readonly objects: readonly KubeObject[];
  readonly diagnostics: readonly Diagnostic[];
}

const yamlFile = /\.(ya?ml|json)$/i;

/**
 * Kubernetes objects from a folder of multi-document YAML files (recursively), watched for changes.
 * A file that stops parsing keeps its last good objects and reports its error with path and line.
 */
export class FileSource implements Source {
  readonly #dir: string;
  readonly #watch: boolean;
  readonly #log: Logger;
  readonly #files = new Map<string, FileState>();
  readonly #listeners = new Set<() => void>();
  #watcher: FSWatcher | undefined;
  #dirError: Diagnostic | undefined;

  constructor(options: FileSourceOptions) {
    this.#dir = path.resolve(options.directory);
    this.#watch = options.watch ?? true;
    this.#log = (options.logger ?? silentLogger).child({ source: 'file' });
  }

  /** Reads every file once, then starts watching. */
  async start(): Promise<void> {
    let entries: string[];
    try {
      entries = (await readdir(this.#dir, { recursive: true })).filter((f) => yamlFile.test(f)).sort();
      this.#dirError = undefined;
    } catch (err) {
      this.#dirError = {
        severity: 'error',
        code: 'PASS_FILE_DIRECTORY',
        message: `cannot read the folder: ${(err as Error).message}`,
        location: { file: this.#dir },
      };
      entries = [];
    }
    for (const rel of entries) await this.#load(path.join(this.#dir, rel));
    if (!this.#watch) return;
    const watcher = watch(this.#dir, {
      ignoreInitial: true,
      atomic: true,
      awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 },
      ignored: (p, stats) => stats?.isFile() === true && !yamlFile.test(p),
    });
    watcher.on('add', (p) => void this.#reload(p));
    watcher.on('change', (p) => void this.#reload(p));
    watcher.on('unlink', (p) => {
      if (this.#files.delete(p)) {
        this.#log.info({ file: p }, 'file removed');
        this.#emit();
      }
    });
    watcher.on('error', (err) => this.#log.error({ err }, 'watch error'));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.#watcher = watcher;
  }

  async stop(): Promise<void> {
    await this.#watcher?.close();
    this.#watcher = undefined;
  }

  snapshot(): Snapshot {
    return groupByKind([...this.#files.values()].flatMap((f) => f.objects));
  }

  diagnostics(): readonly Diagnostic[] {
    const own = this.#dirError ? [this.#dirError] : [];
    return [...own, ...[...this.#files.values()].flatMap((f) => f.diagnostics)];
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #reload(file: string): Promise<void> {
    if (!yamlFile.test(file)) return;
    await this.#load(file);
    this.#emit();
  }

  async #load(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // Deleted between the event and the read: the unlink event follows.
      this.#log.debug({ file, err }, 'file vanished before it was read');
      return;
    }
    const rel = path.relative(process.cwd(), file) || file;
    const parsed = parseObjectsFile(text, rel);
    const previous = this.#files.get(file);
    if (parsed.ok) {
      this.#files.set(file, { objects: parsed.objects, diagnostics: parsed.diagnostics });
      this.#log.debug({ file: rel, objects: parsed.objects.length, ignored: parsed.ignored }, 'file loaded');
    } else {
      this.#files.set(file, { objects: previous?.objects ?? [], diagnostics: parsed.diagnostics });
      // The diagnostics are the controller's to log (once, with a line when they clear): here only debug.
      for (const d of parsed.diagnostics) this.#log.debug({ file: rel, line: d.location?.line, code: d.code }, d.message);
      if (previous) this.#log.warn({ file: rel }, 'keeping the last good objects of this file');
    }
  }

  #emit(): void {
    for (const l of this.#listeners) l();
  }
}
