import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { ACME_CHALLENGE_PREFIX } from '../../model/redirect.ts';
import { PassError } from '../../shared/errors.ts';
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

  /**
   * Listens on 127.0.0.1: on `preferred`'s port when given and free (the port a previous run forwarded
   * to, so that the rendered configuration stays the same), else on a free port. Returns the address
   * to forward to.
   */
  async start(preferred?: HostPort): Promise<HostPort> {
    if (this.#address !== undefined) return this.#address;
    const listen = (port: number): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const failed = (err: Error): void => reject(err);
        this.#server.once('error', failed);
        this.#server.listen(port, '127.0.0.1', () => {
          this.#server.off('error', failed);
          resolve();
        });
      });
    const wanted = preferred?.host === '127.0.0.1' ? preferred.port : 0;
    try {
      await listen(wanted);
    } catch (err) {
      // Taken by another process since: any free port will do (the configuration then changes).
      if (wanted === 0) throw err;
      await listen(0);
    }
    const a = this.#server.address();
    if (a === null || typeof a === 'string') throw new PassError('PASS_ACME_RESPONDER', 'the ACME responder is listening without a TCP port');
    this.#address = { host: '127.0.0.1', port: a.port };
    return this.#address;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
  }
}
