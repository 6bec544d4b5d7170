/*
 * What a rendering depended on besides the model and the [proxy] options, saved beside the
 * configuration each time one is written: the dialect's layout (HAProxy's server slots and prefix
 * depth) and the address the ACME challenge path is forwarded to. The driver starts from it after a
 * restart, and `render --diff` renders with it, so both render exactly what the work directory holds.
 */
import path from 'node:path';
import type { HostPort } from '../../render/types.ts';
import { readIfExists, writeAtomic } from './files.ts';

/** The state file, relative to the work directory. */
export const RENDER_STATE_FILE = 'passerelle-state.json';

/** Bumped when the file's shape changes; another version is ignored (a fresh layout is always valid). */
const VERSION = 1;

/** What a rendering depended on besides the model and the options; see the file comment. */
export interface RenderState<L> {
  readonly acmeChallengeAddress: HostPort | undefined;
  /** The controller's request log receiver the proxy logs to (optional in the file: older files lack it). */
  readonly requestLogAddress?: HostPort | undefined;
  /** The dialect's layout; undefined: none (nginx), or the next rendering starts a fresh one. */
  readonly layout: L | undefined;
}

/** Saves the state of the configuration just written to `workDir` (atomically, like the configuration). */
export async function saveRenderState<L>(workDir: string, dialect: string, state: RenderState<L>): Promise<void> {
  const json = { version: VERSION, dialect, acmeChallengeAddress: state.acmeChallengeAddress ?? null, requestLogAddress: state.requestLogAddress ?? null, layout: state.layout ?? null };
  await writeAtomic(path.join(workDir, RENDER_STATE_FILE), `${JSON.stringify(json, null, 2)}\n`, 0o644);
}

function isHostPort(v: unknown): v is HostPort {
  if (typeof v !== 'object' || v === null) return false;
  const { host, port } = v as { host?: unknown; port?: unknown };
  return typeof host === 'string' && typeof port === 'number' && Number.isInteger(port) && port > 0 && port <= 65535;
}

/**
 * Reads the state saved in `workDir` for `dialect`: undefined when there is none. A file that cannot
 * be read as one (another dialect or version, bad JSON, a layout `parseLayout` refuses) is reported
 * to `onProblem` and ignored: the next rendering then starts afresh, which is valid, if less stable.
 */
export async function loadRenderState<L>(
  workDir: string,
  dialect: string,
  parseLayout: (value: unknown) => L | undefined,
  onProblem: (message: string) => void = () => {},
): Promise<RenderState<L> | undefined> {
  const file = path.join(workDir, RENDER_STATE_FILE);
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    onProblem(`${file} is not JSON (${(err as Error).message}); ignored`);
    return undefined;
  }
  const { version, dialect: savedDialect, acmeChallengeAddress, requestLogAddress, layout } = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  if (version !== VERSION || savedDialect !== dialect) {
    onProblem(`${file} holds the state of another driver (${String(savedDialect)}, version ${String(version)}), not of this ${dialect} driver (version ${VERSION}); ignored`);
    return undefined;
  }
  const parsed = layout === null ? undefined : parseLayout(layout);
  if (layout !== null && parsed === undefined) onProblem(`${file}: the saved layout cannot be read; a fresh one is allocated`);
  return {
    acmeChallengeAddress: isHostPort(acmeChallengeAddress) ? acmeChallengeAddress : undefined,
    requestLogAddress: isHostPort(requestLogAddress) ? requestLogAddress : undefined,
    layout: parsed,
  };
}
