import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Dispatcher } from 'undici';
import { isIP } from 'node:net';
import { isValidAuthority, normalizeTarget } from '../../model/request.ts';
import { ACME_CHALLENGE_PREFIX } from '../../model/redirect.ts';
import type { Logger } from '../../shared/logger.ts';
import type { AcmeChallengeHook } from '../types.ts';
import type { CompiledBackend } from './balance.ts';
import { pickUpstream } from './balance.ts';
import { clientAddress, dropNames, forwardedElement, rawResponseHeaders, scanRequestHeaders } from './headers.ts';
import type { RequestHeaders } from './headers.ts';
import type { ListenerContext, ProxyRequest, ProxyResponse } from './listeners.ts';
import type { BasicAuthCache, Verdict } from './middlewares.ts';
import { runMiddlewares } from './middlewares.ts';
import type { CompiledEntryPoint, Router } from './router.ts';
import { isConnectFailure, isConnectionFailure, isTimeout } from './upstream.ts';

/** Driver-wide state the handlers read; `router` is the one reference `apply` swaps. */
export interface ProxyState {
  router: Router;
  readonly forwardedHeader: boolean;
  readonly acmeChallenge: AcmeChallengeHook | undefined;
  /** Basic-auth verifications of this driver (never shared between drivers). */
  readonly authCache: BasicAuthCache;
  readonly logger: Logger;
}

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

/** Whether the client's own forwarding headers are to be kept (its address is in `trustedIPs`). */
function isTrusted(ep: CompiledEntryPoint | undefined, ip: string): boolean {
  const list = ep?.trusted;
  if (list === undefined) return false;
  const family = isIP(ip);
  return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Adds X-Forwarded-*, X-Real-IP (and optionally Forwarded) to the upstream headers: from a trusted
 * client its values are kept and X-Forwarded-For / Forwarded extended; from any other, replaced.
 */
export function addForwardedHeaders(state: ProxyState, listener: ListenerContext, ep: CompiledEntryPoint | undefined, h: RequestHeaders, remote: string | undefined): void {
  const ip = clientAddress(remote);
  const out = h.out;
  if (isTrusted(ep, ip)) {
    out.push(
      'x-forwarded-for',
      h.xForwardedFor === undefined ? ip : `${h.xForwardedFor}, ${ip}`,
      'x-forwarded-proto',
      h.xForwardedProto ?? listener.proto,
      'x-forwarded-host',
      h.xForwardedHost ?? h.host,
      'x-forwarded-port',
      h.xForwardedPort ?? listener.port,
      'x-real-ip',
      h.xRealIp ?? ip,
    );
    if (state.forwardedHeader) {
      const el = forwardedElement(ip, h.host, listener.proto);
      out.push('forwarded', h.forwarded === undefined ? el : `${h.forwarded}, ${el}`);
    } else if (h.forwarded !== undefined) {
      out.push('forwarded', h.forwarded);
    }
    return;
  }
  out.push('x-forwarded-for', ip, 'x-forwarded-proto', listener.proto, 'x-forwarded-host', h.host, 'x-forwarded-port', listener.port, 'x-real-ip', ip);
  if (state.forwardedHeader) out.push('forwarded', forwardedElement(ip, h.host, listener.proto));
}

/** A request read under the contract of src/model/request.ts: its normalised target and its host. */
export interface ReadRequest {
  /** Normalised path (what routing sees). */
  readonly path: string;
  /** Path and query as the backend receives them. */
  readonly target: string;
}

/**
 * Reads the target and the Host of a request (absolute-form authority replacing Host) and fixes the
 * upstream Host header to match.
 * @returns the read request, or undefined when it must be refused with 400.
 */
export function readRequest(req: ProxyRequest, h: RequestHeaders, ep: CompiledEntryPoint | undefined): ReadRequest | undefined {
  if (h.hostLines > 1) return undefined;
  const t = normalizeTarget(req.url ?? '/', { allowEncodedSlashes: ep?.entryPoint.allowEncodedSlashes === true });
  if (!t.ok) return undefined;
  if (t.authority !== undefined) {
    // RFC 9112 §3.2.2: the absolute-form authority replaces Host, for routing and upstream alike.
    dropNames(h.out, ['host']);
    h.out.push('host', t.authority);
    h.host = t.authority;
  } else if (h.host === '') {
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) return { path: t.path, target: t.path + t.query };
    return undefined;
  }
  if (!isValidAuthority(h.host)) return undefined;
  return { path: t.path, target: t.path + t.query };
}

/**
 * Answers the request when it is an ACME HTTP-01 challenge and a hook is set.
 * @returns whether the request was answered.
 */
export function answerAcme(state: ProxyState, path: string, res: ProxyResponse): boolean {
  const hook = state.acmeChallenge;
  if (hook === undefined || !path.startsWith(ACME_CHALLENGE_PREFIX)) return false;
  const token = path.slice(ACME_CHALLENGE_PREFIX.length);
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
  const { router, ep } = currentEntryPoint(state, listener);
  const h = scanRequestHeaders(req.rawHeaders, false);
  const read = readRequest(req, h, ep);
  if (read === undefined) {
    if (req.httpVersionMajor === 1) r.shouldKeepAlive = false;
    sendText(res, 400, 'Bad Request\n');
    return;
  }
  if (answerAcme(state, read.path, res)) return;
  if (ep === undefined) {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  if (req.httpVersionMajor === 2) h.hasBody = !(req as Http2ServerRequest).stream.endAfterHeaders;
  else if (h.hasBody) watchBody(req as IncomingMessage, r, ep.timeouts.body);
  if (ep.middlewares.length !== 0) {
    const verdict = runMiddlewares(ep.middlewares, state.authCache, h.host, read.target, h.authorization);
    if (verdict !== undefined) {
      sendVerdict(res, verdict);
      return;
    }
    for (const m of ep.middlewares) if (m.kind === 'basicAuth' && m.mw.removeHeader) dropNames(h.out, ['authorization']);
  }
  const result = router.resolve(h.host, read.path);
  if (!result.found) {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  const backend = result.backend;
  if (backend === undefined || backend.cycle.length === 0) {
    sendText(res, 503, 'Service Unavailable: no endpoint is ready\n');
    return;
  }
  addForwardedHeaders(state, listener, ep, h, req.socket.remoteAddress);
  const exchange = new Exchange(state, req, r, backend, h, read.target);
  exchange.start();
}

/** A request body that pauses longer than `ms` gets 408 (when nothing was answered yet) and the connection cut. */
function watchBody(req: IncomingMessage, res: Res, ms: number): void {
  if (ms <= 0) return;
  // A 'timeout' listener on the request keeps Node from destroying the socket before the 408 is out.
  req.setTimeout(ms, () => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    res.shouldKeepAlive = false;
    sendText(res as unknown as ProxyResponse, 408, 'Request Timeout\n');
  });
  req.once('end', () => req.socket.setTimeout(0));
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

  constructor(state: ProxyState, req: ProxyRequest, res: Res, backend: CompiledBackend, h: RequestHeaders, target: string) {
    this.#state = state;
    this.#res = res;
    this.#backend = backend;
    const method = req.method ?? 'GET';
    this.#opts = { path: target, method, headers: h.out, body: h.hasBody ? req : null };
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
    if (this.#res.headersSent) {
      // Answered meanwhile (408 on a stalled body): the upstream answer has nowhere to go.
      this.#clientGone = true;
      this.#abort?.(new Error('client already answered'));
      return true;
    }
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
