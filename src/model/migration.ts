/*
 * The migration report: per Ingress served, what became of each annotation of the ingress-nginx and
 * Traefik 1 dialects (applied, applied differently, unsupported, refused, invalid, in conflict) and
 * which of its policies the proxy mode in use does not render. Pure: `passerelle check` and
 * `passerelle migrate` print it.
 */

import type { ObjectRef } from '../shared/diagnostics.ts';
import { readAnnotations } from './annotations/index.ts';
import type { AnnotationFinding, FindingStatus, PolicyRefs } from './annotations/index.ts';
import type { Diagnostic } from '../shared/diagnostics.ts';
import type { PassCode } from '../shared/codes.ts';
import type { Snapshot } from './k8s.ts';
import { FEATURE_MODES, fitPolicy } from './policy-support.ts';
import type { PolicyFeature, ProxyMode } from './policy-support.ts';
import { isOurIngress, REGEX_ROUTE_MODES } from './translate/index.ts';
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
  /** Errors translate found on the Ingress's annotations beyond the findings (a missing auth Secret, ...). */
  readonly problems: readonly Diagnostic[];
}

/** The whole report: the Ingresses with at least one finding, and counts by status. */
export interface MigrationReport {
  readonly mode: ProxyMode;
  readonly ingresses: readonly IngressMigration[];
  readonly counts: Readonly<Record<FindingStatus, number>>;
}

const STATUSES: readonly FindingStatus[] = ['applied', 'different', 'unsupported', 'refused', 'invalid', 'conflict'];

/** Codes of the findings themselves: already listed, not repeated as problems. */
const ANNOTATION_CODES: ReadonlySet<string> = new Set(['PASS_ANNOTATION_INVALID', 'PASS_ANNOTATION_INCOMPLETE', 'PASS_ANNOTATION_SNIPPET', 'PASS_ANNOTATION_CONFLICT', 'PASS_ANNOTATION_UNSUPPORTED', 'PASS_ANNOTATION_IGNORED'] satisfies PassCode[]);

/** What the references of the result name that translate does not implement yet: annotation prefix → what. */
function notImplemented(refs: PolicyRefs, mode: ProxyMode): { readonly match: (annotation: string) => boolean; readonly what: string }[] {
  const out: { match: (annotation: string) => boolean; what: string }[] = [];
  const regex = refs.regexPaths;
  if (regex !== undefined && !REGEX_ROUTE_MODES.includes(mode)) out.push({ match: (a) => a === regex.annotation || a === 'nginx.ingress.kubernetes.io/use-regex', what: `regex paths in ${mode} mode` });
  if (refs.canary !== undefined && !FEATURE_MODES.canary.includes(mode)) out.push({ match: (a) => a.startsWith('nginx.ingress.kubernetes.io/canary'), what: `canary Ingresses in ${mode} mode` });
  if (refs.serviceWeights !== undefined && !FEATURE_MODES.weights.includes(mode)) out.push({ match: (a) => a.endsWith('/service-weights'), what: `weighted Services in ${mode} mode` });
  return out;
}

/**
 * Builds the report over the Ingresses of a snapshot that this controller serves. `diagnostics`
 * (the model's) adds, per Ingress, the errors translate found on its annotations.
 */
export function migrationReport(snapshot: Snapshot, options: TranslateOptions, diagnostics: readonly Diagnostic[] = []): MigrationReport {
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
    // from-to-www-redirect is a reference (translate adds the redirecting host), not a route policy.
    const notInMode = [...fitPolicy(result.policy, mode).dropped, ...(result.refs.wwwRedirect === true && !FEATURE_MODES.wwwRedirect.includes(mode) ? (['wwwRedirect'] as const) : [])];
    // Read but not implemented yet: the report says unsupported, as translate's error does.
    const missing = notImplemented(result.refs, mode);
    const findings = result.findings.map((f): AnnotationFinding => {
      const gap = missing.find((m) => m.match(f.annotation));
      return gap === undefined || f.status === 'invalid' || f.status === 'refused' ? f : { ...f, status: 'unsupported', note: `${gap.what} are not implemented yet: not applied` };
    });
    const problems = diagnostics.filter(
      (d) => d.severity === 'error' && d.object?.kind === 'Ingress' && d.object.namespace === namespace && d.object.name === name && (d.field ?? '').startsWith('metadata.annotations') && !ANNOTATION_CODES.has(d.code),
    );
    if (findings.length === 0 && notInMode.length === 0 && problems.length === 0) continue;
    for (const f of findings) counts[f.status]++;
    ingresses.push({ ingress: { kind: 'Ingress', namespace, name }, takenOver: decision.takenOver === true, findings, notInMode, problems });
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
    for (const d of ing.problems) lines.push(`  error       ${d.code} ${d.field ?? ''}: ${d.message}`);
  }
  const c = report.counts;
  lines.push(`annotations: ${c.applied} applied, ${c.different} applied differently, ${c.unsupported} unsupported, ${c.refused} refused, ${c.invalid} invalid, ${c.conflict} in conflict (${report.ingresses.length} Ingress(es), ${report.mode} mode)`);
  return lines;
}
