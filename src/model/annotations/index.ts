/*
 * readAnnotations(): an Ingress's annotations in the ingress-nginx and Traefik 1 dialects → the
 * typed policy of its routes, the references translate resolves, and the migration report's findings.
 * Pure.
 */

import type { AnnotationContext, AnnotationResult } from './types.ts';

export type { AnnotationContext, AnnotationFinding, AnnotationResult, Dialect, FindingStatus, PolicyRefs } from './types.ts';

/** Reads the annotations of one Ingress (stub: nothing is read yet). */
export function readAnnotations(annotations: Readonly<Record<string, string>>, context: AnnotationContext): AnnotationResult {
  void annotations;
  void context;
  return { policy: {}, refs: {}, findings: [] };
}
