/*
 * `upstream.protocol` grpc and grpcs (ingress-nginx's backend-protocol GRPC / GRPCS): the request
 * goes to the endpoint over HTTP/2 (h2c with prior knowledge, or h2 over TLS without verifying the
 * pod's certificate, as ingress-nginx), its body streamed both ways, and the answer's trailers
 * (grpc-status, grpc-message) passed back to the client: as HTTP/2 trailers to an h2 client, in the
 * chunked trailer section to an HTTP/1.1 one. A trailers-only answer (headers with END_STREAM, how
 * gRPC servers answer an error at once) stays one to an h2 client.
 */

import { constants } from 'node:http2';
import type { ClientHttp2Stream, IncomingHttpHeaders, IncomingHttpStatusHeader, OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { TimeoutPolicy } from '../../model/policy.ts';
import type { Logger } from '../../shared/logger.ts';
import type { Balance, CompiledBackend } from './balance.ts';
import { pickEndpoint } from './balance.ts';
import { limitBody, watchSend } from './body.ts';
import { responseHeaders } from './policy.ts';
import type { HeaderEdit } from './policy.ts';
import { isConnectFailure, isConnectionFailure, isTimeout, readTimeoutError } from './upstream.ts';

/** What the gRPC exchange needs of the client's response (HTTP/1.1 or the HTTP/2 compatibility API). */
export interface GrpcResponse {
  statusCode: number;
  writeHead(status: number, headers: string[]): unknown;
  setHeader(name: string, value: string | string[]): unknown;
  addTrailers(trailers: Record<string, string>): void;
  write(chunk: Buffer): boolean;
  end(): unknown;
  destroy(err?: Error): unknown;
  once(event: string, listener: () => void): unknown;
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  shouldKeepAlive?: boolean;
}

/** The part of a request's trace the exchange fills in. */
export interface GrpcTrace {
  bytes: number;
  upstream: string | undefined;
  error: string | undefined;
}

/** One gRPC request to proxy. */
export interface GrpcRequest {
  readonly logger: Logger;
  readonly backend: CompiledBackend;
  readonly route: string;
  readonly method: string;
  readonly target: string;
  /** Headers for the upstream, flat (`host` becomes `:authority`). */
  readonly headers: readonly string[];
  /** The client's body, when it has one. */
  readonly body: Readable | undefined;
  readonly tls: boolean;
  readonly timeouts: TimeoutPolicy | undefined;
  readonly maxBody: number | undefined;
  readonly tries: number | undefined;
  readonly balance: Balance;
  readonly extraHeaders: readonly string[] | undefined;
  /** The route's response header remove and add (ResponseHeaderModifier). */
  readonly responseEdit: HeaderEdit | undefined;
  readonly trace: GrpcTrace | undefined;
  readonly serverName: string;
  /** Sends the proxy's own short answer (502, 504, 413) before anything was sent. */
  readonly answer: (status: number, body: string) => void;
  /** Its cause in words, for logs and the trace. */
  readonly cause: (err: Error) => string;
}

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2) or the proxy sets itself. */
const NOT_SENT = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings']);
/** Response headers not passed back (hop-by-hop; HTTP/2 has none, an HTTP/1.1 client must not get its own). */
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** The HTTP/2 request headers for a flat list of HTTP/1-style ones. */
export function grpcRequestHeaders(method: string, target: string, tls: boolean, flat: readonly string[]): OutgoingHttpHeaders {
  let authority = '';
  const headers: OutgoingHttpHeaders = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const value = flat[i + 1]!;
    if (name === 'host') {
      authority ||= value;
      continue;
    }
    if (NOT_SENT.has(name) || name.startsWith(':')) continue;
    const prev = headers[name];
    headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }
  return {
    ':method': method,
    ':path': target,
    ':scheme': tls ? 'https' : 'http',
    ':authority': authority,
    ...headers,
    // gRPC needs it (nginx's grpc module always sends it).
    te: 'trailers',
  };
}

/** An HTTP/2 header block as a flat list without pseudo-headers and hop-by-hop headers. */
export function flatResponseHeaders(headers: IncomingHttpHeaders, serverName: string | undefined): string[] {
  const out: string[] = [];
  let hasServer = false;
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || NOT_RETURNED.has(name) || value === undefined) continue;
    if (name === 'server') hasServer = true;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, String(value));
  }
  if (serverName !== undefined && !hasServer) out.push('server', serverName);
  return out;
}

/** Flat headers grouped by name, for setHeader. */
function grouped(flat: readonly string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const list = m.get(name);
    if (list === undefined) m.set(name, [flat[i + 1]!]);
    else list.push(flat[i + 1]!);
  }
  return m;
}

/** One proxied gRPC request: an HTTP/2 stream to an endpoint, its answer streamed back with trailers. */
export class GrpcExchange {
  readonly #r: GrpcRequest;
  readonly #res: GrpcResponse;
  readonly #headers: OutgoingHttpHeaders;
  readonly #retryable: boolean;
  #attemptsLeft: number;
  #index = 0;
  #stream: ClientHttp2Stream | undefined;
  #body: Readable | undefined;
  #started = false;
  #ended = false;
  #clientGone = false;
  #tooLarge = false;
  #failed = false;
  /** The endpoint whose in-flight count holds this request. */
  #counted: { inflight: number } | undefined;
  #sentAt = 0;

  constructor(r: GrpcRequest, res: GrpcResponse) {
    this.#r = r;
    this.#res = res;
    this.#headers = grpcRequestHeaders(r.method, r.target, r.tls, r.headers);
    this.#retryable = r.body === undefined && IDEMPOTENT.has(r.method);
    this.#attemptsLeft = Math.min(r.backend.upstreams.length, r.tries ?? Infinity) - 1;
  }

  /** Starts on `index` (an affinity's endpoint) or the next pick. */
  start(index?: number): void {
    this.#res.once('close', this.#onClientClose);
    this.#index = index ?? pickEndpoint(this.#r.backend, this.#r.balance);
    this.#dispatch();
  }

  readonly #onClientClose = (): void => {
    if (this.#res.writableFinished) return;
    this.#clientGone = true;
    this.#release();
    const stream = this.#stream;
    if (stream !== undefined && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    this.#body?.destroy();
  };

  #release(): void {
    const u = this.#counted;
    if (u === undefined) return;
    u.inflight--;
    this.#counted = undefined;
  }

  #dispatch(): void {
    const r = this.#r;
    const upstream = r.backend.upstreams[this.#index]!;
    if (r.trace !== undefined) r.trace.upstream = upstream.key;
    upstream.inflight++;
    this.#counted = upstream;
    this.#sentAt = performance.now();
    this.#failed = false;
    let stream: ClientHttp2Stream;
    let done: () => void;
    try {
      const lease = upstream.h2(r.tls, r.timeouts?.connect).session();
      done = lease.done;
      stream = lease.session.request(this.#headers, { endStream: r.body === undefined });
    } catch (err) {
      this.#onError(err as Error);
      return;
    }
    this.#stream = stream;
    const attempt = stream;
    attempt.once('close', () => {
      done();
      if (this.#stream !== attempt) return;
      this.#release();
      if (this.#started && !this.#ended && !this.#clientGone) {
        // Reset after the answer started: the only signal left is cutting the client's stream.
        this.#res.destroy(new Error('upstream stream closed before its end'));
      } else if (!this.#started && !this.#failed && !this.#clientGone) {
        this.#onError(Object.assign(new Error(`upstream stream closed (code ${attempt.rstCode ?? '?'})`), { code: 'ECONNRESET' }));
      }
    });
    attempt.on('error', (err: Error) => {
      if (this.#stream === attempt) this.#onError(err);
    });
    const readTimeout = r.timeouts?.read ?? upstream.readTimeoutMs;
    if (readTimeout > 0) attempt.setTimeout(readTimeout, () => attempt.destroy(readTimeoutError(readTimeout)));
    attempt.once('response', (headers: IncomingHttpHeaders & IncomingHttpStatusHeader, flags: number) => this.#onResponse(attempt, headers, flags));
    attempt.on('data', (chunk: Buffer) => this.#onData(attempt, chunk));
    let trailers: Record<string, string> | undefined;
    attempt.once('trailers', (t: IncomingHttpHeaders) => {
      trailers = {};
      for (let i = 0, flat = flatResponseHeaders(t, undefined); i < flat.length; i += 2) {
        const name = flat[i]!;
        trailers[name] = trailers[name] === undefined ? flat[i + 1]! : `${trailers[name]}, ${flat[i + 1]!}`;
      }
    });
    attempt.once('end', () => {
      if (this.#ended || !this.#started || this.#clientGone) return;
      this.#ended = true;
      if (trailers !== undefined) this.#res.addTrailers(trailers);
      this.#res.end();
    });
    if (r.body !== undefined && this.#body === undefined) this.#sendBody(attempt, r.body);
  }

  #sendBody(stream: ClientHttp2Stream, source: Readable): void {
    const r = this.#r;
    let body = source;
    if (r.maxBody !== undefined && r.maxBody > 0) body = limitBody(body, r.maxBody, () => (this.#tooLarge = true));
    if (r.timeouts?.send !== undefined) body = watchSend(body, r.timeouts.send);
    this.#body = body;
    body.once('error', (err: Error) => {
      if (this.#stream !== stream || this.#clientGone) return;
      this.#onError(err);
      if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    });
    body.pipe(stream);
  }

  #onResponse(stream: ClientHttp2Stream, headers: IncomingHttpHeaders & IncomingHttpStatusHeader, flags: number): void {
    if (this.#stream !== stream || this.#clientGone || this.#failed) return;
    const r = this.#r;
    const res = this.#res;
    if (res.headersSent) {
      // Answered meanwhile (408 on a stalled body): the upstream answer has nowhere to go.
      this.#clientGone = true;
      stream.close(constants.NGHTTP2_CANCEL);
      return;
    }
    this.#started = true;
    const upstream = r.backend.upstreams[this.#index]!;
    upstream.answered = true;
    upstream.recordLatency(performance.now() - this.#sentAt);
    const status = Number(headers[':status'] ?? 502);
    let flat = flatResponseHeaders(headers, r.serverName);
    flat = responseHeaders(flat, r.extraHeaders, r.responseEdit);
    if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
      // Trailers-only: set, not written, so the headers go out with END_STREAM.
      this.#ended = true;
      res.statusCode = status;
      for (const [name, values] of grouped(flat)) res.setHeader(name, values.length === 1 ? values[0]! : values);
      res.end();
      return;
    }
    res.writeHead(status, flat);
  }

  #onData(stream: ClientHttp2Stream, chunk: Buffer): void {
    if (this.#stream !== stream || !this.#started || this.#ended || this.#clientGone) return;
    const trace = this.#r.trace;
    if (trace !== undefined) trace.bytes += chunk.length;
    if (this.#res.write(chunk)) return;
    stream.pause();
    this.#res.once('drain', () => stream.resume());
  }

  #onError(err: Error): void {
    if (this.#clientGone || this.#failed) return;
    this.#failed = true;
    const r = this.#r;
    const res = this.#res;
    this.#release();
    const upstream = r.backend.upstreams[this.#index]!;
    const cause = r.cause(err);
    if (r.trace !== undefined) r.trace.error = cause;
    if (this.#started) {
      if (this.#ended) return;
      r.logger.warn({ upstream: upstream.key, backend: r.backend.id, route: r.route, cause }, `upstream ${upstream.key} broke off its answer: ${cause}`);
      res.destroy(err);
      return;
    }
    if (this.#tooLarge && !res.headersSent) {
      res.shouldKeepAlive = false;
      r.answer(413, 'Request Entity Too Large\n');
      return;
    }
    if (isConnectFailure(err)) upstream.markDown();
    if (isTimeout(err)) upstream.recordLatency(performance.now() - this.#sentAt);
    if (this.#retryable && this.#attemptsLeft > 0 && isConnectionFailure(err)) {
      this.#attemptsLeft--;
      this.#index = (this.#index + 1) % r.backend.upstreams.length;
      this.#dispatch();
      return;
    }
    const timeout = isTimeout(err);
    const status = timeout ? 504 : 502;
    r.logger.warn({ status, upstream: upstream.key, backend: r.backend.id, route: r.route, cause }, `${status} for ${r.route}: upstream ${upstream.key} failed: ${cause}`);
    // A body not read to its end: the connection cannot carry another request.
    if (r.body !== undefined) res.shouldKeepAlive = false;
    r.answer(status, timeout ? 'Gateway Timeout\n' : 'Bad Gateway\n');
  }
}
