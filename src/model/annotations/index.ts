/*
 * readAnnotations(): an Ingress's annotations in the ingress-nginx and Traefik 1 dialects → the
 * typed policy of its routes, the references translate resolves, and the migration report's findings.
 * Pure. The catalogues (nginx-catalogue.ts, traefik-catalogue.ts) say what each annotation does;
 * docs/annotations.md is generated from them.
 */

import { CODES } from '../../shared/codes.ts';
import type { Severity } from '../../shared/diagnostics.ts';
import { assemble, mergeDialects } from './merge.ts';
import { readNginx } from './nginx.ts';
import { readTraefik } from './traefik.ts';
import type { AnnotationContext, AnnotationFinding, AnnotationResult } from './types.ts';

export type { AnnotationContext, AnnotationFinding, AnnotationResult, Dialect, FindingStatus, PolicyRefs } from './types.ts';

/**
 * Reads the annotations of one Ingress. Every value passes a strict grammar before it reaches the
 * policy; a refused value leaves its policy unset with an `invalid` finding (translate denies the
 * routes when that policy is an access one). When both dialects decide the same value differently,
 * the ingress-nginx one is kept and the Traefik 1 annotation gets `conflict`; when they agree, both
 * stand. ingress-nginx's `ssl-redirect` default (308 with `context.hasTls`) yields to any annotation.
 *
 * @param annotations every annotation of the Ingress (other prefixes are not looked at)
 * @param context the Ingress's namespace and whether the https redirect default applies
 * @returns the policy, the references translate resolves, and one finding per annotation of a known prefix, in name order
 */
export function readAnnotations(annotations: Readonly<Record<string, string>>, context: AnnotationContext): AnnotationResult {
  const merged = mergeDialects(readNginx(annotations, context), readTraefik(annotations, context));
  return { ...assemble(merged.slots), findings: merged.findings };
}

/**
 * How a finding is reported: by its code's severity (a catalogue meaning starting with "warning:"),
 * or not at all when it has no code.
 *
 * @param finding a finding of {@link readAnnotations}
 * @returns the severity of its diagnostic, or undefined when it needs none
 */
export function findingSeverity(finding: AnnotationFinding): Severity | undefined {
  if (finding.code === undefined) return undefined;
  return CODES[finding.code].startsWith('warning:') ? 'warning' : 'error';
}
