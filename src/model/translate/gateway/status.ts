/*
 * The Gateway API status translate decides, as plain data: what the leader writes to GatewayClasses,
 * Gateways and HTTPRoutes. No times: the writer keeps a condition's lastTransitionTime while its
 * status is unchanged (so a restart does not flap) and sets it to now otherwise.
 */

import { GATEWAY_GROUP } from '../../gateway-api.ts';
/** A parentRef as written (kept whole: the status echoes it). */
type Rec = Readonly<Record<string, unknown>>;

/** One status condition (`metav1.Condition` without lastTransitionTime). */
export interface GatewayCondition {
  readonly type: string;
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
  /** The object's metadata.generation the condition was decided for (absent when the object has none). */
  readonly observedGeneration?: number;
}

/** The status of one of our GatewayClasses. */
export interface GatewayClassStatus {
  readonly name: string;
  readonly conditions: readonly GatewayCondition[];
  /** `status.supportedFeatures` names (sorted). */
  readonly supportedFeatures: readonly string[];
}

/** The status of one listener of a Gateway. */
export interface ListenerStatus {
  readonly name: string;
  readonly supportedKinds: readonly { readonly group: string; readonly kind: string }[];
  /** Routes the listener accepts: selected by their parentRef, allowed by allowedRoutes, sharing a hostname with it. */
  readonly attachedRoutes: number;
  readonly conditions: readonly GatewayCondition[];
  /** The entry point the listener is served on (not written to the API; for logs and tests). */
  readonly entryPoint?: string;
}

/** The status of one of our Gateways (`addresses` is the writer's: it knows the published address). */
export interface GatewayStatus {
  readonly namespace: string;
  readonly name: string;
  readonly conditions: readonly GatewayCondition[];
  readonly listeners: readonly ListenerStatus[];
  /** The address of `[kubernetes] gatewayAddressPool` this Gateway has; absent: the shared addresses. */
  readonly address?: string;
  /** It asks for an address it cannot have (spec.addresses): it is served nowhere and publishes none. */
  readonly unserved?: true;
}

/** The status of one parentRef of an HTTPRoute that names one of our Gateways. */
export interface RouteParentStatus {
  /** The parentRef as written (the spec matches status entries to parentRefs by it). */
  readonly parentRef: Rec;
  readonly controllerName: string;
  readonly conditions: readonly GatewayCondition[];
}

/** The entries of an HTTPRoute's `status.parents` this controller owns. */
export interface HTTPRouteStatus {
  readonly namespace: string;
  readonly name: string;
  readonly parents: readonly RouteParentStatus[];
}

/** Everything to write, sorted by namespace and name. */
export interface GatewayStatuses {
  readonly gatewayClasses: readonly GatewayClassStatus[];
  readonly gateways: readonly GatewayStatus[];
  readonly httpRoutes: readonly HTTPRouteStatus[];
}

/** A condition, with observedGeneration when the object has a generation. */
export function condition(type: string, ok: boolean, reason: string, message: string, generation: number | undefined): GatewayCondition {
  const c = { type, status: ok ? ('True' as const) : ('False' as const), reason, message };
  return generation === undefined ? c : { ...c, observedGeneration: generation };
}

/** The route kinds Passerelle serves on HTTP and HTTPS listeners. */
export const HTTP_ROUTE_KIND = { group: GATEWAY_GROUP, kind: 'HTTPRoute' } as const;
