/*
 * The migration report: per Ingress served, what became of each annotation of the ingress-nginx and
 * Traefik 1 dialects (applied, applied differently, unsupported, refused, invalid, in conflict) and
 * which of its policies the proxy mode in use does not render. Pure: `passerelle check` and
 * `passerelle migrate` print it.
 */

import type { ObjectRef } from '../shared/diagnostics.ts';
import { readAnnotations } from './annotations/index.ts';
import type { AnnotationFinding, FindingStatus } from './annotations/index.ts';
import type { Snapshot } from './k8s.ts';
import { fitPolicy } from './policy-support.ts';
import type { PolicyFeature, ProxyMode } from './policy-support.ts';
import { isOurIngress } from './translate/index.ts';
import type { TranslateOptions } from './translate/index.ts';
import { isRecord } from './translate/object.ts';

/** The report of one Ingress. */
export interface IngressMigration {
  readonly ingress: ObjectRef;
  /** Served through `classAliases` beside its own controller. */
  readonly takenOver: boolean;
  readonly findings: readonly AnnotationFinding[];
  /** Policy features the mode does not render (ignored, or the routes denied for an access one). */
  readonly notInMode: readonly PolicyFeature[];
}

/** The whole report: the Ingresses with at least one finding, and counts by status. */
export interface MigrationReport {
  readonly mode: ProxyMode;
  readonly ingresses: readonly IngressMigration[];
  readonly counts: Readonly<Record<FindingStatus, number>>;
}

const STATUSES: readonly FindingStatus[] = ['applied', 'different', 'unsupported', 'refused', 'invalid', 'conflict'];

/** Builds the report over the Ingresses of a snapshot that this controller serves. */
export function migrationReport(snapshot: Snapshot, options: TranslateOptions): MigrationReport {
  const mode = options.mode ?? 'native';
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<FindingStatus, number>;
  const ingresses: IngressMigration[] = [];
  for (const obj of snapshot.ingresses) {
    if (!isRecord(obj)) continue;
    const decision = isOurIngress(obj, snapshot.ingressClasses, options);
    if (!decision.ours) continue;
    const meta = isRecord(obj['metadata']) ? obj['metadata'] : {};
    const spec = isRecord(obj['spec']) ? obj['spec'] : {};
    const annotations: Record<string, string> = {};
    if (isRecord(meta['annotations'])) for (const [k, v] of Object.entries(meta['annotations'])) if (typeof v === 'string') annotations[k] = v;
    const namespace = typeof meta['namespace'] === 'string' ? meta['namespace'] : 'default';
    const name = typeof meta['name'] === 'string' ? meta['name'] : '(unnamed)';
    const hasTls = Array.isArray(spec['tls']) && spec['tls'].length > 0;
    const result = readAnnotations(annotations, { namespace, hasTls, sslRedirectDefault: options.sslRedirect ?? true });
    const notInMode = fitPolicy(result.policy, mode).dropped;
    if (result.findings.length === 0 && notInMode.length === 0) continue;
    for (const f of result.findings) counts[f.status]++;
    ingresses.push({ ingress: { kind: 'Ingress', namespace, name }, takenOver: decision.takenOver === true, findings: result.findings, notInMode });
  }
  ingresses.sort((a, b) => `${a.ingress.namespace}/${a.ingress.name}`.localeCompare(`${b.ingress.namespace}/${b.ingress.name}`));
  return { mode, ingresses, counts };
}

/** The report as text lines, one block per Ingress, then the counts. */
export function describeMigration(report: MigrationReport): string[] {
  const lines: string[] = [];
  for (const ing of report.ingresses) {
    lines.push(`Ingress ${ing.ingress.namespace ?? ''}/${ing.ingress.name}${ing.takenOver ? ' (taken over through classAliases)' : ''}`);
    const width = Math.max(0, ...ing.findings.map((f) => f.annotation.length));
    for (const f of ing.findings) {
      lines.push(`  ${f.status.padEnd(11)} ${f.annotation.padEnd(width)}${f.policy === undefined ? '' : `  → ${f.policy}`}${f.note === '' ? '' : `: ${f.note}`}`);
    }
    for (const feature of ing.notInMode) lines.push(`  not in ${report.mode} mode: ${feature}`);
  }
  const c = report.counts;
  lines.push(`annotations: ${c.applied} applied, ${c.different} applied differently, ${c.unsupported} unsupported, ${c.refused} refused, ${c.invalid} invalid, ${c.conflict} in conflict (${report.ingresses.length} Ingress(es), ${report.mode} mode)`);
  return lines;
}
