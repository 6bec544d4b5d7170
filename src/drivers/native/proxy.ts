import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Dispatcher } from 'undici';
import { requestPath } from '../../model/match.ts';
import { ACME_CHALLENGE_PREFIX } from '../../model/redirect.ts';
import type { Logger } from '../../shared/logger.ts';
import type { AcmeChallengeHook } from '../types.ts';
import { clientAddress, dropNames, forwardedElement, rawResponseHeaders, scanRequestHeaders } from './headers.ts';
import type { RequestHeaders } from './headers.ts';
import type { Verdict } from './middlewares.ts';
import { runMiddlewares } from './middlewares.ts';
import type { CompiledBackend, CompiledEntryPoint, Router } from './router.ts';
import { isConnectFailure, isConnectionFailure, isTimeout, pickUpstream } from './upstream.ts';

/** Driver-wide state the handlers read; `router` is the one reference `apply` swaps. */
export interface ProxyState {
  router: Router;
  readonly forwardedHeader: boolean;
  readonly acmeChallenge: AcmeChallengeHook | undefined;
  readonly logger: Logger;
}

/** What a handler knows about the listener a request came in on. */
export interface ListenerContext {
  readonly key: string;
  readonly proto: 'http' | 'https';
  readonly port: string;
  /** The router the listener was opened for, used until the driver's router knows this listener. */
  readonly router: Router;
  /** Set while the listener drains: answers carry `Connection: close`. */
  draining: boolean;
}

export type ProxyRequest = IncomingMessage | Http2ServerRequest;
export type ProxyResponse = ServerResponse | Http2ServerResponse;

/** The subset of both response classes the proxy uses. */
interface Res {
  writeHead(status: number, headers: string[] | OutgoingHttpHeaders): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: string): unknown;
  destroy(err?: Error): unknown;
  once(event: string, listener: () => void): unknown;
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  shouldKeepAlive?: boolean;
}

const SERVER = 'passerelle';
const TEXT = 'text/plain; charset=utf-8';
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Sends a short plain-text answer. */
export function sendText(res: ProxyResponse, status: number, body: string, extra?: Readonly<Record<string, string>>): void {
  const r = res as unknown as Res;
  if (r.headersSent) {
    r.destroy();
    return;
  }
  const headers: OutgoingHttpHeaders = { 'content-type': TEXT, 'content-length': Buffer.byteLength(body), server: SERVER, ...extra };
  r.writeHead(status, headers);
  r.end(body);
}

function sendVerdict(res: ProxyResponse, v: Verdict): void {
  sendText(res, v.status, v.body, v.headers);
}

/** Entry point and router serving a listener right now. */
export function currentEntryPoint(state: ProxyState, listener: ListenerContext): { router: Router; ep: CompiledEntryPoint | undefined } {
  const router = state.router;
  const ep = router.entryPoints.get(listener.key);
  if (ep !== undefined) return { router, ep };
  return { router: listener.router, ep: listener.router.entryPoints.get(listener.key) };
}

/** Appends X-Forwarded-* (and optionally Forwarded) to the upstream headers. */
export function addForwardedHeaders(state: ProxyState, listener: ListenerContext, h: RequestHeaders, remote: string | undefined): void {
  const ip = clientAddress(remote);
  const out = h.out;
  out.push(
    'x-forwarded-for',
    h.xForwardedFor === undefined ? ip : `${h.xForwardedFor}, ${ip}`,
    'x-forwarded-proto',
    listener.proto,
    'x-forwarded-host',
    h.host,
    'x-forwarded-port',
    listener.port,
  );
  if (state.forwardedHeader) {
    const el = forwardedElement(ip, h.host, listener.proto);
    out.push('forwarded', h.forwarded === undefined ? el : `${h.forwarded}, ${el}`);
  } else if (h.forwarded !== undefined) {
    out.push('forwarded', h.forwarded);
  }
}

/**
 * Answers the request when it is an ACME HTTP-01 challenge and a hook is set.
 * @returns whether the request was answered.
 */
export function answerAcme(state: ProxyState, url: string, res: ProxyResponse): boolean {
  const hook = state.acmeChallenge;
  if (hook === undefined || !url.startsWith(ACME_CHALLENGE_PREFIX)) return false;
  const token = requestPath(url).slice(ACME_CHALLENGE_PREFIX.length);
  let answer: string | undefined;
  try {
    answer = token === '' ? undefined : hook(token);
  } catch (err) {
    state.logger.warn({ err }, 'acme challenge hook failed');
  }
  if (answer === undefined) sendText(res, 404, 'Not Found\n');
  else sendText(res, 200, answer);
  return true;
}

/** The HTTP request handler of every listener (HTTP/1.1 and HTTP/2). */
export function handleRequest(state: ProxyState, listener: ListenerContext, req: ProxyRequest, res: ProxyResponse): void {
  const r = res as unknown as Res;
  if (listener.draining && req.httpVersionMajor === 1) r.shouldKeepAlive = false;
  const url = req.url ?? '/';
  if (answerAcme(state, url, res)) return;
  const { router, ep } = currentEntryPoint(state, listener);
  if (ep === undefined) {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  const h = scanRequestHeaders(req.rawHeaders, false);
  if (req.httpVersionMajor === 2) h.hasBody = !(req as Http2ServerRequest).stream.endAfterHeaders;
  if (ep.middlewares.length !== 0) {
    const verdict = runMiddlewares(ep.middlewares, h.host, url, h.authorization);
    if (verdict !== undefined) {
      sendVerdict(res, verdict);
      return;
    }
    for (const m of ep.middlewares) if (m.kind === 'basicAuth' && m.mw.removeHeader) dropNames(h.out, ['authorization']);
  }
  const q = url.indexOf('?');
  const result = router.resolve(h.host, q === -1 ? url : url.slice(0, q));
  if (!result.found) {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  const backend = result.backend;
  if (backend === undefined || backend.cycle.length === 0) {
    sendText(res, 503, 'Service Unavailable: no endpoint is ready\n');
    return;
  }
  addForwardedHeaders(state, listener, h, req.socket.remoteAddress);
  const exchange = new Exchange(state, req, r, backend, h);
  exchange.start();
}

/** One proxied request: dispatches to an endpoint, streams the answer back, retries when allowed. */
// undici's raw (pre-controller) handler API: no parsed-header object and no wrapper per request.
class Exchange implements Dispatcher.DispatchHandler {
  readonly #state: ProxyState;
  readonly #res: Res;
  readonly #backend: CompiledBackend;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #retryable: boolean;
  #index = 0;
  #attemptsLeft: number;
  #abort: ((err?: Error) => void) | undefined;
  #resumeUpstream: (() => void) | undefined;
  #started = false;
  #clientGone = false;

  constructor(state: ProxyState, req: ProxyRequest, res: Res, backend: CompiledBackend, h: RequestHeaders) {
    this.#state = state;
    this.#res = res;
    this.#backend = backend;
    const method = req.method ?? 'GET';
    this.#opts = { path: req.url ?? '/', method, headers: h.out, body: h.hasBody ? req : null };
    // A body already streamed upstream cannot be sent again.
    this.#retryable = !h.hasBody && IDEMPOTENT.has(method);
    this.#attemptsLeft = backend.upstreams.length - 1;
  }

  start(): void {
    this.#res.once('close', this.#onClientClose);
    this.#index = pickUpstream(this.#backend);
    this.#dispatch();
  }

  #dispatch(): void {
    this.#backend.upstreams[this.#index]!.pool.dispatch(this.#opts, this);
  }

  readonly #onClientClose = (): void => {
    if (this.#res.writableFinished) return;
    this.#clientGone = true;
    this.#abort?.(new Error('client closed the connection'));
  };

  readonly #onDrain = (): void => {
    this.#resumeUpstream?.();
  };

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(new Error('client closed the connection'));
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.#started = true;
    this.#resumeUpstream = resume;
    this.#res.writeHead(statusCode, rawResponseHeaders(raw, SERVER));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#res.write(chunk)) return true;
    this.#res.once('drain', this.#onDrain);
    return false;
  }

  onComplete(): void {
    this.#res.end();
  }

  onError(err: Error): void {
    if (this.#clientGone) return;
    if (this.#started) {
      // Headers are out: the only honest signal left is cutting the client connection.
      this.#res.destroy(err);
      return;
    }
    const upstream = this.#backend.upstreams[this.#index]!;
    if (isConnectFailure(err)) upstream.markDown();
    if (this.#retryable && this.#attemptsLeft > 0 && isConnectionFailure(err)) {
      this.#attemptsLeft--;
      this.#index = (this.#index + 1) % this.#backend.upstreams.length;
      this.#dispatch();
      return;
    }
    const timeout = isTimeout(err);
    this.#state.logger.debug({ err, upstream: upstream.key }, 'upstream request failed');
    sendText(this.#res as unknown as ProxyResponse, timeout ? 504 : 502, timeout ? 'Gateway Timeout\n' : 'Bad Gateway\n');
  }
}
