/* Checks between keys (entry point references, ports, ACME against the proxy mode) that the schema cannot see key by key. Pure. */
import type { PassCode } from '../shared/codes.ts';
import type { Diagnostic } from '../shared/diagnostics.ts';
import type { KeyLocator } from './locate.ts';
import { keyDiagnostic } from './messages.ts';
import type { ListenAddressConfig, StaticConfig } from './schema.ts';
import { tryParseListenAddress } from './schema.ts';

/** What the cross-checks found, and the configuration to go on with. */
export interface CrossCheckResult {
  /** The configuration checked, with a retired ACME v1 `caServer` replaced by its v2 successor. */
  readonly config: StaticConfig;
  readonly errors: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
}

/** Retired ACME v1 directories and their v2 successors: the seed's file names the v1 staging one. */
const ACME_V1: Readonly<Record<string, string>> = {
  'https://acme-staging.api.letsencrypt.org/directory': 'https://acme-staging-v02.api.letsencrypt.org/directory',
  'https://acme-v01.api.letsencrypt.org/directory': 'https://acme-v02.api.letsencrypt.org/directory',
};

function overlaps(a: ListenAddressConfig, b: ListenAddressConfig): boolean {
  return a.port === b.port && (a.host === undefined || b.host === undefined || a.host === b.host);
}

/**
 * Checks between keys that the schema cannot see key by key. `config` is left as it is; the result
 * holds a new configuration when something had to be replaced (an ACME v1 `caServer`).
 */
export function crossCheck(config: StaticConfig, file: string, locator: KeyLocator): CrossCheckResult {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const at = (severity: 'error' | 'warning', code: PassCode, message: string, path: readonly PropertyKey[]): void => {
    (severity === 'error' ? errors : warnings).push(keyDiagnostic(severity, code, message, path, file, locator));
  };
  const eps = config.entryPoints;
  const served = new Set(config.defaultEntryPoints);
  if (served.size === 0) at('error', 'PASS_CONFIG_NO_ENTRYPOINT', 'defaultEntryPoints is empty: nothing would be served', ['defaultEntryPoints']);
  config.defaultEntryPoints.forEach((name, i) => {
    if (!(name in eps)) at('error', 'PASS_CONFIG_UNKNOWN_ENTRYPOINT', `entry point "${name}" is not defined under [entryPoints]`, ['defaultEntryPoints', i]);
  });
  const listening: { name: string; address: ListenAddressConfig }[] = [];
  for (const name of Object.keys(eps).sort()) {
    const ep = eps[name];
    if (!ep) continue;
    if (!served.has(name)) {
      at('warning', 'PASS_CONFIG_UNUSED_ENTRYPOINT', `entry point "${name}" is not in defaultEntryPoints: it is not served`, ['entryPoints', name]);
      continue;
    }
    const address = tryParseListenAddress(ep.address);
    if (typeof address !== 'string') {
      const clash = listening.find((l) => overlaps(l.address, address));
      if (clash) {
        at('error', 'PASS_CONFIG_BAD_ADDRESS', `port ${address.port} is already used by entry point "${clash.name}"`, ['entryPoints', name, 'address']);
      }
      listening.push({ name, address });
    }
    if (ep.redirect) {
      const target = ep.redirect.entryPoint;
      const where = ['entryPoints', name, 'redirect', 'entryPoint'];
      if (target === name) at('error', 'PASS_CONFIG_BAD_REDIRECT', `entry point "${name}" redirects to itself`, where);
      else if (!(target in eps)) at('error', 'PASS_CONFIG_BAD_REDIRECT', `redirect to entry point "${target}", which is not defined`, where);
      else if (!served.has(target)) at('error', 'PASS_CONFIG_BAD_REDIRECT', `redirect to entry point "${target}", which is not in defaultEntryPoints`, where);
    }
  }
  if (config.web.enabled) {
    const address = tryParseListenAddress(config.web.address);
    if (typeof address !== 'string') {
      const clash = listening.find((l) => overlaps(l.address, address));
      if (clash) at('error', 'PASS_CONFIG_BAD_ADDRESS', `port ${address.port} is already used by entry point "${clash.name}"`, ['web', 'address']);
    }
  }
  // Only a value written in the file: the default (the CPU count) means nothing outside native mode.
  if (config.proxy.workers !== undefined && config.proxy.workers > 1 && config.proxy.mode !== 'native') {
    at('error', 'PASS_CONFIG_BAD_VALUE', `proxy.workers = ${config.proxy.workers} needs proxy.mode = "native" (${config.proxy.mode} runs its own processes): remove it`, ['proxy', 'workers']);
  }
  const acme = config.acme;
  if (acme === undefined) return { config, errors, warnings };
  const ep = eps[acme.entryPoint];
  if (!ep || !served.has(acme.entryPoint)) {
    at('error', 'PASS_CONFIG_BAD_ACME', `acme.entryPoint "${acme.entryPoint}" is not a served entry point`, ['acme', 'entryPoint']);
  } else if (!ep.tls) {
    at('error', 'PASS_CONFIG_BAD_ACME', `acme.entryPoint "${acme.entryPoint}" has no [entryPoints.${acme.entryPoint}.tls]`, ['acme', 'entryPoint']);
  }
  if (acme.onDemand && config.proxy.mode !== 'native') {
    at('warning', 'PASS_CONFIG_ACME_ON_DEMAND', `acme.onDemand needs proxy.mode = "native" (a ${config.proxy.mode} handshake cannot wait for an order): it is ignored`, ['acme', 'onDemand']);
  }
  if (acme.challenge === 'tls-alpn-01' && config.proxy.mode !== 'native') {
    at('error', 'PASS_CONFIG_BAD_ACME', `acme.challenge = "tls-alpn-01" needs proxy.mode = "native" (the ${config.proxy.mode} proxy terminates TLS and cannot answer acme-tls/1 handshakes): use "http-01"`, ['acme', 'challenge']);
  }
  if (acme.challenge === 'dns-01' && acme.dnsChallenge === undefined) {
    at('error', 'PASS_CONFIG_BAD_ACME', 'acme.challenge = "dns-01" needs [acme.dnsChallenge] with a provider ("rfc2136", "exec", "cloudflare", "route53", "gcloud" or "digitalocean")', ['acme', 'challenge']);
  }
  if (!acme.onDemand && acme.onDemandAsk !== undefined) {
    at('warning', 'PASS_CONFIG_ACME_ON_DEMAND', 'acme.onDemandAsk has no effect while acme.onDemand is false', ['acme', 'onDemandAsk']);
  }
  const v2 = ACME_V1[acme.caServer];
  if (v2 === undefined) return { config, errors, warnings };
  at('warning', 'PASS_CONFIG_ACME_V1', `caServer is a retired ACME v1 directory; using its v2 successor ${v2}`, ['acme', 'caServer']);
  return { config: { ...config, acme: { ...acme, caServer: v2 } }, errors, warnings };
}
