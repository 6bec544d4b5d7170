import { connect } from 'node:net';
import type { RoutingModel } from '../../model/types.ts';

/** Resolves true when a TCP connection to `host:port` opens within `timeoutMs`; never rejects. */
export function tcpAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Whether the proxy accepts connections on the first entry point of `model` (an address without a
 * host listens on every interface: loopback is asked). True when the model has no entry point.
 */
export async function firstEntryPointAnswers(model: RoutingModel, timeoutMs = 1000): Promise<boolean> {
  const ep = model.entryPoints[0];
  if (ep === undefined) return true;
  const host = ep.address.host === undefined || ep.address.host === '0.0.0.0' ? '127.0.0.1' : ep.address.host === '::' ? '::1' : ep.address.host;
  return tcpAnswers(host, ep.address.port, timeoutMs);
}
