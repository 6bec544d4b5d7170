import type { CliFlags } from './flags.ts';
import { describeDiagnostics } from '../model/describe.ts';
import type { RoutingModel } from '../model/types.ts';
import { buildOnce } from './build.ts';
import { acmeCheck } from './acme.ts';
import type { AcmeCheck } from './acme.ts';
import { describeCertificateStatuses } from '../acme/status.ts';
import { defined } from '../shared/optional.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AcmeConfig } from '../config/schema.ts';
import { parseAcmeStorage } from '../config/schema.ts';
import type { Diagnostic } from '../shared/diagnostics.ts';
import { acmeRequests } from '../acme/requests.ts';
import { acmeStageOptions } from './acme.ts';
import { describeMigration, migrationReport } from '../model/migration.ts';

/** `passerelle check`: every diagnostic and, with `[acme]`, the state of each certificate; exit code 1 when any diagnostic is an error. */
export async function checkCommand(flags: CliFlags, out: NodeJS.WritableStream): Promise<number> {
  const built = await buildOnce(flags);
  let model: RoutingModel = built.model;
  let acme: AcmeCheck | undefined;
  if (built.context.config.acme !== undefined) {
    const a = built.context.config.acme;
    acme = await acmeCheck(built.context.config, built.context.translate, built.snapshot, model, built.kube);
    const names = acmeRequests(built.model, acmeStageOptions(a)).requests.flatMap((r) => r.names);
    model = { ...model, diagnostics: [...acme.diagnostics, ...acmeConfigWarnings(a, names, existsSync)] };
  }
  const errors = model.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = model.diagnostics.length - errors;
  const migration = migrationReport(built.snapshot, built.context.translate, built.model.diagnostics);
  const annotated = migration.ingresses.length > 0 ? migration : undefined;
  if (flags.output === 'json') {
    out.write(`${JSON.stringify({ errors, warnings, diagnostics: model.diagnostics, ...defined({ certificates: acme?.certificates, storage: acme?.storage, migration: annotated }) }, null, 2)}\n`);
  } else {
    out.write(`${describeDiagnostics(model.diagnostics).join('\n')}\n`);
    if (acme !== undefined) out.write(`${describeCertificateStatuses(acme.certificates, acme.storage).join('\n')}\n`);
    if (annotated !== undefined) out.write(`Annotations (passerelle migrate):\n${describeMigration(annotated).join('\n')}\n`);
    out.write(`${errors} error(s), ${warnings} warning(s); ${model.virtualHosts.length} virtual host(s), ${Object.keys(model.backends).length} backend(s)\n`);
  }
  return errors > 0 ? 1 : 0;
}

/** `passerelle migrate`: the migration report alone; exit code 1 when an annotation is refused, invalid or in conflict, or an Ingress's annotations have an error (a missing auth Secret, a policy the mode cannot enforce). */
export async function migrateCommand(flags: CliFlags, out: NodeJS.WritableStream): Promise<number> {
  const built = await buildOnce(flags);
  const report = migrationReport(built.snapshot, built.context.translate, built.model.diagnostics);
  if (flags.output === 'json') out.write(`${JSON.stringify(report, null, 2)}\n`);
  else out.write(`${describeMigration(report).join('\n')}\n`);
  const c = report.counts;
  return c.refused + c.invalid + c.conflict + report.ingresses.reduce((n, i) => n + i.problems.length, 0) > 0 ? 1 : 0;
}

/** Special-use and reserved suffixes (RFC 2606, RFC 6761, RFC 6762, ICANN's .internal) no public CA issues for. */
const NON_PUBLIC_SUFFIXES = ['localhost', 'test', 'example', 'invalid', 'local', 'internal'] as const;

/** Why no public CA issues a certificate for `name`, or undefined when one may. */
export function nonPublicReason(name: string): string | undefined {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (!n.includes('.')) return 'a single-label name';
  const last = n.slice(n.lastIndexOf('.') + 1);
  if ((NON_PUBLIC_SUFFIXES as readonly string[]).includes(last)) return `the reserved top-level domain .${last}`;
  return undefined;
}

/**
 * `check`'s warnings about `[acme]` that the running controller would only find out later: the
 * directory of a storage file that does not exist (`exists` is given for tests), and names ACME
 * would order (`names`: from onHostRule, `[[acme.domains]]`) that no public CA issues for. With a
 * `caBundle` (a private CA such as Pebble or step-ca) the names are not judged.
 */
export function acmeConfigWarnings(a: Pick<AcmeConfig, 'storage' | 'caServer' | 'caBundle'>, names: readonly string[], exists: (p: string) => boolean): Diagnostic[] {
  const out: Diagnostic[] = [];
  const storage = parseAcmeStorage(a.storage);
  if (typeof storage !== 'string' && storage.kind === 'file') {
    const dir = path.dirname(path.resolve(storage.file));
    if (!exists(dir)) {
      out.push({
        severity: 'warning',
        code: 'PASS_ACME_STORAGE_DIR',
        field: 'acme.storage',
        message: `the directory ${dir} of acme.storage (${storage.file}) does not exist: it is created at the first certificate, but in a container it must be a mounted volume, or certificates are lost at every restart (and count again against the CA's rate limits)`,
      });
    }
  }
  if (a.caBundle === undefined) {
    for (const name of new Set(names)) {
      const reason = nonPublicReason(name);
      if (reason !== undefined) {
        out.push({
          severity: 'warning',
          code: 'PASS_ACME_NAME_NOT_PUBLIC',
          field: 'acme',
          message: `${name} is ${reason}: no public CA (${a.caServer}) issues a certificate for it, so the order will fail; leave it out of onHostRule (annotation kubernetes.io/tls-acme: "false", or a TLS Secret), or use a private CA with caBundle`,
        });
      }
    }
  }
  return out;
}
