/* The ACME stage of the sync loop: issued certificates → translate's input; the built model's certificate intents → the manager. */

import type { Snapshot } from '../model/k8s.ts';
import type { TranslateInput } from '../model/translate/index.ts';
import type { RoutingModel } from '../model/types.ts';
import type { AcmeManager } from '../acme/manager.ts';
import { acmeRequests } from '../acme/requests.ts';
import type { AcmeDomain } from '../acme/requests.ts';
import type { ChallengeConfig } from '../acme/dns/choice.ts';

/** What {@link createAcmeStage} reads from the config. */
export interface AcmeStageOptions {
  readonly onHostRule: boolean;
  readonly domains: readonly AcmeDomain[];
  /** Which challenge proves which names (wildcards need a DNS-01 provider). */
  readonly challenge?: ChallengeConfig;
}

/** ACME's two steps in a sync: before translate (`input`) and after it (`prepare`). */
export interface AcmeStage {
  /** Translate's input: the sources' snapshot and the issued certificates valid now, which translate serves like Secrets. */
  readonly input: (snapshot: Snapshot) => TranslateInput;
  /**
   * Reads the built model: tells the manager which certificates are wanted (its certificate intents,
   * `[[acme.domains]]`) and which hosts Ingress rules name (for onDemand); returns the model with
   * ACME's own diagnostics (wildcards it cannot order, failed orders, budget) added after translate's.
   */
  readonly prepare: (model: RoutingModel) => RoutingModel;
}

/** The controller's ACME stage (see {@link AcmeStage}); the model's certificates are translate's alone. */
export function createAcmeStage(manager: AcmeManager, options: AcmeStageOptions): AcmeStage {
  return {
    input: (snapshot) => ({ ...snapshot, issuedCertificates: manager.certificates() }),
    prepare: (model) => {
      const set = acmeRequests(model, options);
      manager.setKnownHosts(model.virtualHosts.filter((v) => v.kind === 'exact').map((v) => v.host));
      manager.setRequests(set.requests);
      const extra = [...set.diagnostics, ...manager.diagnostics()];
      return extra.length === 0 ? model : { ...model, diagnostics: [...model.diagnostics, ...extra] };
    },
  };
}
