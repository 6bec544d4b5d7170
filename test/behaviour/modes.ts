import type { AcmeChallengeHook, ProxyDriver } from '../../src/drivers/types.ts';
import { createNativeDriver } from '../../src/drivers/native/index.ts';

/** What a case may ask of any driver; each mode maps it onto its own options. */
export interface DriverSettings {
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  readonly forwardedHeader?: boolean;
  readonly acmeChallenge?: AcmeChallengeHook;
}

export type DriverFactory = (settings: DriverSettings) => ProxyDriver | Promise<ProxyDriver>;

/** The drivers the behaviour suite runs against; haproxy and nginx join this table. */
export const modes: Readonly<Record<string, DriverFactory>> = {
  native: (s) =>
    createNativeDriver({
      ...(s.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: s.connectTimeoutMs }),
      ...(s.readTimeoutMs === undefined ? {} : { readTimeoutMs: s.readTimeoutMs }),
      ...(s.forwardedHeader === undefined ? {} : { forwardedHeader: s.forwardedHeader }),
      ...(s.acmeChallenge === undefined ? {} : { acmeChallenge: s.acmeChallenge }),
    }),
};

/** The mode under test: `PASSERELLE_MODE`, default `native`. */
export const mode: string = process.env['PASSERELLE_MODE'] ?? 'native';

/** The factory of the mode under test; fails loudly for an unknown mode. */
export function driverFactory(): DriverFactory {
  const f = modes[mode];
  if (f === undefined) throw new Error(`unknown PASSERELLE_MODE "${mode}" (known: ${Object.keys(modes).join(', ')})`);
  return f;
}
