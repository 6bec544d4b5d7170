/* Composition of the ACME subsystem for `passerelle run`. */

import { readFile } from 'node:fs/promises';
import type { StaticConfig } from '../config/schema.ts';
import type { Logger } from '../shared/logger.ts';
import { PassError } from '../shared/errors.ts';
import type { TranslateOptions } from '../model/translate/index.ts';
import type { RoutingModel } from '../model/types.ts';
import type { Snapshot } from '../model/k8s.ts';
import { AcmeChallenges } from '../acme/challenges.ts';
import { AcmeManager } from '../acme/manager.ts';
import type { AcmeManagerOptions, OnDemandPolicy } from '../acme/manager.ts';
import { FileCertificateStore } from '../acme/store/file.ts';
import type { CertificateStore } from '../acme/store/types.ts';
import { certDates } from '../acme/x509.ts';
import { emptyAcmeState, LETS_ENCRYPT_BUDGET } from '../acme/types.ts';
import type { AcmeState } from '../acme/types.ts';
import { plan } from '../acme/planner.ts';
import { acmeRequests } from '../acme/requests.ts';
import { relaxMissingSecrets } from '../acme/merge.ts';
import { acmeDiagnostics, certificateStatuses } from '../acme/status.ts';
import type { CertificateStatus } from '../acme/status.ts';
import type { Diagnostic } from '../shared/diagnostics.ts';
import { silentLogger } from '../shared/logger.ts';
import { createAcmeStage } from '../controller/acme.ts';
import { KubernetesCertificateStore } from '../controller/acme-secrets.ts';
import { parseAcmeStorage } from '../config/schema.ts';
import { KubeClient, loadKubeConfig } from '../sources/kubernetes/client.ts';
import { SecretClient } from '../sources/kubernetes/secrets.ts';

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
  /** Kubernetes Secret storage: how long the leader waits for other replicas to see published challenges (default 1 s). */
  readonly challengePropagationMs?: number;
}

/** The ACME pieces the composition root wires: the manager, the challenge answers (driver hooks), the controller stage. */
export interface AcmeWiring {
  readonly manager: AcmeManager;
  readonly challenges: AcmeChallenges;
  readonly stage: (model: RoutingModel, snapshot: Snapshot) => RoutingModel;
}

/**
 * The configured ACME store: the JSON file of `acme.storage`, or with `storage = "kubernetes"`,
 * `"kubernetes:NAMESPACE"` or `"kubernetes:NAMESPACE/PREFIX"` Secrets in that namespace (default:
 * `$POD_NAMESPACE`, else `kubernetes.leaseNamespace`, else the kubeconfig's namespace).
 */
export function createAcmeStore(config: StaticConfig, logger: Logger, options: { readonly challengePropagationMs?: number } = {}): CertificateStore {
  const a = config.acme;
  if (a === undefined) throw new PassError('PASS_CONFIG_BAD_ACME', 'no [acme] section');
  const storage = parseAcmeStorage(a.storage);
  if (typeof storage === 'string') throw new PassError('PASS_CONFIG_BAD_VALUE', storage, { field: 'acme.storage' });
  if (storage.kind === 'file') return new FileCertificateStore({ file: storage.file, certDates });
  const k = config.kubernetes;
  if (!k.enabled) {
    throw new PassError('PASS_CONFIG_BAD_ACME', `acme.storage = "${a.storage}" keeps certificates in Kubernetes Secrets: it needs the Kubernetes source ([kubernetes] enabled = true or --kubernetes)`, { field: 'acme.storage' });
  }
  const client = new KubeClient(loadKubeConfig(k.kubeconfig === undefined ? {} : { kubeconfig: k.kubeconfig }));
  const namespace = storage.namespace ?? process.env['POD_NAMESPACE'] ?? k.leaseNamespace ?? client.namespace ?? 'default';
  return new KubernetesCertificateStore({
    secrets: new SecretClient(client, namespace, logger),
    prefix: storage.prefix,
    logger,
    ...(options.challengePropagationMs === undefined ? {} : { challengePropagationMs: options.challengePropagationMs }),
  });
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
  const store = tuning.store ?? createAcmeStore(config, logger, tuning.challengePropagationMs === undefined ? {} : { challengePropagationMs: tuning.challengePropagationMs });
  // Several replicas (Secret storage): the leader publishes its challenges, every replica answers them.
  const challenges = new AcmeChallenges({ logger, ...(store.challenges === undefined ? {} : { share: store.challenges }) });
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
    challenges,
    // TLS-ALPN-01 first when chosen (native mode); HTTP-01 stays the fallback when the CA does not offer it.
    challengeTypes: a.challenge === 'tls-alpn-01' ? ['tls-alpn-01', 'http-01'] : ['http-01'],
    logger,
    onChange,
    domainNames: domains.flatMap((d) => [d.main, ...d.sans]),
    ...(a.onDemand
      ? {
          onDemand: tuning.onDemand ?? {
            domains: a.onDemandDomains,
            ingressHosts: a.onDemandIngressHosts,
            perMinute: a.onDemandRateLimit,
            ...(a.onDemandAsk === undefined ? {} : { ask: a.onDemandAsk }),
          },
        }
      : {}),
    ...(tuning.isLeader === undefined ? {} : { isLeader: tuning.isLeader }),
    ...(tuning.backoffBaseMs === undefined ? {} : { backoffBaseMs: tuning.backoffBaseMs }),
    ...(tuning.backoffMaxMs === undefined ? {} : { backoffMaxMs: tuning.backoffMaxMs }),
    ...(tuning.checkIntervalMs === undefined ? {} : { checkIntervalMs: tuning.checkIntervalMs }),
    ...(tuning.concurrency === undefined ? {} : { concurrency: tuning.concurrency }),
    renewFraction: tuning.renewFraction ?? a.renewBefore,
    budget: tuning.budget ?? { ...LETS_ENCRYPT_BUDGET, perRegisteredDomain: a.weeklyBudget },
  });
  const stage = createAcmeStage(manager, { onHostRule: a.onHostRule, domains, classOptions: translate });
  return { manager, challenges, stage };
}

/** What `passerelle check` shows about ACME. */
export interface AcmeCheck {
  /** The store, as described in logs. */
  readonly storage: string;
  readonly certificates: readonly CertificateStatus[];
  /** The model's diagnostics with the ACME ones added (and missing Secrets ACME replaces relaxed). */
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * The state of every ACME certificate, read from the store without writing to it or to the CA:
 * what the running controller would order, what is valid until when, what failed and why.
 */
export async function acmeCheck(config: StaticConfig, translate: TranslateOptions, snapshot: Snapshot, model: RoutingModel): Promise<AcmeCheck> {
  const a = config.acme;
  if (a === undefined) return { storage: 'none', certificates: [], diagnostics: model.diagnostics };
  const domains = a.domains.map((d) => ({ main: d.main, sans: [...d.sans] }));
  const set = acmeRequests(snapshot, model, { onHostRule: a.onHostRule, domains, classOptions: translate });
  const extra: Diagnostic[] = [];
  let storage = a.storage;
  let state: AcmeState = emptyAcmeState;
  try {
    const store = createAcmeStore(config, silentLogger);
    storage = store.description;
    state = await store.load();
  } catch (err) {
    extra.push({ severity: 'error', code: 'PASS_ACME_STORAGE', message: `the ACME storage cannot be read: ${(err as Error).message}` });
  }
  // onDemand certificates stay wanted (the running controller asks its policy; check cannot).
  const requests = [...set.requests];
  const claimed = new Set(requests.flatMap((r) => r.names));
  for (const c of Object.values(state.certificates)) {
    if (c.origin === 'onDemand' && a.onDemand && !c.names.some((n) => claimed.has(n))) requests.push({ id: c.id, names: c.names, origin: 'onDemand', sources: [{ kind: 'AcmeOnDemand', name: c.names[0] ?? c.id }] });
  }
  const now = new Date();
  const p = plan({ requests, state, now, budget: { ...LETS_ENCRYPT_BUDGET, perRegisteredDomain: a.weeklyBudget }, renewFraction: a.renewBefore });
  return {
    storage,
    certificates: certificateStatuses(p, state, now),
    diagnostics: [...relaxMissingSecrets(model.diagnostics, set.acmeTlsEntries), ...set.diagnostics, ...extra, ...acmeDiagnostics(p, state, now)],
  };
}
