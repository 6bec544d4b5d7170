import { writeSync } from 'node:fs';
import { pino } from 'pino';
import type { Logger } from '../shared/logger.ts';

/** `--log.format`: text for a person at a terminal, JSON lines for a log collector. */
export type LogFormat = 'text' | 'json';

/** The format when none is set: text when stderr is a terminal, JSON otherwise (a container's log). */
export function defaultLogFormat(isTty: boolean = process.stderr.isTTY): LogFormat {
  return isTty ? 'text' : 'json';
}

/** pino's fields that a text line shows in its own place, not as `key=value`. */
const OWN_FIELDS = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A value of a text line: bare when it is one plain word, JSON otherwise (quoted, escaped). */
function textValue(v: unknown): string {
  if (typeof v === 'string') return /^[\w./:@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  // An error: its message (the stack only adds noise at a terminal).
  const message = typeof v === 'object' && v !== null && 'stack' in v ? (v as { message?: unknown }).message : undefined;
  if (typeof message === 'string') return JSON.stringify(message);
  return JSON.stringify(v);
}

/**
 * One log line as pino wrote it (JSON, where child bindings and the call's fields may repeat a key),
 * rewritten with each key once (the last, most specific value wins, as JSON.parse keeps it), in
 * `format`. A line that is not JSON is passed through.
 */
export function formatLogLine(line: string, format: LogFormat): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  if (format === 'json') return `${JSON.stringify(o)}\n`;
  const time = typeof o['time'] === 'number' ? new Date(o['time']).toISOString() : '';
  const level = (typeof o['level'] === 'number' ? LEVEL_NAMES[o['level']] : undefined) ?? String(o['level']);
  const fields = Object.entries(o)
    .filter(([k, v]) => !OWN_FIELDS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${textValue(v)}`);
  return `${time} ${level.padEnd(5)} ${typeof o['msg'] === 'string' ? o['msg'] : ''}${fields.length === 0 ? '' : `  ${fields.join(' ')}`}\n`;
}

/** Where the formatted lines go (stderr by default; tests pass their own). */
export type LineSink = (text: string) => void;

const toStderr: LineSink = (text) => {
  writeSync(2, text);
};

/**
 * The controller's logger: pino, on stderr, in `format` (default {@link defaultLogFormat}); every
 * line has each key once. Synchronous writes: a line is out before the process exits.
 */
export function createLogger(level: string, format: LogFormat = defaultLogFormat(), sink: LineSink = toStderr): Logger {
  return pino({ level, base: { name: 'passerelle' } }, { write: (line: string) => sink(formatLogLine(line, format)) });
}
