import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { createSecureServer } from 'node:http2';
import type { Http2SecureServer, Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import type { EntryPoint } from '../../model/types.ts';
import type { KeyPair } from './tls.ts';
import type { ListenerContext, ProxyRequest, ProxyResponse } from './proxy.ts';
import type { Router } from './router.ts';

/** Callbacks a listener hands its traffic to. */
export interface ListenerHandlers {
  request(listener: ListenerContext, req: ProxyRequest, res: ProxyResponse): void;
  upgrade(listener: ListenerContext, req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * The certificate for an SNI name (TLS listeners); a promise holds the handshake until it settles
   * (onDemand issuance). A throw or a rejection aborts the handshake.
   */
  selectCertificate(serverName: string): SecureContext | Promise<SecureContext>;
}

/** Only WebSocket upgrades leave the request path; other Upgrade headers are dropped as hop-by-hop. */
function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const u = req.headers.upgrade;
  return u !== undefined && u.toLowerCase() === 'websocket';
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
  static async open(key: string, ep: EntryPoint, router: Router, handlers: ListenerHandlers, defaultPair: KeyPair | undefined): Promise<Listener> {
    const context: ListenerContext = { key, proto: ep.tls ? 'https' : 'http', port: String(ep.address.port), router, draining: false };
    let listener: Listener;
    if (ep.tls) {
      if (defaultPair === undefined) throw new Error('TLS listener without a default certificate');
      const server = createSecureServer({
        allowHTTP1: true,
        cert: defaultPair.certPem,
        key: defaultPair.keyPem,
        SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => {
          let selected: SecureContext | Promise<SecureContext>;
          try {
            selected = handlers.selectCertificate(name);
          } catch (err) {
            cb(err as Error);
            return;
          }
          if (selected instanceof Promise) selected.then((ctx) => cb(null, ctx), (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))));
          else cb(null, selected);
        },
        shouldUpgradeCallback: isWebSocketUpgrade,
      } as Parameters<typeof createSecureServer>[0]);
      listener = new Listener(context, server);
      server.on('request', (req: ProxyRequest, res: ProxyResponse) => handlers.request(context, req, res));
      server.on('session', (session: Http2Session) => {
        listener.#sessions.add(session);
        session.once('close', () => listener.#sessions.delete(session));
        if (context.draining) session.close();
      });
    } else {
      const server = createServer({ shouldUpgradeCallback: isWebSocketUpgrade }, (req, res) => handlers.request(context, req, res));
      listener = new Listener(context, server);
    }
    listener.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => handlers.upgrade(context, req, socket, head));
    await new Promise<void>((resolve, reject) => {
      const server = listener.server;
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen({ host: ep.address.host, port: ep.address.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return listener;
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
