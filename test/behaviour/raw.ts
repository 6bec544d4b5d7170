/**
 * Raw HTTP/1.1 over TCP for the edge cases of the behaviour suite: a client that writes exact bytes
 * and reads exact answers, and an upstream that records the exact bytes a proxy forwards. Neither
 * uses node:http, which would normalise (or refuse) precisely what these cases are about.
 */
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { TestContext } from 'node:test';
import type { Endpoint } from '../../src/model/types.ts';

/** A header line as received: the name as written and the value without surrounding whitespace. */
export type RawHeader = readonly [name: string, value: string];

/** Every value of a header (case-insensitive name), in order of appearance. */
export function headerValues(headers: readonly RawHeader[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** The value of a header that must appear at most once; throws when it appears several times. */
export function singleHeader(headers: readonly RawHeader[], name: string): string | undefined {
  const values = headerValues(headers, name);
  if (values.length > 1) throw new Error(`header ${name} appears ${values.length} times: ${JSON.stringify(values)}`);
  return values[0];
}

/** Bytes of a string written one char = one byte (latin1), so `\x00` or `\x0b` go out as they are. */
export function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** A string quoted with every control and non-ASCII character escaped, for test names and messages. */
export function printable(s: string): string {
  return JSON.stringify(s).replace(/[\x7f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Splits a head (without its final empty line) into lines on CRLF or bare LF. */
function headLines(head: string): string[] {
  return head.split(/\r?\n/);
}

function parseHeaderLines(lines: readonly string[]): { headers: RawHeader[]; problems: string[] } {
  const headers: [string, string][] = [];
  const problems: string[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      problems.push(`obs-fold line ${JSON.stringify(line)}`);
      const last = headers.at(-1);
      if (last !== undefined) last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      problems.push(`header line without a name: ${JSON.stringify(line)}`);
      continue;
    }
    const name = line.slice(0, colon);
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) problems.push(`bad header name ${JSON.stringify(name)}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) problems.push(`control character in ${name}`);
    headers.push([name, value]);
  }
  return { headers, problems };
}

// ---------------------------------------------------------------- responses

/** An answer read off the wire. */
export interface RawResponse {
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly RawHeader[];
  /** The payload, de-chunked. */
  readonly body: Buffer;
  /** The connection ended before the framing said the body was complete. */
  readonly truncated: boolean;
}

/** What waiting for an answer gave: the answer, the connection closed first, or nothing in time. */
export type ReadResult = RawResponse | 'closed' | 'timeout';

/** Whether a read gave an answer. */
export function isResponse(r: ReadResult): r is RawResponse {
  return typeof r !== 'string';
}

/** A one-line description of a read result, for assertion messages. */
export function describe(r: ReadResult): string {
  if (!isResponse(r)) return r;
  return `${r.status} ${r.reason} ${JSON.stringify(r.body.toString('latin1').slice(0, 80))}`;
}

type Parsed<T> = { readonly value: T; readonly end: number } | undefined;

/** Decodes a chunked body starting at `from`; undefined when incomplete, throws when malformed. */
function parseChunked(buf: Buffer, from: number): Parsed<Buffer> {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const eol = buf.indexOf('\r\n', at, 'latin1');
    if (eol === -1) return undefined;
    const line = buf.toString('latin1', at, eol);
    const m = /^([0-9A-Fa-f]+)[ \t]*(;.*)?$/.exec(line);
    if (m === null) throw new Error(`bad chunk size line ${JSON.stringify(line)}`);
    const size = Number.parseInt(m[1]!, 16);
    at = eol + 2;
    if (size === 0) {
      // Trailer section, up to an empty line.
      for (;;) {
        const end = buf.indexOf('\r\n', at, 'latin1');
        if (end === -1) return undefined;
        const empty = end === at;
        at = end + 2;
        if (empty) return { value: Buffer.concat(parts), end: at };
      }
    }
    if (buf.length < at + size + 2) return undefined;
    parts.push(buf.subarray(at, at + size));
    if (buf.toString('latin1', at + size, at + size + 2) !== '\r\n') throw new Error('chunk data not followed by CRLF');
    at += size + 2;
  }
}

/**
 * Parses one response at `from`. Undefined when more bytes are needed; `closed` says the
 * connection has ended, so a body delimited by the close is complete.
 */
function parseResponse(buf: Buffer, from: number, closed: boolean): Parsed<RawResponse> {
  const headEnd = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (headEnd === -1) return undefined;
  const [statusLine = '', ...lines] = headLines(buf.toString('latin1', from, headEnd));
  const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (m === null) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine.slice(0, 100))}`);
  const version = m[1]!;
  const status = Number(m[2]);
  const reason = m[3] ?? '';
  const { headers } = parseHeaderLines(lines);
  const bodyStart = headEnd + 4;
  const base = { version, status, reason, headers };
  if ((status >= 100 && status < 200) || status === 204 || status === 304) {
    return { value: { ...base, body: Buffer.alloc(0), truncated: false }, end: bodyStart };
  }
  const te = headerValues(headers, 'transfer-encoding').join(',').toLowerCase();
  if (te.includes('chunked')) {
    const chunked = parseChunked(buf, bodyStart);
    if (chunked !== undefined) return { value: { ...base, body: chunked.value, truncated: false }, end: chunked.end };
    if (!closed) return undefined;
    return { value: { ...base, body: buf.subarray(bodyStart), truncated: true }, end: buf.length };
  }
  const cl = headerValues(headers, 'content-length')[0];
  if (cl !== undefined) {
    const n = Number(cl);
    if (buf.length >= bodyStart + n) return { value: { ...base, body: buf.subarray(bodyStart, bodyStart + n), truncated: false }, end: bodyStart + n };
    if (!closed) return undefined;
    return { value: { ...base, body: buf.subarray(bodyStart), truncated: true }, end: buf.length };
  }
  if (!closed) return undefined;
  return { value: { ...base, body: buf.subarray(bodyStart), truncated: false }, end: buf.length };
}

/** Options of {@link RawConnection.open}. */
export interface RawOpenOptions {
  /** Where the proxy listens (default 127.0.0.1). */
  readonly host?: string;
  /** The client's own address (a loopback address other than 127.0.0.1 tells the client apart). */
  readonly localAddress?: string;
  /** Connect timeout (default 5 s). */
  readonly timeoutMs?: number;
}

/**
 * A client TCP connection that writes exact bytes and reads raw answers. Destroyed in `t.after`;
 * every wait is bounded.
 */
export class RawConnection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #cursor = 0;
  #closedAt: number | undefined;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  /** When the connection was established (performance.now()). */
  readonly openedAt: number;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.openedAt = performance.now();
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#notify();
    });
    const ended = (): void => {
      this.#closedAt ??= performance.now();
      this.#notify();
    };
    socket.on('end', ended);
    socket.on('close', ended);
    socket.on('error', (err) => {
      this.#error ??= err;
      ended();
    });
  }

  /** Connects to the proxy; the socket is destroyed when the test ends. */
  static open(t: TestContext, port: number, opts: RawOpenOptions = {}): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: opts.host ?? '127.0.0.1', port, ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }) });
      t.after(() => {
        socket.destroy();
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to port ${port} timed out`));
      }, opts.timeoutMs ?? 5000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new RawConnection(socket));
      });
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves on the next event (data, end, error) or after `ms`; false on timeout. */
  #waitEvent(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Whether the peer has ended or reset the connection. */
  get closed(): boolean {
    return this.#closedAt !== undefined;
  }

  /** When the connection ended (performance.now()), if it has. */
  get closedAt(): number | undefined {
    return this.#closedAt;
  }

  /** A reset or write error seen on the connection, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Every byte received so far. */
  get received(): Buffer {
    return this.#buffer;
  }

  /** Bytes received and not consumed by {@link readResponse}. */
  get unread(): Buffer {
    return this.#buffer.subarray(this.#cursor);
  }

  /** Writes bytes (a string is written as latin1); resolves once handed to the kernel, never rejects. */
  write(data: string | Buffer): Promise<void> {
    const buf = typeof data === 'string' ? bytes(data) : data;
    return new Promise((resolve) => {
      if (this.#socket.destroyed || !this.#socket.writable) {
        resolve();
        return;
      }
      this.#socket.write(buf, (err) => {
        if (err) this.#error ??= err;
        resolve();
      });
    });
  }

  /** Reads the next answer; `closed` when the connection ends without one, `timeout` after `timeoutMs`. */
  async readResponse(timeoutMs = 5000): Promise<ReadResult> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.#buffer, this.#cursor, this.closed);
      if (parsed !== undefined) {
        this.#cursor = parsed.end;
        return parsed.value;
      }
      if (this.closed) return 'closed';
      const left = deadline - performance.now();
      if (left <= 0) return 'timeout';
      await this.#waitEvent(left);
    }
  }

  /** Reads answers until the connection closes or none starts within `quietMs`. */
  async readAll(quietMs = 500, timeoutMs = 5000): Promise<RawResponse[]> {
    const out: RawResponse[] = [];
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = Math.min(quietMs, deadline - performance.now());
      if (left <= 0) return out;
      const r = await this.readResponse(left);
      if (!isResponse(r)) return out;
      out.push(r);
    }
  }

  /** Waits for the peer to close the connection; true if it did within `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await this.#waitEvent(left);
    }
    return true;
  }

  /** Destroys the connection. */
  close(): void {
    this.#socket.destroy();
  }
}

/**
 * Sends one request on a new connection and reads its answer (`closed` or `timeout` when none).
 * The request should carry `Connection: close` when the caller wants the connection to end.
 */
export async function exchange(t: TestContext, port: number, request: string | Buffer, opts: RawOpenOptions & { readonly readTimeoutMs?: number } = {}): Promise<ReadResult> {
  const c = await RawConnection.open(t, port, opts);
  try {
    await c.write(request);
    return await c.readResponse(opts.readTimeoutMs ?? 5000);
  } finally {
    c.close();
  }
}

// ---------------------------------------------------------------- recording upstream

/** How a recorded request's body was delimited. */
export type Framing = 'none' | 'content-length' | 'chunked' | 'invalid';

/** A request as an upstream received it. */
export interface RecordedRequest {
  /** The recorder's id. */
  readonly backend: string;
  /** The connection it came on (per recorder, from 0). */
  readonly connection: number;
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly headers: readonly RawHeader[];
  /** The exact bytes of the request line and header section. */
  readonly head: Buffer;
  readonly framing: Framing;
  /** The payload received so far (de-chunked). */
  readonly body: Buffer;
  /** The whole message arrived (and was answered 200). */
  readonly complete: boolean;
  /** What a strict server would object to (ambiguous framing, obs-fold, control characters...). */
  readonly problems: readonly string[];
}

interface MutableRequest {
  backend: string;
  connection: number;
  method: string;
  target: string;
  version: string;
  headers: RawHeader[];
  head: Buffer;
  framing: Framing;
  body: Buffer;
  complete: boolean;
  problems: string[];
}

/** An upstream that records every byte it receives, on a loopback address. */
export interface Recorder {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Requests whose head has arrived, complete or not, since the last {@link reset}. */
  readonly requests: readonly RecordedRequest[];
  /** Bytes received since the last {@link reset}. */
  readonly bytesReceived: number;
  /** The raw bytes of every connection since the last {@link reset}, in order. */
  readonly connections: readonly Buffer[];
  endpoint(weight?: number): Endpoint;
  /** Forgets what was recorded (open connections keep being parsed). */
  reset(): void;
  close(): Promise<void>;
}

/** Where a connection's parser stands. */
type ConnState = { readonly kind: 'head' } | { readonly kind: 'length'; left: number } | { readonly kind: 'chunked' } | { readonly kind: 'dead' };

/**
 * Reads the framing of a request head the way a strict origin server would (RFC 9112 §6):
 * anything ambiguous is a problem and makes the framing invalid.
 */
function framingOf(headers: readonly RawHeader[], problems: string[]): { framing: Framing; length: number } {
  const te = headerValues(headers, 'transfer-encoding');
  const cl = headerValues(headers, 'content-length');
  if (te.length > 0) {
    if (cl.length > 0) problems.push('both Transfer-Encoding and Content-Length');
    if (te.length > 1) problems.push('several Transfer-Encoding lines');
    const codings = te.flatMap((v) => v.split(',')).map((c) => c.trim().toLowerCase());
    if (codings.length !== 1 || codings[0] !== 'chunked' || te[0] !== te[0]?.trim()) problems.push(`Transfer-Encoding ${JSON.stringify(te)} is not exactly "chunked"`);
    return { framing: problems.length > 0 ? 'invalid' : 'chunked', length: 0 };
  }
  if (cl.length > 0) {
    const values = cl.flatMap((v) => v.split(',')).map((v) => v.trim());
    if (cl.length > 1) problems.push('several Content-Length lines');
    if (!values.every((v) => /^\d+$/.test(v))) problems.push(`bad Content-Length ${JSON.stringify(cl)}`);
    if (new Set(values).size !== 1) problems.push(`differing Content-Length ${JSON.stringify(cl)}`);
    if (problems.length > 0) return { framing: 'invalid', length: 0 };
    return { framing: 'content-length', length: Number(values[0]) };
  }
  return { framing: 'none', length: 0 };
}

/**
 * Starts a recording upstream on `host`. It parses request heads minimally (request line and header
 * lines), delimits bodies strictly (Content-Length or chunked, anything ambiguous is refused with
 * 400 and the connection closed), and answers each complete request with a 200 whose body is its id.
 */
export async function startRecorder(id: string, host: string): Promise<Recorder> {
  let requests: MutableRequest[] = [];
  let connections: Buffer[] = [];
  let bytesReceived = 0;
  let connectionCount = 0;
  const sockets = new Set<Socket>();

  const answer = (socket: Socket, status: number, close: boolean): void => {
    const body = status === 200 ? id : `${id}: bad request`;
    const reason = status === 200 ? 'OK' : 'Bad Request';
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-recorder: ${id}\r\n${close ? 'connection: close\r\n' : ''}\r\n${body}`,
      'latin1',
    );
    if (close) socket.end();
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const connection = connectionCount++;
    const raw: { bytes: Buffer } = { bytes: Buffer.alloc(0) };
    connections.push(Buffer.alloc(0));
    const slot = connections.length - 1;
    const list = connections;
    let pending = Buffer.alloc(0);
    let state: ConnState = { kind: 'head' };
    let current: MutableRequest | undefined;

    const finish = (): void => {
      if (current === undefined) return;
      current.complete = true;
      const close = headerValues(current.headers, 'connection').some((v) => /(^|,)\s*close\s*(,|$)/i.test(v)) || current.version === 'HTTP/1.0';
      current = undefined;
      state = { kind: 'head' };
      answer(socket, 200, close);
      if (close) state = { kind: 'dead' };
    };

    const parse = (): void => {
      for (;;) {
        if (state.kind === 'dead') return;
        if (state.kind === 'head') {
          // Tolerate empty lines between messages (RFC 9112 §2.2).
          while (pending.length >= 2 && pending[0] === 0x0d && pending[1] === 0x0a) pending = pending.subarray(2);
          const end = pending.indexOf('\r\n\r\n', 0, 'latin1');
          if (end === -1) return;
          const head = pending.subarray(0, end + 4);
          pending = pending.subarray(end + 4);
          const [requestLine = '', ...lines] = headLines(head.toString('latin1', 0, end));
          const problems: string[] = [];
          const parts = requestLine.split(' ');
          if (parts.length !== 3) problems.push(`bad request line ${JSON.stringify(requestLine)}`);
          const parsed = parseHeaderLines(lines);
          problems.push(...parsed.problems);
          const { framing, length } = framingOf(parsed.headers, problems);
          current = {
            backend: id,
            connection,
            method: parts[0] ?? '',
            target: parts[1] ?? '',
            version: parts[2] ?? '',
            headers: parsed.headers,
            head,
            framing,
            body: Buffer.alloc(0),
            complete: false,
            problems,
          };
          requests.push(current);
          if (framing === 'invalid') {
            state = { kind: 'dead' };
            current = undefined;
            answer(socket, 400, true);
            return;
          }
          if (framing === 'none' || (framing === 'content-length' && length === 0)) {
            finish();
            continue;
          }
          state = framing === 'chunked' ? { kind: 'chunked' } : { kind: 'length', left: length };
          continue;
        }
        if (current === undefined) return;
        if (state.kind === 'length') {
          const take = Math.min(state.left, pending.length);
          current.body = Buffer.concat([current.body, pending.subarray(0, take)]);
          pending = pending.subarray(take);
          state.left -= take;
          if (state.left > 0) return;
          finish();
          continue;
        }
        // Chunked: consume whole chunks only.
        let result: Parsed<Buffer>;
        try {
          result = parseChunked(pending, 0);
        } catch (err) {
          current.problems.push(`bad chunked body: ${(err as Error).message}`);
          current.framing = 'invalid';
          state = { kind: 'dead' };
          current = undefined;
          answer(socket, 400, true);
          return;
        }
        if (result === undefined) {
          // Keep the payload of the chunks received so far visible (a stalled body).
          current.body = partialChunked(pending);
          return;
        }
        current.body = result.value;
        pending = pending.subarray(result.end);
        finish();
      }
    };

    socket.on('data', (chunk: Buffer) => {
      bytesReceived += chunk.length;
      raw.bytes = Buffer.concat([raw.bytes, chunk]);
      if (list === connections) connections[slot] = raw.bytes;
      pending = Buffer.concat([pending, chunk]);
      parse();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('recorder has no port');
  const port = addr.port;
  let closed: Promise<void> | undefined;
  return {
    id,
    host,
    port,
    get requests() {
      return requests;
    },
    get bytesReceived() {
      return bytesReceived;
    },
    get connections() {
      return connections;
    },
    endpoint: (weight = 1) => ({ address: host, port, weight, name: id }),
    reset: () => {
      requests = [];
      connections = [];
      bytesReceived = 0;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}

/** The payload of the complete chunks at the start of an unfinished chunked body. */
function partialChunked(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at, 'latin1');
    if (eol === -1) break;
    const size = Number.parseInt(buf.toString('latin1', at, eol).split(';')[0] ?? '', 16);
    if (!Number.isFinite(size) || size === 0) break;
    const start = eol + 2;
    parts.push(buf.subarray(start, Math.min(buf.length, start + size)));
    if (buf.length < start + size + 2) break;
    at = start + size + 2;
  }
  return Buffer.concat(parts);
}
