/* Paths written in the configuration file, resolved against the file's folder. Pure. */
import { isAbsolute, resolve } from 'node:path';
import { defined } from '../shared/optional.ts';
import type { AcmeConfig, EntryPointConfig, StaticConfig } from './schema.ts';
import { parseAcmeStorage } from './schema.ts';

/** Resolves a path written in the file against the file's folder. */
function under(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/**
 * The configuration with every file path resolved against `base` (the config file's folder): paths
 * in the file are relative to the file, not to wherever the process was started. `config` is left as it is.
 */
export function resolvePaths(config: StaticConfig, base: string): StaticConfig {
  const { proxy, kubernetes, file, acme } = config;
  const resolveEntryPoint = (ep: EntryPointConfig): EntryPointConfig =>
    ep.tls === undefined
      ? ep
      : { ...ep, tls: { ...ep.tls, certificates: ep.tls.certificates.map((c) => ({ ...c, certFile: under(base, c.certFile), keyFile: under(base, c.keyFile) })) } };
  return {
    ...config,
    proxy: {
      ...proxy,
      // A bare command name ("haproxy") is looked up on PATH; only something with a slash is a path.
      ...(proxy.binary !== undefined && proxy.binary.includes('/') ? { binary: under(base, proxy.binary) } : {}),
      workDir: under(base, proxy.workDir),
      ...defined({
        templates: proxy.templates === undefined ? undefined : under(base, proxy.templates),
        masterSocket: proxy.masterSocket === undefined ? undefined : under(base, proxy.masterSocket),
      }),
    },
    kubernetes: kubernetes.kubeconfig === undefined ? kubernetes : { ...kubernetes, kubeconfig: under(base, kubernetes.kubeconfig) },
    file: file.directory === undefined ? file : { ...file, directory: under(base, file.directory) },
    ...defined({ acme: acme === undefined ? undefined : resolveAcme(acme, base) }),
    ...(config.accessLog?.filePath === undefined ? {} : { accessLog: { ...config.accessLog, filePath: under(base, config.accessLog.filePath) } }),
    entryPoints: Object.fromEntries(Object.entries(config.entryPoints).map(([name, ep]) => [name, resolveEntryPoint(ep)])),
  };
}

function resolveAcme(acme: AcmeConfig, base: string): AcmeConfig {
  const storage = parseAcmeStorage(acme.storage);
  return {
    ...acme,
    ...(typeof storage !== 'string' && storage.kind === 'file' ? { storage: under(base, acme.storage) } : {}),
    ...defined({ caBundle: acme.caBundle === undefined ? undefined : under(base, acme.caBundle) }),
  };
}
