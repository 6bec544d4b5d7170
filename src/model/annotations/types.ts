/*
 * What reading an Ingress's annotations gives translate: the policy of its routes, the references
 * translate resolves against the snapshot (a Secret, a canary's main Ingress), and one finding per
 * annotation for the migration report (`passerelle check`, `passerelle migrate`, Events).
 */

import type { PassCode } from '../../shared/codes.ts';
import type { PolicyKey, RoutePolicy } from '../policy.ts';

/** The annotation dialects Passerelle reads. */
export type Dialect = 'nginx' | 'traefik';

/**
 * What became of one annotation:
 * - `applied`: read, and means here what it means in its controller;
 * - `different`: read and applied, with a difference the note names (e.g. limits per replica);
 * - `unsupported`: a known or prefixed name Passerelle does not implement (ignored, Warning Event);
 * - `refused`: free text for a proxy config (`*-snippet`), never rendered;
 * - `invalid`: the value fails the annotation's grammar (error diagnostic; the policy is not set);
 * - `conflict`: the same policy is set by both dialects (error diagnostic; the nginx one is kept).
 */
export type FindingStatus = 'applied' | 'different' | 'unsupported' | 'refused' | 'invalid' | 'conflict';

/** One annotation of an Ingress, as the migration report lists it. */
export interface AnnotationFinding {
  /** Full annotation name, e.g. `nginx.ingress.kubernetes.io/rewrite-target`. */
  readonly annotation: string;
  readonly dialect: Dialect;
  readonly status: FindingStatus;
  /** The policy it feeds, when it feeds one. */
  readonly policy?: PolicyKey;
  /** One sentence: what differs, why it is unsupported or refused (and the typed policy to use), or what is wrong with the value. */
  readonly note: string;
  /** For `invalid`, `refused`, `conflict` and `unsupported`: the diagnostic code. */
  readonly code?: PassCode;
}

/** References translate resolves against the snapshot. */
export interface PolicyRefs {
  /** `auth-type: basic` + `auth-secret` (`name` or `namespace/name`), realm from `auth-realm`. */
  readonly authSecret?: {
    readonly namespace: string;
    readonly name: string;
    readonly realm: string;
    /** `auth-secret-type`: htpasswd lines under the key `auth` (default), or one key per user. */
    readonly form: 'auth-file' | 'auth-map';
    /** The annotation that named the Secret (for diagnostics). */
    readonly annotation: string;
  };
  /** `canary: "true"`: this Ingress's backends are canaries of the same host+path of another Ingress. */
  readonly canary?: { readonly header?: string; readonly headerValue?: string; readonly cookie?: string; readonly weight?: number };
  /** Traefik 1 `service-weights`: Service name → percent (translate maps names to backend ids). */
  readonly serviceWeights?: Readonly<Record<string, number>>;
  /** `custom-headers`: a ConfigMap whose keys and values are headers set on every answer (translate reads it). */
  readonly customHeaders?: { readonly namespace: string; readonly name: string; readonly annotation: string };
  /** `from-to-www-redirect: "true"`: translate adds a redirecting route on the other name of each host. */
  readonly wwwRedirect?: true;
  /**
   * ingress-nginx `use-regex: "true"`, or a `rewrite-target` with `$1`…`$9`: the Ingress's paths are
   * regular expressions (ingress-nginx matches them case-insensitively from the start of the path).
   * With `rewriteTarget`, each route's rewrite is `{ kind: 'regex', pattern: <its path>, target }`:
   * translate builds it, since the pattern is the path and readAnnotations does not see the paths.
   */
  readonly regexPaths?: { readonly rewriteTarget?: string; readonly annotation: string };
}

/** What {@link readAnnotations} returns for one Ingress. */
export interface AnnotationResult {
  /** The policy of every route of the Ingress (without the parts in `refs`). */
  readonly policy: RoutePolicy;
  readonly refs: PolicyRefs;
  /** One per annotation of a known dialect prefix, in annotation-name order. */
  readonly findings: readonly AnnotationFinding[];
}

/** What the annotations are read against. */
export interface AnnotationContext {
  /** The Ingress's namespace (Secrets are looked up there). */
  readonly namespace: string;
  /** The Ingress has a `spec.tls` entry: ingress-nginx's `ssl-redirect` defaults to on for it. */
  readonly hasTls: boolean;
  /** Whether that default applies (`[kubernetes] sslRedirect`, as ingress-nginx's ConfigMap `ssl-redirect`); default true. */
  readonly sslRedirectDefault?: boolean;
}
