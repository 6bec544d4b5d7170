/*
 * The `exec` provider, as lego's: a command run with `present` or `cleanup`, the record's fully
 * qualified name and its value, for whatever DNS no built-in provider covers.
 */

import { execa } from 'execa';
import type { ChallengeRecord, DnsProvider } from './types.ts';
import { DnsProviderError } from './types.ts';

/** Options of {@link ExecProvider}. */
export interface ExecOptions {
  /** The command (a path or a name on the PATH). */
  readonly command: string;
  /** Extra environment (credentials): passed to the command, never logged. */
  readonly env?: Readonly<Record<string, string>>;
  /** Per call (default 60 s). */
  readonly timeoutMs?: number;
}

/** Runs `command present|cleanup <fqdn> <value>`; a non-zero exit is the error, with its last lines. */
export class ExecProvider implements DnsProvider {
  readonly name = 'exec';
  readonly #o: ExecOptions;

  constructor(options: ExecOptions) {
    this.#o = options;
  }

  present(record: ChallengeRecord): Promise<void> {
    return this.#run('present', record);
  }

  cleanup(record: ChallengeRecord): Promise<void> {
    return this.#run('cleanup', record);
  }

  async #run(action: 'present' | 'cleanup', record: ChallengeRecord): Promise<void> {
    const r = await execa(this.#o.command, [action, record.fqdn, record.value], {
      reject: false,
      timeout: this.#o.timeoutMs ?? 60_000,
      env: { ...this.#o.env },
      stdin: 'ignore',
      stripFinalNewline: true,
    });
    if (r.exitCode === 0 && !r.failed) return;
    const tail = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(-3).join('; ');
    const how = r.timedOut ? 'timed out' : r.code === 'ENOENT' ? 'was not found' : `exited with ${String(r.exitCode ?? r.signal)}`;
    throw new DnsProviderError(`exec: "${this.#o.command} ${action} ${record.fqdn}" ${how}${tail === '' ? '' : `: ${tail}`}`);
  }
}
