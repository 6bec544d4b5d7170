import type { RoutingModel } from '../model/types.ts';
import type { Logger } from '../shared/logger.ts';

/** A way of serving the routing model: native proxy, HAProxy or nginx. */
export interface ProxyDriver {
  readonly name: string;
  /** Serves `model` from now on; on failure the previous configuration keeps running. */
  apply(model: RoutingModel): Promise<void>;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes the rest. */
  stop(graceMs?: number): Promise<void>;
}

/** Answers an HTTP-01 token with its key authorization, or `undefined` when unknown. */
export type AcmeChallengeHook = (token: string) => string | undefined;

export { ACME_CHALLENGE_PREFIX } from '../model/redirect.ts';

/** Options every driver understands; drivers add their own. */
export interface DriverCommonOptions {
  readonly logger?: Logger;
  readonly acmeChallenge?: AcmeChallengeHook;
}
