/* The ACME part of the composition root (cli/wire.ts): `[acme]` mapped to the manager, its store and the controller stage. */

import { readFile } from 'node:fs/promises';
import type { AcmeConfig, StaticConfig } from '../config/schema.ts';
import type { Logger } from '../shared/logger.ts';
import { PassError } from '../shared/errors.ts';
import { defined } from '../shared/optional.ts';
import type { Telemetry } from '../shared/telemetry.ts';
import { translate } from '../model/translate/index.ts';
import type { AcmeIssuance, TranslateOptions } from '../model/translate/index.ts';
import type { RoutingModel } from '../model/types.ts';
import type { Snapshot } from '../model/k8s.ts';
import { AcmeChallenges } from '../acme/challenges.ts';
import { AcmeManager, servableCertificates } from '../acme/manager.ts';
import type { AcmeManagerOptions, OnDemandPolicy } from '../acme/manager.ts';
import { FileCertificateStore } from '../acme/store/file.ts';
import type { CertificateStore } from '../acme/store/types.ts';
import { certDates } from '../acme/x509.ts';
import { emptyAcmeState, LETS_ENCRYPT_BUDGET } from '../acme/types.ts';
import type { AcmeState } from '../acme/types.ts';
import { plan } from '../acme/planner.ts';
import { acmeRequests } from '../acme/requests.ts';
import { acmeDiagnostics, certificateStatuses } from '../acme/status.ts';
import type { CertificateStatus } from '../acme/status.ts';
import type { Diagnostic } from '../shared/diagnostics.ts';
import { silentLogger } from '../shared/logger.ts';
import { createAcmeStage } from '../controller/acme.ts';
import type { AcmeStage, AcmeStageOptions } from '../controller/acme.ts';
import { KubernetesCertificateStore } from '../acme/store/kubernetes.ts';
import { parseAcmeStorage } from '../config/schema.ts';
import type { KubeClient } from '../sources/kubernetes/client.ts';
import { SecretClient } from '../sources/kubernetes/secrets.ts';
import { ExecProvider } from '../acme/dns/exec.ts';
import { Rfc2136Provider } from '../acme/dns/rfc2136.ts';
import { cloudflareFromSettings } from '../acme/dns/cloudflare.ts';
import { route53FromSettings } from '../acme/dns/route53.ts';
import { gcloudFromSettings } from '../acme/dns/gcloud.ts';
import { digitalOceanFromSettings } from '../acme/dns/digitalocean.ts';
import type { DnsSolver } from '../acme/dns/solver.ts';
import type { DnsProvider } from '../acme/dns/types.ts';
import { chooseChallenge, describeChoice } from '../acme/dns/choice.ts';
import type { ChallengeConfig } from '../acme/dns/choice.ts';

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
  /** Where ended orders are reported (the metrics). */
  readonly telemetry?: Telemetry;
}

/** The ACME pieces the composition root wires: the manager, the challenge answers (driver hooks), the controller stage. */
export interface AcmeWiring {
  readonly manager: AcmeManager;
  readonly challenges: AcmeChallenges;
  /** The controller's `input` (issued certificates into translate) and `prepare` (intents to the manager). */
  readonly stage: AcmeStage;
}

/**
 * What translate needs to know of `[acme]` (undefined without it): which TLS entries' missing Secrets
 * ACME replaces, so that it reports them as warnings. The same rule as ACME's requests.
 */
export function acmeIssuance(a: AcmeConfig | undefined): AcmeIssuance | undefined {
  if (a === undefined) return undefined;
  return { onHostRule: a.onHostRule, wildcards: chooseChallenge(['*.wildcard.invalid'], challengeConfig(a)).types.length > 0 };
}

/** Which certificates `[acme]` wants from the model: the controller stage and `check` read it alike. */
export function acmeStageOptions(a: AcmeConfig): AcmeStageOptions {
  return { onHostRule: a.onHostRule, domains: a.domains.map((d) => ({ main: d.main, sans: [...d.sans] })), challenge: challengeConfig(a) };
}

/**
 * The configured ACME store: the JSON file of `acme.storage`, or with `storage = "kubernetes"`,
 * `"kubernetes:NAMESPACE"` or `"kubernetes:NAMESPACE/PREFIX"` Secrets in that namespace (default:
 * `$POD_NAMESPACE`, else `kubernetes.leaseNamespace`, else the kubeconfig's namespace), through
 * `kube`, the process's one Kubernetes client (undefined when the Kubernetes source is off).
 */
export function createAcmeStore(config: StaticConfig, logger: Logger, kube: KubeClient | undefined, options: { readonly challengePropagationMs?: number } = {}): CertificateStore {
  const a = config.acme;
  if (a === undefined) throw new PassError('PASS_CONFIG_BAD_ACME', 'no [acme] section');
  const storage = parseAcmeStorage(a.storage);
  if (typeof storage === 'string') throw new PassError('PASS_CONFIG_BAD_VALUE', storage, { field: 'acme.storage' });
  if (storage.kind === 'file') return new FileCertificateStore({ file: storage.file, certDates });
  const k = config.kubernetes;
  if (!k.enabled || kube === undefined) {
    throw new PassError('PASS_CONFIG_BAD_ACME', `acme.storage = "${a.storage}" keeps certificates in Kubernetes Secrets: it needs the Kubernetes source ([kubernetes] enabled = true or --kubernetes)`, { field: 'acme.storage' });
  }
  const namespace = storage.namespace ?? process.env['POD_NAMESPACE'] ?? k.leaseNamespace ?? kube.namespace ?? 'default';
  return new KubernetesCertificateStore({
    secrets: new SecretClient(kube, namespace, logger),
    prefix: storage.prefix,
    logger,
    ...defined({ challengePropagationMs: options.challengePropagationMs }),
  });
}

/**
 * Builds the ACME subsystem from `[acme]` (undefined without one); `onChange` re-syncs the
 * controller; `kube` is the process's Kubernetes client, for Secret storage.
 */
export async function createAcme(config: StaticConfig, translate: TranslateOptions, logger: Logger, onChange: () => void, tuning: AcmeTuning = {}, kube?: KubeClient): Promise<AcmeWiring | undefined> {
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
  const store = tuning.store ?? createAcmeStore(config, logger, kube, defined({ challengePropagationMs: tuning.challengePropagationMs }));
  // Several replicas (Secret storage): the leader publishes its challenges, every replica answers them.
  const challenges = new AcmeChallenges({ logger, ...defined({ share: store.challenges }) });
  const stageOptions = acmeStageOptions(a);
  const manager = new AcmeManager({
    client: {
      directoryUrl: a.caServer,
      termsAccepted: a.acceptTermsOfService,
      ...defined({
        email: a.email,
        eab: a.eab === undefined ? undefined : { kid: a.eab.kid, hmacKey: a.eab.hmacKey },
        caBundlePem,
        pollMinMs: tuning.pollMinMs,
        pollMaxMs: tuning.pollMaxMs,
        pollAttempts: tuning.pollAttempts,
        httpRetries: tuning.httpRetries,
      }),
    },
    store,
    challenges,
    challenge: challengeConfig(a),
    logger,
    onChange,
    domainNames: stageOptions.domains.flatMap((d) => [d.main, ...d.sans]),
    ...defined({
      onDemand: a.onDemand
        ? (tuning.onDemand ?? {
            domains: a.onDemandDomains,
            ingressHosts: a.onDemandIngressHosts,
            perMinute: a.onDemandRateLimit,
            ...defined({ ask: a.onDemandAsk }),
          })
        : undefined,
      isLeader: tuning.isLeader,
      backoffBaseMs: tuning.backoffBaseMs,
      backoffMaxMs: tuning.backoffMaxMs,
      checkIntervalMs: tuning.checkIntervalMs,
      concurrency: tuning.concurrency,
      telemetry: tuning.telemetry,
      dns: await createDnsSolver(a, logger),
    }),
    renewFraction: tuning.renewFraction ?? a.renewBefore,
    budget: tuning.budget ?? { ...LETS_ENCRYPT_BUDGET, perRegisteredDomain: a.weeklyBudget },
  });
  const stage = createAcmeStage(manager, stageOptions);
  return { manager, challenges, stage };
}

/** `[acme] challenge` and the DNS provider, as {@link chooseChallenge} reads them (no IO: `check` uses it too). */
export function challengeConfig(a: AcmeConfig): ChallengeConfig {
  const d = a.dnsChallenge;
  return { challenge: a.challenge, ...defined({ dnsProvider: d?.provider, dnsZone: d?.provider === 'rfc2136' ? d.rfc2136.zone : undefined }) };
}

/**
 * The DNS-01 provider of `[acme.dnsChallenge]` (undefined without one). Unset settings are read from
 * lego's environment variables (RFC2136_NAMESERVER, RFC2136_TSIG_KEY/_SECRET/_ALGORITHM, EXEC_PATH, and
 * those of the HTTP API providers: CLOUDFLARE_DNS_API_TOKEN, AWS_*, GCE_*, DO_AUTH_TOKEN),
 * as Traefik 1 did; a missing one is an error naming the setting. Secrets are never logged.
 */
export async function createDnsSolver(a: AcmeConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<DnsSolver | undefined> {
  const d = a.dnsChallenge;
  if (d === undefined) return undefined;
  const missing = (field: string, variable: string): PassError =>
    new PassError('PASS_CONFIG_BAD_ACME', `acme.dnsChallenge.${field} is not set (nor ${variable} in the environment): the ${d.provider} provider needs it`, { field: `acme.dnsChallenge.${field}` });
  let provider: DnsProvider;
  if (d.provider === 'rfc2136') {
    const r = d.rfc2136;
    const nameserver = r.nameserver ?? env['RFC2136_NAMESERVER'];
    if (nameserver === undefined || nameserver === '') throw missing('rfc2136.nameserver', 'RFC2136_NAMESERVER');
    const keyName = r.tsigKey ?? env['RFC2136_TSIG_KEY'];
    let secret = env['RFC2136_TSIG_SECRET'];
    if (r.tsigSecretFile !== undefined) {
      try {
        secret = (await readFile(r.tsigSecretFile, 'utf8')).trim();
      } catch (err) {
        throw new PassError('PASS_CONFIG_BAD_ACME', `cannot read acme.dnsChallenge.rfc2136.tsigSecretFile ${r.tsigSecretFile}: ${(err as Error).message}`, { field: 'acme.dnsChallenge.rfc2136.tsigSecretFile', cause: err });
      }
    }
    if (keyName !== undefined && (secret === undefined || secret === '')) throw missing('rfc2136.tsigSecretFile', 'RFC2136_TSIG_SECRET');
    // lego writes algorithms as DNS names ("hmac-sha256.").
    const algorithm = (env['RFC2136_TSIG_ALGORITHM'] !== undefined && r.tsigAlgorithm === 'hmac-sha256' ? env['RFC2136_TSIG_ALGORITHM'] : r.tsigAlgorithm).replace(/\.$/, '');
    try {
      provider = new Rfc2136Provider({
        nameserver,
        ttlSeconds: r.ttl,
        ...defined({ zone: r.zone, tsig: keyName === undefined || secret === undefined ? undefined : { name: keyName, algorithm, secret } }),
      });
    } catch (err) {
      throw new PassError('PASS_CONFIG_BAD_ACME', `acme.dnsChallenge.rfc2136: ${(err as Error).message}`, { field: 'acme.dnsChallenge.rfc2136', cause: err });
    }
  } else if (d.provider === 'cloudflare') {
    provider = await cloudflareFromSettings(d.cloudflare, env);
  } else if (d.provider === 'route53') {
    provider = await route53FromSettings(d.route53, env);
  } else if (d.provider === 'gcloud') {
    provider = await gcloudFromSettings(d.gcloud, env);
  } else if (d.provider === 'digitalocean') {
    provider = await digitalOceanFromSettings(d.digitalocean, env);
  } else {
    const command = d.exec.command ?? env['EXEC_PATH'];
    if (command === undefined || command === '') throw missing('exec.command', 'EXEC_PATH');
    provider = new ExecProvider({ command });
  }
  return {
    provider,
    propagation: { delayBeforeCheckMs: d.delayBeforeCheck, timeoutMs: d.propagationTimeout, ...(d.resolvers.length > 0 ? { resolvers: d.resolvers } : {}) },
    onCleanupError: (record, err) => logger.warn({ record: record.fqdn, provider: provider.name, err: (err as Error).message }, 'a DNS-01 challenge record could not be removed'),
  };
}

/** What `passerelle check` shows about ACME. */
export interface AcmeCheck {
  /** The store, as described in logs. */
  readonly storage: string;
  readonly certificates: readonly CertificateStatus[];
  /** The model's diagnostics with the ACME ones added. */
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * The state of every ACME certificate, read from the store without writing to it or to the CA:
 * what the running controller would order, what is valid until when, what failed and why.
 * `kube`: the process's Kubernetes client, for Secret storage.
 */
export async function acmeCheck(config: StaticConfig, translate: TranslateOptions, snapshot: Snapshot, model: RoutingModel, kube?: KubeClient): Promise<AcmeCheck> {
  const a = config.acme;
  if (a === undefined) return { storage: 'none', certificates: [], diagnostics: model.diagnostics };
  const set = acmeRequests(model, acmeStageOptions(a));
  const extra: Diagnostic[] = [];
  let storage = a.storage;
  let state: AcmeState = emptyAcmeState;
  try {
    const store = createAcmeStore(config, silentLogger, kube);
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
    certificates: certificateStatuses(p, state, now).map((c) => ({ ...c, challenge: describeChoice(chooseChallenge(c.names, challengeConfig(a))) })),
    diagnostics: [...model.diagnostics, ...set.diagnostics, ...extra, ...acmeDiagnostics(p, state, now)],
  };
}

/**
 * The model as the running controller would serve it with ACME: `model` (built from `snapshot` with
 * `translate`) built again with the certificates already in the store (read, never written) as
 * translate's issued certificates, its diagnostics and ACME's. What `run --dry-run` and
 * `render --diff` show, so that they agree with what `run` wrote.
 */
export async function withStoredAcmeCertificates(config: StaticConfig, translateOptions: TranslateOptions, snapshot: Snapshot, model: RoutingModel, kube?: KubeClient): Promise<RoutingModel> {
  const a = config.acme;
  if (a === undefined) return model;
  const set = acmeRequests(model, acmeStageOptions(a));
  let state: AcmeState = emptyAcmeState;
  const extra: Diagnostic[] = [];
  try {
    state = await createAcmeStore(config, silentLogger, kube).load();
  } catch (err) {
    extra.push({ severity: 'error', code: 'PASS_ACME_STORAGE', message: `the ACME storage cannot be read: ${(err as Error).message}` });
  }
  const served = translate({ ...snapshot, issuedCertificates: servableCertificates(state, new Date()) }, translateOptions);
  // Issued certificates change what is served, never a diagnostic: `model`'s (with the source's and the config's) stand.
  return { ...served, diagnostics: [...model.diagnostics, ...set.diagnostics, ...extra] };
}

