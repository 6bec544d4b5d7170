import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { ACME_CHALLENGE_PREFIX } from '../../model/redirect.ts';
import type { Logger } from '../../shared/logger.ts';
import type { AcmeChallengeHook } from '../types.ts';
import type { HostPort } from '../../render/types.ts';

/** A loopback HTTP server answering ACME HTTP-01 tokens, for proxies that forward the challenge path to it. */
export class AcmeResponder {
  readonly #server: Server;
  #address: HostPort | undefined;

  constructor(hook: AcmeChallengeHook, logger: Logger) {
    this.#server = createServer((req, res) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      let answer: string | undefined;
      if (path.startsWith(ACME_CHALLENGE_PREFIX)) {
        const token = path.slice(ACME_CHALLENGE_PREFIX.length);
        try {
          answer = token === '' ? undefined : hook(token);
        } catch (err) {
          logger.warn({ err }, 'acme challenge hook failed');
        }
      }
      const body = answer ?? 'Not Found\n';
      res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  }

  /** Listens on 127.0.0.1 on a free port; returns the address to forward to. */
  async start(): Promise<HostPort> {
    if (this.#address !== undefined) return this.#address;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const a = this.#server.address();
    if (a === null || typeof a === 'string') throw new Error('acme responder has no port');
    this.#address = { host: '127.0.0.1', port: a.port };
    return this.#address;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
  }
}
