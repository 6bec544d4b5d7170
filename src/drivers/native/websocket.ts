import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { unavailableCause } from '../../model/unavailable.ts';
import type { RoutePolicy } from '../../model/policy.ts';
import { pickSplit } from './policy.ts';
import { pickEndpoint } from './balance.ts';
import type { CompiledBackend } from './balance.ts';
import { AUTH_ERROR, applyAuthHeaders, askExternalAuth } from './external-auth.ts';
import { scanRequestHeaders } from './headers.ts';
import type { RequestHeaders } from './headers.ts';
import type { ListenerContext } from './listeners.ts';
import { runMiddlewares } from './middlewares.ts';
import type { Verdict } from './middlewares.ts';
import { addForwardedHeaders, applyRoutePolicy, authContext, conditionRequest, currentEntryPoint, readRequest, upstreamCause } from './proxy.ts';
import type { ProxyState } from './proxy.ts';
import type { CompiledEntryPoint } from './router.ts';
import { scopeAddress } from '../../model/scopes.ts';
import type { Upstream } from './upstream.ts';

/** Writes a complete HTTP/1.1 answer on a raw socket and closes it. */
function rawAnswer(socket: Duplex, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void {
  if (socket.destroyed) return;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nserver: passerelle\r\nconnection: close\r\n`;
  head += `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  for (const [k, v] of Object.entries(headers)) if (k !== 'content-type') head += `${k}: ${v}\r\n`;
  socket.end(`${head}\r\n${body}`);
}

function rawVerdict(socket: Duplex, v: Verdict): void {
  rawAnswer(socket, v.status, v.body, v.headers);
}

/**
 * Passes a WebSocket upgrade through: forwards the upgrade request to an endpoint,
 * then pipes both sockets; the endpoint's own 101 (or refusal) reaches the client as is.
 */
export function handleUpgrade(state: ProxyState, listener: ListenerContext, req: IncomingMessage, socket: Duplex, head: Buffer, defaultConnectTimeoutMs: number): void {
  socket.on('error', () => socket.destroy());
  const { router, ep } = currentEntryPoint(state, listener);
  const h = scanRequestHeaders(req.rawHeaders, true);
  const read = readRequest(req, h, ep);
  if (read === undefined) return rawAnswer(socket, 400, 'Bad Request\n');
  if (ep === undefined) return rawAnswer(socket, 404, 'Not Found\n');
  if (!h.websocket) return rawAnswer(socket, 400, 'Bad Request: only WebSocket upgrades are proxied\n');
  if (ep.entryPoint.tls && router.scoped && router.misdirected(h.host, (req.socket as TLSSocket).servername, scopeAddress(req.socket.localAddress), ep.entryPoint.name)) return rawAnswer(socket, 421, 'Misdirected Request\n');
  const verdict = runMiddlewares(ep.middlewares, state.authCache, h.host, read.target, h.authorization);
  if (verdict !== undefined) return rawVerdict(socket, verdict);
  const result = router.resolve(h.host, read.path, router.hasConditions ? conditionRequest(req, read) : undefined, router.scoped ? scopeAddress(req.socket.localAddress) : undefined, ep.entryPoint.name);
  if (!result.found) return rawAnswer(socket, 404, 'Not Found\n');
  const policy = result.policy;
  const auth = policy?.policy.externalAuth;
  const clientHeaders = auth === undefined ? undefined : h.out.slice();
  const target = policy === undefined ? read.target : applyRoutePolicy(state, listener, ep, req, socket, h, read, policy, result.modelRoute);
  if (typeof target !== 'string') return rawVerdict(socket, target);
  const go = (): void => {
    // More than two weighted backends (Gateway API): one by weight.
    const split = policy?.policy.split;
    const backend = split === undefined ? result.backend : router.backends.get(pickSplit(split, Math.random()));
    if (backend === undefined || backend.cycle.length === 0) return rawAnswer(socket, 503, `Service Unavailable: ${backend === undefined ? unavailableCause(undefined) : backend.unavailable}\n`);
    connectUpstream(state, listener, ep, req, socket, head, h, backend, target, policy?.policy, defaultConnectTimeoutMs);
  };
  if (auth === undefined || clientHeaders === undefined) return go();
  // The external authentication holds the upgrade as it holds a request.
  const aborted = new AbortController();
  const onClose = (): void => aborted.abort();
  socket.once('close', onClose);
  void askExternalAuth(state.authDispatcher, auth, clientHeaders, authContext(state, listener, ep, req, h, read), state.authTimeoutMs, aborted.signal).then((outcome) => {
    socket.off('close', onClose);
    if (outcome === undefined || socket.destroyed) return;
    if ('error' in outcome) {
      state.logger.warn({ status: 500, url: auth.url, cause: upstreamCause(outcome.error) }, `500: the external authentication ${auth.url} failed: ${upstreamCause(outcome.error)}`);
      return rawVerdict(socket, AUTH_ERROR);
    }
    if (!outcome.allow) return rawVerdict(socket, outcome.verdict);
    applyAuthHeaders(h.out, auth.responseHeaders, outcome.headers);
    go();
  });
}

/** Opens the connection to an endpoint, sends the upgrade request and pipes both ways (retrying the next endpoint on a failed connect). */
function connectUpstream(
  state: ProxyState,
  listener: ListenerContext,
  ep: CompiledEntryPoint,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  h: RequestHeaders,
  backend: CompiledBackend,
  target: string,
  policy: RoutePolicy | undefined,
  defaultConnectTimeoutMs: number,
): void {
  addForwardedHeaders(state, listener, ep, h, req.socket.remoteAddress);
  let lines = `${req.method ?? 'GET'} ${target} HTTP/1.1\r\n`;
  const out = h.out;
  for (let i = 0; i < out.length; i += 2) lines += `${out[i]!}: ${out[i + 1]!}\r\n`;
  const request = Buffer.concat([Buffer.from(`${lines}connection: upgrade\r\n\r\n`, 'latin1'), head]);

  const protocol = policy?.upstream?.protocol;
  // backend-protocol HTTPS (or GRPCS): the upgrade goes over TLS too (the pod's certificate not verified, as for requests).
  const tlsUpstream = protocol === 'https' || protocol === 'grpcs';
  const connectTimeoutMs = policy?.timeouts?.connect ?? defaultConnectTimeoutMs;
  const ups = backend.upstreams;
  let index = pickEndpoint(backend, policy?.upstream?.loadBalance);
  let attempts = ups.length;
  const tryConnect = (): void => {
    const upstream: Upstream = ups[index]!;
    const [host, port] = splitKey(upstream.key);
    const up: Socket = tlsUpstream ? tlsConnect({ host, port, rejectUnauthorized: false }) : connect({ host, port });
    // A WebSocket connection counts as a request in flight to its endpoint (least_conn, ewma) while open.
    upstream.inflight++;
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      upstream.inflight--;
    };
    up.once('close', release);
    const timer = setTimeout(() => up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), connectTimeoutMs);
    const onConnectError = (err: Error & { code?: string }): void => {
      clearTimeout(timer);
      release();
      if (err.code === 'ECONNREFUSED') upstream.markDown();
      if (--attempts > 0 && !socket.destroyed) {
        index = (index + 1) % ups.length;
        tryConnect();
        return;
      }
      rawAnswer(socket, err.code === 'ETIMEDOUT' ? 504 : 502, err.code === 'ETIMEDOUT' ? 'Gateway Timeout\n' : 'Bad Gateway\n');
    };
    up.once('error', onConnectError);
    up.once(tlsUpstream ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      upstream.answered = true;
      up.off('error', onConnectError);
      up.on('error', () => socket.destroy());
      socket.on('close', () => up.destroy());
      up.on('close', () => socket.destroy());
      up.setNoDelay(true);
      up.write(request);
      up.pipe(socket);
      socket.pipe(up);
    });
  };
  tryConnect();
}

function splitKey(key: string): [string, number] {
  const colon = key.lastIndexOf(':');
  const host = key.slice(0, colon);
  return [host.startsWith('[') ? host.slice(1, -1) : host, Number(key.slice(colon + 1))];
}
