import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Dispatcher } from 'undici';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { isValidAuthority, normalizeTarget } from '../../model/request.ts';
import { ACME_CHALLENGE_PREFIX } from '../../model/redirect.ts';
import type { Logger } from '../../shared/logger.ts';
import type { AcmeChallengeHook, RequestObserver } from '../types.ts';
import type { Balance, CompiledBackend } from './balance.ts';
import { affinityUpstream, pickEndpoint } from './balance.ts';
import { limitBody, watchSend } from './body.ts';
import { pickMirrors, sendMirror, teeBody } from './mirror.ts';
import type { AuthRequestContext } from './external-auth.ts';
import { AUTH_ERROR, applyAuthHeaders, askExternalAuth } from './external-auth.ts';
import type { GrpcResponse } from './grpc.ts';
import { GrpcExchange } from './grpc.ts';
import type { ExternalAuthPolicy, TimeoutPolicy } from '../../model/policy.ts';
import { unavailableCause } from '../../model/unavailable.ts';
import type { ConditionRequest } from '../../model/match.ts';
import { clientAddress, dropNames, forwardedElement, rawResponseHeaders, scanRequestHeaders } from './headers.ts';
import type { RequestHeaders } from './headers.ts';
import type { ListenerContext, ProxyRequest, ProxyResponse } from './listeners.ts';
import type { BasicAuthCache, Verdict } from './middlewares.ts';
import type { CompiledPolicy } from './policy.ts';
import type { Route } from '../../model/types.ts';
import { runMiddlewares } from './middlewares.ts';
import { affinityCookie, applyRequestEdit, choosesCanary, cookieValue, pickSplit, policyClient, responseHeaders, responseHeadersFor, rewriteTarget, runPolicy, thenEdit } from './policy.ts';
import type { HeaderEdit } from './policy.ts';
import type { CompiledEntryPoint, Router } from './router.ts';
import { scopeAddress } from '../../model/scopes.ts';
import { isConnectFailure, isConnectionFailure, isTimeout } from './upstream.ts';
import type { Upstream } from './upstream.ts';

/** An HTTP-01 hook that answers later (see {@link ProxyState.acmeChallenge}). */
export type AsyncAcmeChallengeHook = (token: string) => Promise<string | undefined>;

/** Driver-wide state the handlers read; `router` is the one reference `apply` swaps. */
export interface ProxyState {
  router: Router;
  readonly forwardedHeader: boolean;
  /** HTTP-01 answers; a worker thread's hook asks the primary thread, so it may answer later. */
  readonly acmeChallenge: AcmeChallengeHook | AsyncAcmeChallengeHook | undefined;
  /** Basic-auth verifications of this driver (never shared between drivers). */
  readonly authCache: BasicAuthCache;
  readonly logger: Logger;
  /** Told of every finished request, when the driver was given `observe`. */
  readonly observe: RequestObserver | undefined;
  /** Connections to external authentication services (`externalAuth`), closed with the driver. */
  readonly authDispatcher: Dispatcher;
  /** How long an auth request may take in all. */
  readonly authTimeoutMs: number;
}

/** What is learnt of a request while it is served, for its {@link RequestRecord} (only when observed). */
interface Trace {
  readonly time: Date;
  readonly started: number;
  entryPoint: string;
  readonly client: string;
  readonly method: string;
  host: string;
  readonly path: string;
  readonly protocol: string;
  /** Body bytes written to the client. */
  bytes: number;
  upstream: string | undefined;
  route: string | undefined;
  backend: string | undefined;
  error: string | undefined;
}

const TRACE = Symbol('passerelle.trace');

/** A response that may carry the trace of its request. */
interface Traced {
  [TRACE]?: Trace;
}

/** The trace of the request `res` answers, when observed. */
function traceOf(res: unknown): Trace | undefined {
  return (res as Traced)[TRACE];
}

/**
 * Starts the trace of a request and reports it once the response is closed (finished, or cut).
 * The status is what was sent, 0 when nothing was.
 */
function startTrace(observe: RequestObserver, logger: Logger, entryPoint: string, req: ProxyRequest, res: ProxyResponse): Trace {
  const trace: Trace = {
    time: new Date(),
    started: performance.now(),
    entryPoint,
    client: clientAddress(req.socket.remoteAddress),
    method: req.method ?? '',
    host: '',
    path: req.url ?? '',
    protocol: `HTTP/${req.httpVersion}`,
    bytes: 0,
    upstream: undefined,
    route: undefined,
    backend: undefined,
    error: undefined,
  };
  (res as unknown as Traced)[TRACE] = trace;
  const r = res as unknown as Res & { readonly statusCode: number };
  r.once('close', () => {
    try {
      observe({
        time: trace.time,
        entryPoint: trace.entryPoint,
        client: trace.client,
        method: trace.method,
        host: trace.host,
        path: trace.path,
        protocol: trace.protocol,
        status: r.headersSent ? r.statusCode : 0,
        bytes: trace.bytes,
        durationMs: performance.now() - trace.started,
        ...(trace.upstream === undefined ? {} : { upstream: trace.upstream }),
        ...(trace.route === undefined ? {} : { route: trace.route }),
        ...(trace.backend === undefined ? {} : { backend: trace.backend }),
        ...(trace.error === undefined ? {} : { error: trace.error }),
      });
    } catch (err) {
      // An observer's bug must not reach the listener's event loop.
      logger.warn({ err }, 'the request observer failed');
    }
  });
  return trace;
}

/** The cause of an upstream failure, for logs and {@link RequestRecord.error}. */
export function upstreamCause(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  const text = err.message === '' ? (code ?? err.name) : err.message;
  return code !== undefined && !text.includes(code) ? `${code}: ${text}` : text;
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
  const length = Buffer.byteLength(body);
  const headers: OutgoingHttpHeaders = { 'content-type': TEXT, 'content-length': length, server: SERVER, ...extra };
  const trace = traceOf(res);
  if (trace !== undefined) trace.bytes += length;
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
  const port = ep?.forwardedPort ?? listener.port;
  if (isTrusted(ep, ip)) {
    out.push(
      'x-forwarded-for',
      h.xForwardedFor === undefined ? ip : `${h.xForwardedFor}, ${ip}`,
      'x-forwarded-proto',
      h.xForwardedProto ?? listener.proto,
      'x-forwarded-host',
      h.xForwardedHost ?? h.host,
      'x-forwarded-port',
      h.xForwardedPort ?? port,
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
  out.push('x-forwarded-for', ip, 'x-forwarded-proto', listener.proto, 'x-forwarded-host', h.host, 'x-forwarded-port', port, 'x-real-ip', ip);
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
  let answer: string | undefined | Promise<string | undefined>;
  try {
    answer = token === '' ? undefined : hook(token);
  } catch (err) {
    state.logger.warn({ err }, 'acme challenge hook failed');
  }
  const send = (a: string | undefined): void => {
    if (a === undefined) sendText(res, 404, 'Not Found\n');
    else sendText(res, 200, a);
  };
  if (answer instanceof Promise) {
    answer.then(send, (err: unknown) => {
      state.logger.warn({ err }, 'acme challenge hook failed');
      send(undefined);
    });
  } else send(answer);
  return true;
}

/** The HTTP request handler of every listener (HTTP/1.1 and HTTP/2). */
export function handleRequest(state: ProxyState, listener: ListenerContext, req: ProxyRequest, res: ProxyResponse): void {
  const r = res as unknown as Res;
  if (listener.draining && req.httpVersionMajor === 1) r.shouldKeepAlive = false;
  const { router, ep } = currentEntryPoint(state, listener);
  const trace = state.observe === undefined ? undefined : startTrace(state.observe, state.logger, ep?.entryPoint.name ?? listener.key, req, res);
  const h = scanRequestHeaders(req.rawHeaders, false);
  const read = readRequest(req, h, ep);
  if (trace !== undefined) trace.host = h.host;
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
  if (ep.entryPoint.tls && router.scoped && router.misdirected(h.host, (req.socket as TLSSocket).servername, scopeAddress(req.socket.localAddress), ep.entryPoint.name)) {
    sendText(res, 421, 'Misdirected Request\n');
    return;
  }
  if (ep.middlewares.length !== 0) {
    const verdict = runMiddlewares(ep.middlewares, state.authCache, h.host, read.target, h.authorization);
    if (verdict !== undefined) {
      sendVerdict(res, verdict);
      return;
    }
    for (const m of ep.middlewares) if (m.kind === 'basicAuth' && m.mw.removeHeader) dropNames(h.out, ['authorization']);
  }
  const result = router.resolve(h.host, read.path, router.hasConditions ? conditionRequest(req, read) : undefined, router.scoped ? scopeAddress(req.socket.localAddress) : undefined, ep.entryPoint.name);
  if (!result.found) {
    sendText(res, 404, 'Not Found\n');
    return;
  }
  let backend = result.backend;
  let backendId = result.backendId;
  // A canary's backend, for the requests its header, cookie or weight sends there.
  const canary = result.policy?.policy.canary;
  if (canary !== undefined && choosesCanary(canary, (name) => headerValue(req.headers[name.toLowerCase()]), req.headers.cookie, Math.random() * 100)) {
    backend = router.backends.get(canary.backend);
    backendId = canary.backend;
  }
  // More than two weighted backends (Gateway API): one by weight.
  const split = result.policy?.policy.split;
  if (split !== undefined) {
    backendId = pickSplit(split, Math.random());
    backend = router.backends.get(backendId);
  }
  if (trace !== undefined) {
    trace.route = result.route;
    trace.backend = backendId;
  }
  const policy = result.policy;
  const auth = policy?.policy.externalAuth;
  // What the auth request passes on: the client's headers before the route changes them.
  const clientHeaders = auth === undefined ? undefined : h.out.slice();
  const target = policy === undefined ? read.target : applyRoutePolicy(state, listener, ep, req, res, h, read, policy, result.modelRoute);
  if (typeof target !== 'string') {
    sendVerdict(res, target);
    return;
  }
  // The chosen backend's own header changes (Gateway API backendRef filters), after the route's.
  const byBackend = policy?.backendEdits?.get(backendId);
  if (byBackend?.request !== undefined) applyRequestEdit(h.out, byBackend.request, byBackend.requestSetNames);
  const forward = (): void => {
    if (backend === undefined || backend.cycle.length === 0) {
      const cause = backend === undefined ? unavailableCause(undefined) : backend.unavailable;
      if (trace !== undefined) trace.error = cause;
      // An upstream failure is worth a line at the default level, access log or not.
      state.logger.warn({ status: 503, backend: backendId, route: result.route, cause }, `503 for ${result.route} (${backendId}): ${cause}`);
      sendText(res, 503, `Service Unavailable: ${cause}\n`);
      return;
    }
    const mirror = policy?.policy.mirror;
    const mirrors = mirror === undefined ? undefined : { backends: pickMirrors(mirror, router.backends), target: read.target };
    forwardRequest(state, listener, ep, req, res, h, backend, target, result.route, result.modelRoute, policy, trace, mirrors);
  };
  if (auth === undefined || clientHeaders === undefined) {
    forward();
    return;
  }
  authorize(state, listener, ep, req, res, h, read, auth, clientHeaders, trace, forward);
}

/**
 * Runs a route's external authentication, then `next` when it lets the request through (with the
 * granted headers set on the upstream request), else sends its answer.
 */
export function authorize(
  state: ProxyState,
  listener: ListenerContext,
  ep: CompiledEntryPoint,
  req: ProxyRequest,
  res: ProxyResponse,
  h: RequestHeaders,
  read: ReadRequest,
  auth: ExternalAuthPolicy,
  clientHeaders: readonly string[],
  trace: Trace | undefined,
  next: () => void,
): void {
  const aborted = new AbortController();
  const r = res as unknown as Res;
  const onClose = (): void => {
    if (!r.writableFinished) aborted.abort();
  };
  r.once('close', onClose);
  void askExternalAuth(state.authDispatcher, auth, clientHeaders, authContext(state, listener, ep, req, h, read), state.authTimeoutMs, aborted.signal).then((outcome) => {
    (res as unknown as { off(event: string, listener: () => void): unknown }).off('close', onClose);
    if (outcome === undefined || aborted.signal.aborted) return;
    if ('error' in outcome) {
      const cause = upstreamCause(outcome.error);
      if (trace !== undefined) trace.error = `external auth: ${cause}`;
      state.logger.warn({ status: 500, url: auth.url, cause }, `500: the external authentication ${auth.url} failed: ${cause}`);
      sendVerdict(res, AUTH_ERROR);
      return;
    }
    if (!outcome.allow) {
      sendVerdict(res, outcome.verdict);
      return;
    }
    applyAuthHeaders(h.out, auth.responseHeaders, outcome.headers);
    next();
  });
}

/** What the auth request says of a request. */
export function authContext(state: ProxyState, listener: ListenerContext, ep: CompiledEntryPoint, req: ProxyRequest, h: RequestHeaders, read: ReadRequest): AuthRequestContext {
  const forwarded: string[] = [];
  addForwardedHeaders(state, listener, ep, { ...h, out: forwarded }, req.socket.remoteAddress);
  return { scheme: listener.proto, host: h.host, uri: read.target, method: req.method ?? 'GET', forwarded };
}

/** Sends a request that passed its route's policy to an endpoint of its backend. */
function forwardRequest(
  state: ProxyState,
  listener: ListenerContext,
  ep: CompiledEntryPoint,
  req: ProxyRequest,
  res: ProxyResponse,
  h: RequestHeaders,
  backend: CompiledBackend,
  target: string,
  route: string,
  modelRoute: Route | undefined,
  policy: CompiledPolicy | undefined,
  trace: Trace | undefined,
  mirrors?: { readonly backends: readonly CompiledBackend[]; readonly target: string },
): void {
  addForwardedHeaders(state, listener, ep, h, req.socket.remoteAddress);
  let extraHeaders = policy === undefined ? undefined : responseHeadersFor(policy, listener.proto === 'https', req.headers.origin);
  let responseEdit = policy?.responseEdit;
  const byBackend = policy?.backendEdits?.get(backend.id)?.response;
  if (byBackend !== undefined) ({ extra: extraHeaders, edit: responseEdit } = thenEdit(extraHeaders, responseEdit, byBackend));
  const p = policy?.policy;
  const balance = p?.upstream?.loadBalance;
  // Session affinity (cookie): the endpoint the cookie names while it is there, else a new pick and a new cookie.
  const affinity = p?.upstream?.affinity;
  let preferred: number | undefined;
  if (affinity !== undefined) {
    preferred = affinityUpstream(backend, cookieValue(req.headers.cookie, affinity.cookie));
    if (preferred === undefined) {
      preferred = pickEndpoint(backend, balance);
      const path = modelRoute?.pathType === 'Prefix' ? modelRoute.path : '/';
      extraHeaders = [...(extraHeaders ?? []), 'set-cookie', affinityCookie(affinity, backend.upstreams[preferred]!.affinityId, path)];
    }
  }
  const protocol = p?.upstream?.protocol ?? 'http';
  if (protocol === 'grpc' || protocol === 'grpcs') {
    const r = res as unknown as GrpcResponse;
    const grpc = new GrpcExchange(
      {
        logger: state.logger,
        backend,
        route,
        method: req.method ?? 'POST',
        target,
        headers: h.out,
        body: h.hasBody ? req : undefined,
        tls: protocol === 'grpcs',
        timeouts: p?.timeouts,
        maxBody: p?.limits?.maxBodyBytes,
        tries: p?.upstream?.tries,
        balance,
        extraHeaders,
        responseEdit,
        trace,
        serverName: SERVER,
        answer: (status, body) => sendText(res, status, body),
        cause: upstreamCause,
      },
      r,
    );
    grpc.start(preferred);
    return;
  }
  let body: Readable | undefined;
  if (mirrors !== undefined && mirrors.backends.length > 0) {
    // The copies carry the client's path and query and the headers the backend gets.
    const tee = h.hasBody ? teeBody(req, mirrors.backends.length) : undefined;
    body = tee?.main;
    mirrors.backends.forEach((b, i) => sendMirror(b, { method: req.method ?? 'GET', target: mirrors.target, headers: h.out, body: tee?.copies[i] ?? null }, state.logger));
  }
  const exchange = new Exchange(state, req, res as unknown as Res, h, { backend, target, route, trace, extraHeaders, responseEdit, balance, tries: p?.upstream?.tries, maxBody: p?.limits?.maxBodyBytes, timeouts: p?.timeouts, tls: protocol === 'https', body });
  exchange.start(preferred);
}

/**
 * Runs a route's policy on a request: an answer to send instead (redirect, 403, 401, 413, 503), or
 * the target the backend receives, with the policy's request headers set in `h.out`.
 */
export function applyRoutePolicy(
  state: ProxyState,
  listener: ListenerContext,
  ep: CompiledEntryPoint,
  req: ProxyRequest,
  res: { once(event: 'close', listener: () => void): unknown },
  h: RequestHeaders,
  read: ReadRequest,
  policy: CompiledPolicy,
  route: Route | undefined,
): Verdict | string {
  const length = req.headers['content-length'];
  const client = policyClient(ep.trusted, clientAddress(req.socket.remoteAddress), h.xForwardedFor);
  const verdict = runPolicy(
    policy,
    {
      tls: listener.proto === 'https',
      publicPort: Number(ep.forwardedPort),
      host: h.host,
      path: read.path,
      target: read.target,
      client,
      authorization: h.authorization,
      contentLength: length === undefined ? undefined : Number(length),
      method: req.method ?? 'GET',
      origin: req.headers.origin,
      ...(req.method === 'OPTIONS' && policy.cors !== undefined ? { corsAsk: { method: headerValue(req.headers['access-control-request-method']), headers: headerValue(req.headers['access-control-request-headers']) } } : {}),
    },
    state.authCache,
  );
  if (verdict !== undefined) return verdict;
  const concurrency = policy.concurrency;
  if (concurrency !== undefined) {
    if (!concurrency.acquire(client)) return { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Service Unavailable: connection limit\n' };
    res.once('close', () => concurrency.release(client));
  }
  // As ingress-nginx: the credentials of a route's basic auth are not passed on to the backend.
  if (policy.auth !== undefined) dropNames(h.out, ['authorization']);
  const edit = policy.requestEdit;
  const vhost = policy.policy.upstream?.vhost;
  if (edit !== undefined) applyRequestEdit(h.out, edit, policy.requestSetNames ?? []);
  if (vhost !== undefined) {
    dropNames(h.out, ['host']);
    h.out.push('host', vhost);
  }
  return route === undefined ? read.target : rewriteTarget(policy.policy, route, read.path, read.target);
}

/**
 * What route conditions read of a request: its method, its headers as Node joined them (several
 * lines of one header with ", "), and the raw query of its target.
 */
export function conditionRequest(req: ProxyRequest, read: ReadRequest): ConditionRequest {
  const headers = req.headers;
  return {
    method: req.method ?? 'GET',
    header: (name) => {
      const v = headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    query: read.target.length > read.path.length ? read.target.slice(read.path.length + 1) : '',
  };
}

/** One value of a request header Node parsed (the first when it came several times). */
function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
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

/** How an {@link Exchange} sends its request. */
interface ExchangeOptions {
  readonly backend: CompiledBackend;
  readonly target: string;
  readonly route: string;
  readonly trace: Trace | undefined;
  readonly extraHeaders: readonly string[] | undefined;
  /** The route's response header remove and add (ResponseHeaderModifier). */
  readonly responseEdit: HeaderEdit | undefined;
  readonly balance: Balance;
  readonly tries: number | undefined;
  readonly maxBody: number | undefined;
  readonly timeouts: TimeoutPolicy | undefined;
  /** backend-protocol HTTPS: TLS to the endpoint. */
  readonly tls: boolean;
  /** The body to send instead of the request (the backend's side of a mirror's tee). */
  readonly body: Readable | undefined;
}

/** One proxied request: dispatches to an endpoint, streams the answer back, retries when allowed. */
// undici's raw (pre-controller) handler API: no parsed-header object and no wrapper per request.
class Exchange implements Dispatcher.DispatchHandler {
  readonly #state: ProxyState;
  readonly #res: Res;
  readonly #backend: CompiledBackend;
  readonly #route: string;
  readonly #trace: Trace | undefined;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #retryable: boolean;
  readonly #balance: Balance;
  readonly #connectTimeout: number | undefined;
  readonly #hasBody: boolean;
  #index = 0;
  #attemptsLeft: number;
  #abort: ((err?: Error) => void) | undefined;
  #resumeUpstream: (() => void) | undefined;
  #started = false;
  #clientGone = false;
  #tooLarge = false;
  /** The endpoint whose in-flight count holds this request, and when the attempt started. */
  #counted: Upstream | undefined;
  #sentAt = 0;
  readonly #tls: boolean;

  readonly #extraHeaders: readonly string[] | undefined;
  readonly #responseEdit: HeaderEdit | undefined;

  constructor(state: ProxyState, req: ProxyRequest, res: Res, h: RequestHeaders, o: ExchangeOptions) {
    this.#state = state;
    this.#tls = o.tls;
    this.#extraHeaders = o.extraHeaders;
    this.#responseEdit = o.responseEdit;
    this.#res = res;
    this.#backend = o.backend;
    this.#route = o.route;
    this.#trace = o.trace;
    this.#balance = o.balance;
    this.#connectTimeout = o.timeouts?.connect;
    this.#hasBody = h.hasBody;
    const method = req.method ?? 'GET';
    let body: Readable | null = null;
    if (h.hasBody) {
      body = o.body ?? req;
      if (o.maxBody !== undefined && o.maxBody > 0) body = limitBody(body, o.maxBody, () => (this.#tooLarge = true));
      // proxy-send-timeout: between two writes to the upstream.
      if (o.timeouts?.send !== undefined) body = watchSend(body, o.timeouts.send);
    }
    const readTimeout = o.timeouts?.read;
    // proxy-read-timeout: nginx's is between two reads, as undici's headers and body timeouts.
    this.#opts = { path: o.target, method, headers: h.out, body, ...(readTimeout === undefined ? {} : { headersTimeout: readTimeout, bodyTimeout: readTimeout }) };
    // A body already streamed upstream cannot be sent again.
    this.#retryable = !h.hasBody && IDEMPOTENT.has(method);
    // proxy-next-upstream-tries counts every attempt; by default each endpoint once.
    this.#attemptsLeft = Math.min(o.backend.upstreams.length, o.tries ?? Infinity) - 1;
  }

  /** Starts on `index` (an affinity's endpoint) or the next pick. */
  start(index?: number): void {
    this.#res.once('close', this.#onClientClose);
    this.#index = index ?? pickEndpoint(this.#backend, this.#balance);
    this.#dispatch();
  }

  #dispatch(): void {
    const upstream = this.#backend.upstreams[this.#index]!;
    if (this.#trace !== undefined) this.#trace.upstream = upstream.key;
    upstream.inflight++;
    this.#counted = upstream;
    this.#sentAt = performance.now();
    upstream.pool(this.#tls, this.#connectTimeout).dispatch(this.#opts, this);
  }

  /** Counts the request out of its endpoint's in-flight requests (once). */
  #release(): void {
    const u = this.#counted;
    if (u === undefined) return;
    u.inflight--;
    this.#counted = undefined;
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
    const upstream = this.#backend.upstreams[this.#index]!;
    upstream.answered = true;
    upstream.recordLatency(performance.now() - this.#sentAt);
    this.#resumeUpstream = resume;
    const headers = rawResponseHeaders(raw, SERVER);
    this.#res.writeHead(statusCode, responseHeaders(headers, this.#extraHeaders, this.#responseEdit));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#trace !== undefined) this.#trace.bytes += chunk.length;
    if (this.#res.write(chunk)) return true;
    this.#res.once('drain', this.#onDrain);
    return false;
  }

  onComplete(): void {
    this.#release();
    this.#res.end();
  }

  onError(err: Error): void {
    this.#release();
    if (this.#clientGone) return;
    if (this.#tooLarge && !this.#started && !this.#res.headersSent) {
      this.#res.shouldKeepAlive = false;
      sendText(this.#res as unknown as ProxyResponse, 413, 'Request Entity Too Large\n');
      return;
    }
    const upstream = this.#backend.upstreams[this.#index]!;
    const cause = upstreamCause(err);
    if (this.#trace !== undefined) this.#trace.error = cause;
    if (this.#started) {
      this.#state.logger.warn({ upstream: upstream.key, backend: this.#backend.id, route: this.#route, cause }, `upstream ${upstream.key} broke off its answer: ${cause}`);
      // Headers are out: the only honest signal left is cutting the client connection.
      this.#res.destroy(err);
      return;
    }
    if (isConnectFailure(err)) upstream.markDown();
    const timeout = isTimeout(err);
    // A slow endpoint's cost for the ewma picker: the time it was given.
    if (timeout) upstream.recordLatency(performance.now() - this.#sentAt);
    if (this.#retryable && this.#attemptsLeft > 0 && isConnectionFailure(err)) {
      this.#attemptsLeft--;
      this.#index = (this.#index + 1) % this.#backend.upstreams.length;
      this.#dispatch();
      return;
    }
    const status = timeout ? 504 : 502;
    // An upstream failure is worth a line at the default level, access log or not.
    this.#state.logger.warn({ status, upstream: upstream.key, backend: this.#backend.id, route: this.#route, cause }, `${status} for ${this.#route}: upstream ${upstream.key} failed: ${cause}`);
    // A body not read to its end: the connection cannot carry another request.
    if (this.#hasBody) this.#res.shouldKeepAlive = false;
    sendText(this.#res as unknown as ProxyResponse, status, timeout ? 'Gateway Timeout\n' : 'Bad Gateway\n');
  }
}
