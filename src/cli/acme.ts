/* Composition of the ACME subsystem for `passerelle run`. */

import { readFile } from 'node:fs/promises';
import type { StaticConfig } from '../config/schema.ts';
import type { Logger } from '../shared/logger.ts';
import { PassError } from '../shared/errors.ts';
import type { TranslateOptions } from '../model/translate/index.ts';
import type { RoutingModel } from '../model/types.ts';
import type { Snapshot } from '../model/k8s.ts';
import { Http01Tokens } from '../acme/http01.ts';
import { AcmeManager } from '../acme/manager.ts';
import type { AcmeManagerOptions, OnDemandPolicy } from '../acme/manager.ts';
import { FileCertificateStore } from '../acme/store/file.ts';
import type { CertificateStore } from '../acme/store/types.ts';
import { certDates } from '../acme/x509.ts';
import { createAcmeStage } from '../controller/acme.ts';

/** Tuning that has no config key (tests, benchmarks): backoff, polling, budget, onDemand policy. */
export interface AcmeTuning {
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  readonly checkIntervalMs?: number;
  readonly concurrency?: number;
  readonly renewFraction?: number;
  readonly budget?: AcmeManagerOptions['budget'];
  readonly pollMinMs?: number;
  readonly pollMaxMs?: number;
  readonly pollAttempts?: number;
  readonly httpRetries?: number;
  readonly onDemand?: OnDemandPolicy;
  /** Replaces the file store (e.g. Kubernetes Secrets). */
  readonly store?: CertificateStore;
  readonly isLeader?: () => boolean;
}

/** The ACME pieces the composition root wires: the manager, the HTTP-01 hook, the controller stage. */
export interface AcmeWiring {
  readonly manager: AcmeManager;
  readonly tokens: Http01Tokens;
  readonly stage: (model: RoutingModel, snapshot: Snapshot) => RoutingModel;
}

/** Builds the ACME subsystem from `[acme]`; `onChange` re-syncs the controller. */
export async function createAcme(config: StaticConfig, translate: TranslateOptions, logger: Logger, onChange: () => void, tuning: AcmeTuning = {}): Promise<AcmeWiring | undefined> {
  const a = config.acme;
  if (a === undefined) return undefined;
  let caBundlePem: string | undefined;
  if (a.caBundle !== undefined) {
    try {
      caBundlePem = await readFile(a.caBundle, 'utf8');
    } catch (err) {
      throw new PassError('PASS_ACME_CA_BUNDLE', `cannot read acme.caBundle ${a.caBundle}: ${(err as Error).message}`, { field: 'acme.caBundle', cause: err });
    }
  }
  const tokens = new Http01Tokens();
  const store = tuning.store ?? new FileCertificateStore({ file: a.storage, certDates });
  const domains = a.domains.map((d) => ({ main: d.main, sans: [...d.sans] }));
  const manager = new AcmeManager({
    client: {
      directoryUrl: a.caServer,
      termsAccepted: a.acceptTermsOfService,
      ...(a.email === undefined ? {} : { email: a.email }),
      ...(a.eab === undefined ? {} : { eab: { kid: a.eab.kid, hmacKey: a.eab.hmacKey } }),
      ...(caBundlePem === undefined ? {} : { caBundlePem }),
      ...(tuning.pollMinMs === undefined ? {} : { pollMinMs: tuning.pollMinMs }),
      ...(tuning.pollMaxMs === undefined ? {} : { pollMaxMs: tuning.pollMaxMs }),
      ...(tuning.pollAttempts === undefined ? {} : { pollAttempts: tuning.pollAttempts }),
      ...(tuning.httpRetries === undefined ? {} : { httpRetries: tuning.httpRetries }),
    },
    store,
    tokens,
    logger,
    onChange,
    domainNames: domains.flatMap((d) => [d.main, ...d.sans]),
    ...(a.onDemand ? { onDemand: tuning.onDemand ?? {} } : {}),
    ...(tuning.isLeader === undefined ? {} : { isLeader: tuning.isLeader }),
    ...(tuning.backoffBaseMs === undefined ? {} : { backoffBaseMs: tuning.backoffBaseMs }),
    ...(tuning.backoffMaxMs === undefined ? {} : { backoffMaxMs: tuning.backoffMaxMs }),
    ...(tuning.checkIntervalMs === undefined ? {} : { checkIntervalMs: tuning.checkIntervalMs }),
    ...(tuning.concurrency === undefined ? {} : { concurrency: tuning.concurrency }),
    ...(tuning.renewFraction === undefined ? {} : { renewFraction: tuning.renewFraction }),
    ...(tuning.budget === undefined ? {} : { budget: tuning.budget }),
  });
  const stage = createAcmeStage(manager, { onHostRule: a.onHostRule, domains, classOptions: translate });
  return { manager, tokens, stage };
}
