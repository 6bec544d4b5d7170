/*
 * Access logs (`[accessLog]`): one line per finished request, from the RequestRecords every driver
 * reports (native: measured; haproxy/nginx: parsed from their own log lines). Two formats:
 *   common: the Common Log Format, then "host" "route" "upstream" and the duration, e.g.
 *           10.0.0.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 512 "a.test" "a.test / Prefix" "10.1.0.4:80" 3ms
 *   json:   {"time":"…","entryPoint":"http","client":"10.0.0.7","method":"GET","host":"a.test",…}
 */
import { pino } from 'pino';
import type { Logger } from '../shared/logger.ts';
import type { RequestObserver, RequestRecord } from './types.ts';

/** The formats of `[accessLog] format`. */
export type AccessLogFormat = 'common' | 'json';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `10/Oct/2026:13:55:36 +0000` (UTC). */
export function clfTime(d: Date): string {
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? '???'}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/**
 * A value for a quoted CLF field: what the client sent may hold quotes, backslashes or control
 * bytes, escaped as `\xHH` (as nginx does) so that one request stays one parseable line.
 */
export function clfEscape(value: string | undefined): string {
  if (value === undefined || value === '') return '-';
  // eslint-disable-next-line no-control-regex
  return value.replace(/["\\\x00-\x1f\x7f-\uffff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? encodeURIComponent(c) : `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`;
  });
}

/** One access log line in the common format (no line end). */
export function formatCommon(r: RequestRecord): string {
  const request = `${r.method === '' ? '-' : r.method} ${r.path === '' ? '-' : r.path} ${r.protocol ?? '-'}`;
  return `${clfEscape(r.client)} - - [${clfTime(r.time)}] "${clfEscape(request)}" ${r.status} ${r.bytes} "${clfEscape(r.host)}" "${clfEscape(r.route)}" "${clfEscape(r.upstream)}" ${Math.round(r.durationMs)}ms`;
}

/** One access log line in the JSON format (no line end); absent fields are left out. */
export function formatJson(r: RequestRecord): string {
  return JSON.stringify({
    time: r.time.toISOString(),
    entryPoint: r.entryPoint,
    client: r.client,
    method: r.method,
    host: r.host,
    path: r.path,
    protocol: r.protocol,
    status: r.status,
    bytes: r.bytes,
    durationMs: Math.round(r.durationMs * 1000) / 1000,
    upstream: r.upstream,
    route: r.route,
    backend: r.backend,
    error: r.error,
  });
}

/** Options of {@link AccessLog}. */
export interface AccessLogOptions {
  readonly format: AccessLogFormat;
  /** Appended to (created with its folders when missing); absent: stdout. */
  readonly filePath?: string;
  /** Where a write failure is reported. */
  readonly logger?: Logger;
}

/** The destination of an access log: pino's SonicBoom (asynchronous, buffered, reopenable). */
type Destination = ReturnType<typeof pino.destination>;

/**
 * An access log writer: {@link observe} formats and queues a line (never blocks the request path);
 * {@link reopen} starts a new file after rotation; {@link close} flushes.
 */
export class AccessLog {
  readonly #format: (r: RequestRecord) => string;
  readonly #dest: Destination;

  constructor(options: AccessLogOptions) {
    this.#format = options.format === 'json' ? formatJson : formatCommon;
    this.#dest =
      options.filePath === undefined ? pino.destination({ fd: 1, sync: false }) : pino.destination({ dest: options.filePath, sync: false, mkdir: true, append: true });
    const logger = options.logger;
    // A full disk must not crash the proxy: the failure is reported, lines are dropped.
    this.#dest.on('error', (err: Error) => logger?.error({ err, filePath: options.filePath }, 'writing the access log failed'));
  }

  /** Writes one record (a bound function, to hand out as a driver's `observe`). */
  readonly observe: RequestObserver = (r) => {
    this.#dest.write(`${this.#format(r)}\n`);
  };

  /** Reopens the file (after log rotation moved it); nothing for stdout. */
  reopen(): void {
    this.#dest.reopen();
  }

  /** Flushes what is queued and closes the file. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#dest.once('close', () => resolve());
      this.#dest.once('error', () => resolve());
      this.#dest.end();
    });
  }
}
