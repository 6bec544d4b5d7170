import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createSecureServer } from 'node:http2';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext, TLSSocket } from 'node:tls';
import { DEFAULT_CLIENT_TIMEOUTS } from '../../model/types.ts';
import type { EntryPoint } from '../../model/types.ts';
import type { KeyPair } from './tls.ts';
import type { Router } from './router.ts';

/** How often Node checks header and request deadlines: the 408 comes at most this late. */
const CHECK_INTERVAL_MS = 500;

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

/** A request as a listener hands it over: HTTP/1.1, or HTTP/2 (and HTTP/1.1 through allowHTTP1) on TLS. */
export type ProxyRequest = IncomingMessage | Http2ServerRequest;
/** The response that goes with a {@link ProxyRequest}. */
export type ProxyResponse = ServerResponse | Http2ServerResponse;

/** Callbacks a listener hands its traffic to. */
export interface ListenerHandlers {
  request(listener: ListenerContext, req: ProxyRequest, res: ProxyResponse): void;
  upgrade(listener: ListenerContext, req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * The certificate for an SNI name (TLS listeners); a promise holds the handshake until it settles
   * (onDemand issuance). A throw or a rejection aborts the handshake.
   */
  selectCertificate(serverName: string): SecureContext | Promise<SecureContext>;
  /**
   * TLS-ALPN-01: the challenge certificate for a handshake that offered ALPN `acme-tls/1`. When
   * present, TLS listeners select ALPN themselves (see {@link selectAlpn}).
   */
  selectChallengeCertificate?(serverName: string): SecureContext | Promise<SecureContext>;
}

/** The ALPN protocol of RFC 8737 (TLS-ALPN-01 validation). */
export const ACME_TLS_ALPN = 'acme-tls/1';

/** Marks a TLS socket whose client offered `acme-tls/1` (set by the ALPN callback, read by the SNI callback). */
const offeredAcmeTls = Symbol('passerelle.acmeTls');

/**
 * ALPN selection of a TLS listener that answers TLS-ALPN-01: `acme-tls/1` when offered (a CA's
 * validation), else h2, else http/1.1 (the server's preference, as without the callback); nothing
 * when the client offers none of them.
 */
export function selectAlpn(protocols: readonly string[]): string | undefined {
  for (const p of [ACME_TLS_ALPN, 'h2', 'http/1.1']) if (protocols.includes(p)) return p;
  return undefined;
}

/** Only WebSocket upgrades leave the request path; other Upgrade headers are dropped as hop-by-hop. */
function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const u = req.headers.upgrade;
  return u !== undefined && u.toLowerCase() === 'websocket';
}

/** An error of Node's HTTP/1 parser, with what it had read (see Node's `clientError`). */
interface ParseError extends Error {
  code?: string;
  bytesParsed?: number;
  rawPacket?: Buffer;
}

/**
 * The status for a request Node's parser refused: as Node's own answer, but 414 when the limit was
 * reached inside the request line (Node counts it with the headers and would say 431).
 */
export function clientErrorStatus(err: ParseError): number {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      const raw = err.rawPacket;
      // No line end before the overflow: still in the request line (a single header spanning several
      // reads looks the same; the request line is by far the likelier).
      const inRequestLine = raw !== undefined && !raw.subarray(0, err.bytesParsed ?? raw.length).includes(0x0a);
      return inRequestLine ? 414 : 431;
    }
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

/** Answers a request Node's parser refused (a `clientError` listener replaces Node's own answer). */
function answerClientError(err: ParseError, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && inFlight?.headersSent !== true) {
    const status = clientErrorStatus(err);
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nserver: passerelle\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  }
  socket.destroy();
}

/** The answer to plain HTTP on a TLS entry point (without it, OpenSSL only closes the connection). */
export const PLAIN_HTTP_ON_TLS_BODY = 'Bad Request: this port speaks HTTPS; use https:// instead of http://\n';
const PLAIN_HTTP_ON_TLS_ANSWER =
  `HTTP/1.1 400 Bad Request\r\nserver: passerelle\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(PLAIN_HTTP_ON_TLS_BODY)}\r\nconnection: close\r\n\r\n${PLAIN_HTTP_ON_TLS_BODY}`;

/** Whether the first byte of a connection starts an HTTP request line (a method's letter) rather than a TLS record (0x14–0x17, or 0x80+ for SSLv2's hello). */
export function startsPlainHttp(first: number): boolean {
  return first >= 0x41 && first <= 0x5a;
}

/**
 * Makes a TLS server answer a connection that starts with plain HTTP with a 400 saying to use
 * https. The first bytes are read before the TLS socket is set up, then handed back to it (Node's
 * TLSSocket consumes what the socket already buffered), so a TLS connection is served as before.
 * A connection that sends nothing within `timeoutMs()` is closed.
 */
function answerPlainHttp(server: Http2SecureServer, timeoutMs: () => number): void {
  const [tlsListener] = server.rawListeners('connection');
  if (typeof tlsListener !== 'function') return;
  const handOver = tlsListener as (this: Http2SecureServer, socket: Socket) => void;
  server.removeListener('connection', handOver);
  server.prependListener('connection', (socket: Socket) => {
    const done = (): void => {
      socket.off('readable', onReadable);
      socket.off('error', onError);
      socket.setTimeout(0);
    };
    const onError = (): void => {
      done();
      socket.destroy();
    };
    const onReadable = (): void => {
      const chunk = socket.read() as Buffer | null;
      const first = chunk?.[0];
      if (chunk === null || first === undefined) return;
      done();
      if (startsPlainHttp(first)) {
        socket.end(PLAIN_HTTP_ON_TLS_ANSWER);
        // Whatever else the client sends is not read: the connection closes once the answer is out.
        socket.once('finish', () => socket.destroy());
        return;
      }
      socket.unshift(chunk);
      handOver.call(server, socket);
    };
    socket.on('readable', onReadable);
    socket.on('error', onError);
    socket.setTimeout(timeoutMs(), () => {
      done();
      socket.destroy();
    });
  });
}

/** One open server for one entry point address. */
export class Listener {
  readonly context: ListenerContext;
  readonly server: Server | Http2SecureServer;
  readonly #sockets = new Set<Socket>();
  readonly #sessions = new Set<Http2Session>();
  #closing: Promise<void> | undefined;

  private constructor(context: ListenerContext, server: Server | Http2SecureServer) {
    this.context = context;
    this.server = server;
    server.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /** Opens a listener for an entry point; rejects when the address cannot be bound. */
  static async open(key: string, ep: EntryPoint, router: Router, handlers: ListenerHandlers, defaultPair: KeyPair | undefined, reusePort = false): Promise<Listener> {
    const context: ListenerContext = { key, proto: ep.tls ? 'https' : 'http', port: String(ep.address.port), router, draining: false };
    let listener: Listener;
    if (ep.tls) {
      if (defaultPair === undefined) throw new Error('TLS listener without a default certificate');
      const challenge = handlers.selectChallengeCertificate?.bind(handlers);
      const server = createSecureServer({
        allowHTTP1: true,
        connectionsCheckingInterval: CHECK_INTERVAL_MS,
        cert: defaultPair.certPem,
        key: defaultPair.keyPem,
        // TLS 1.3: OpenSSL asks ALPN before the certificate, so the SNI callback knows a validation
        // handshake (TLS 1.2 asks the certificate first: validation needs TLS 1.3, as CAs use).
        ...(challenge === undefined
          ? {}
          : {
              ALPNCallback(this: TLSSocket, { protocols }: { servername: string; protocols: string[] }): string | undefined {
                const selected = selectAlpn(protocols);
                if (selected === ACME_TLS_ALPN) (this as TLSSocket & { [offeredAcmeTls]?: boolean })[offeredAcmeTls] = true;
                return selected;
              },
            }),
        SNICallback(this: TLSSocket | undefined, name: string, cb: (err: Error | null, ctx?: SecureContext) => void) {
          let selected: SecureContext | Promise<SecureContext>;
          try {
            const acmeTls = challenge !== undefined && (this as (TLSSocket & { [offeredAcmeTls]?: boolean }) | undefined)?.[offeredAcmeTls] === true;
            selected = acmeTls && challenge !== undefined ? challenge(name) : handlers.selectCertificate(name);
          } catch (err) {
            cb(err as Error);
            return;
          }
          if (selected instanceof Promise) selected.then((ctx) => cb(null, ctx), (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))));
          else cb(null, selected);
        },
        shouldUpgradeCallback: isWebSocketUpgrade,
      } as Parameters<typeof createSecureServer>[0]);
      // Read at each connection: a model change may alter the timeout without reopening.
      answerPlainHttp(server, () => (server as Http2SecureServer & { handshakeTimeout?: number }).handshakeTimeout ?? DEFAULT_CLIENT_TIMEOUTS.requestHeader);
      listener = new Listener(context, server);
      if (challenge !== undefined) {
        // RFC 8737 §3: nothing follows a validation handshake. Closed before the HTTP/2 server sets
        // up a session on it (its own listener would take any protocol but http/1.1 for h2).
        server.prependListener('secureConnection', (socket: TLSSocket) => {
          if (socket.alpnProtocol !== ACME_TLS_ALPN) return;
          socket.alpnProtocol = 'http/1.1';
          socket.destroy();
        });
      }
      server.on('request', (req: ProxyRequest, res: ProxyResponse) => handlers.request(context, req, res));
      server.on('session', (session: Http2Session) => {
        listener.#sessions.add(session);
        session.once('close', () => listener.#sessions.delete(session));
        if (context.draining) session.close();
      });
    } else {
      const server = createServer(
        { shouldUpgradeCallback: isWebSocketUpgrade, requireHostHeader: true, connectionsCheckingInterval: CHECK_INTERVAL_MS },
        (req, res) => handlers.request(context, req, res),
      );
      listener = new Listener(context, server);
    }
    listener.server.on('clientError', answerClientError);
    listener.configure(ep);
    listener.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => handlers.upgrade(context, req, socket, head));
    await new Promise<void>((resolve, reject) => {
      const server = listener.server;
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      // reusePort (SO_REUSEPORT): worker threads each bind the address; the kernel spreads connections.
      server.listen({ host: ep.address.host, port: ep.address.port, ...(reusePort ? { reusePort: true } : {}) }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return listener;
  }

  /** Applies the entry point's client timeouts (a model change may alter them without reopening). */
  configure(ep: EntryPoint): void {
    const t = ep.timeouts ?? DEFAULT_CLIENT_TIMEOUTS;
    const server = this.server as Server & { handshakeTimeout?: number };
    // Node answers 408 when the head is not complete in time; no bound on the whole request (bodies are watched per pause).
    server.headersTimeout = t.requestHeader;
    server.requestTimeout = 0;
    server.keepAliveTimeout = t.idle;
    if (ep.tls) server.handshakeTimeout = t.requestHeader;
  }

  /** Stops accepting; in-flight requests finish for up to `graceMs`, then every connection is destroyed. */
  close(graceMs: number): Promise<void> {
    this.#closing ??= this.#drain(graceMs);
    return this.#closing;
  }

  async #drain(graceMs: number): Promise<void> {
    this.context.draining = true;
    const server = this.server;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.#sessions) s.close();
    const deadline = Date.now() + graceMs;
    while (this.#sockets.size > 0 && Date.now() < deadline) {
      // Idle keep-alive connections hold no request: close them as soon as they become idle.
      (server as Server).closeIdleConnections();
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of this.#sessions) s.destroy();
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}
