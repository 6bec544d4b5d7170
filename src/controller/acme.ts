/* The ACME stage of the sync loop: wanted certificates → the manager; issued ones → the model. */

import type { RoutingModel } from '../model/types.ts';
import type { AcmeManager } from '../acme/manager.ts';
import { relaxMissingSecrets, withAcmeCertificates } from '../acme/merge.ts';
import { acmeRequests } from '../acme/requests.ts';
import type { AcmeDomain } from '../acme/requests.ts';
import type { ChallengeConfig } from '../acme/dns/choice.ts';

/** What {@link createAcmeStage} reads from the config. */
export interface AcmeStageOptions {
  readonly onHostRule: boolean;
  readonly domains: readonly AcmeDomain[];
  /** Which challenge proves which names (wildcards need a DNS-01 provider). */
  readonly challenge?: ChallengeConfig;
  readonly now?: () => Date;
}

/**
 * The controller's `prepare` step for ACME: tells the manager which certificates are wanted (and
 * which hosts Ingress rules name, for onDemand), then serves the issued certificates for the hosts
 * no Secret covers, adds the ACME diagnostics (failed orders, budget), and turns "TLS Secret does
 * not exist" into a warning for the TLS entries ACME serves.
 */
export function createAcmeStage(manager: AcmeManager, options: AcmeStageOptions): (model: RoutingModel) => RoutingModel {
  return (model) => {
    const set = acmeRequests(model, options);
    manager.setKnownHosts(model.virtualHosts.filter((v) => v.kind === 'exact').map((v) => v.host));
    manager.setRequests(set.requests);
    const merged = withAcmeCertificates(model, manager.certificates(), options.now?.() ?? new Date());
    return { ...merged, diagnostics: [...relaxMissingSecrets(merged.diagnostics, set.acmeTlsEntries), ...set.diagnostics, ...manager.diagnostics()] };
  };
}
