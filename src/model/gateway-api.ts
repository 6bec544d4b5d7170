/*
 * The Gateway API objects Passerelle reads (standard channel, `gateway.networking.k8s.io/v1`:
 * GatewayClass, Gateway, HTTPRoute; `v1beta1`/`v1` ReferenceGrant): only the fields the translation
 * reads, as the API returns them (defaulted fields optional). Translate still reads every object from
 * `unknown` and validates it; these types describe the shape for sources, fixtures and tests.
 */

import type { KubeObject, ObjectMeta } from './k8s.ts';

/** The API group of the Gateway API kinds. */
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/**
 * The Gateway API features Passerelle supports in every proxy mode, by the conformance suite's names
 * (sorted, as GatewayClass `status.supportedFeatures` lists them): what its report claims and passes.
 */
export const GATEWAY_SUPPORTED_FEATURES: readonly string[] = [
  'Gateway',
  'GatewayAddressEmpty',
  'GatewayHTTPListenerIsolation',
  'GatewayHTTPSListenerDetectMisdirectedRequests',
  'GatewayPort8080',
  'GatewayStaticAddresses',
  'HTTPRoute',
  'HTTPRoute303RedirectStatusCode',
  'HTTPRoute307RedirectStatusCode',
  'HTTPRoute308RedirectStatusCode',
  'HTTPRouteBackendProtocolWebSocket',
  'HTTPRouteBackendRequestHeaderModification',
  'HTTPRouteBackendTimeout',
  'HTTPRouteCORS',
  'HTTPRouteDestinationPortMatching',
  'HTTPRouteHostRewrite',
  'HTTPRouteMethodMatching',
  'HTTPRouteNamedRouteRule',
  'HTTPRouteParentRefPort',
  'HTTPRoutePathRedirect',
  'HTTPRoutePathRewrite',
  'HTTPRoutePortRedirect',
  'HTTPRouteQueryParamMatching',
  'HTTPRouteRequestMirror',
  'HTTPRouteRequestMultipleMirrors',
  'HTTPRouteRequestPercentageMirror',
  'HTTPRouteRequestTimeout',
  'HTTPRouteResponseHeaderModification',
  'HTTPRouteSchemeRedirect',
  'ReferenceGrant',
];

/** Metadata with the generation the status's `observedGeneration` echoes. */
export interface GatewayObjectMeta extends ObjectMeta {
  readonly generation?: number;
}

/** GatewayClass (cluster-scoped): ours when `spec.controllerName` is Passerelle's. */
export interface GatewayClass extends KubeObject {
  readonly kind?: 'GatewayClass';
  readonly metadata?: GatewayObjectMeta;
  readonly spec?: { readonly controllerName?: string };
}

/** `allowedRoutes.namespaces.selector`: a Kubernetes label selector. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly { readonly key: string; readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; readonly values?: readonly string[] }[];
}

/** Which Routes may attach to a listener. Defaults: namespaces from `Same`, kinds by protocol. */
export interface AllowedRoutes {
  readonly namespaces?: { readonly from?: 'All' | 'Same' | 'Selector'; readonly selector?: LabelSelector };
  readonly kinds?: readonly { readonly group?: string; readonly kind: string }[];
}

/** A reference to a Secret (or another kind, refused) holding a listener's certificate. */
export interface SecretObjectReference {
  /** Default `""` (core). */
  readonly group?: string;
  /** Default `Secret`. */
  readonly kind?: string;
  readonly name: string;
  /** Default: the Gateway's namespace; another one needs a ReferenceGrant. */
  readonly namespace?: string;
}

/** One listener of a Gateway. */
export interface Listener {
  readonly name: string;
  readonly hostname?: string;
  readonly port: number;
  /** Passerelle serves `HTTP` and `HTTPS`; others are refused (UnsupportedProtocol). */
  readonly protocol: string;
  readonly tls?: { readonly mode?: 'Terminate' | 'Passthrough'; readonly certificateRefs?: readonly SecretObjectReference[] };
  readonly allowedRoutes?: AllowedRoutes;
}

/** Gateway: ours when its GatewayClass is. */
export interface Gateway extends KubeObject {
  readonly kind?: 'Gateway';
  readonly metadata?: GatewayObjectMeta;
  readonly spec?: {
    readonly gatewayClassName: string;
    readonly listeners: readonly Listener[];
    /** Requested addresses: not supported (Passerelle's address is its entry points'). */
    readonly addresses?: readonly { readonly type?: string; readonly value: string }[];
  };
}

/** An HTTPRoute's reference to its parent (a Gateway, optionally one listener by name or port). */
export interface ParentReference {
  /** Default `gateway.networking.k8s.io`. */
  readonly group?: string;
  /** Default `Gateway`. */
  readonly kind?: string;
  /** Default: the route's namespace. */
  readonly namespace?: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

/** A header, query or method match of an HTTPRoute rule. */
export interface HTTPHeaderMatch {
  readonly type?: 'Exact' | 'RegularExpression';
  readonly name: string;
  readonly value: string;
}

/** One match of a rule: all its parts must match. */
export interface HTTPRouteMatch {
  /** Default `{ type: PathPrefix, value: "/" }`. */
  readonly path?: { readonly type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; readonly value?: string };
  readonly headers?: readonly HTTPHeaderMatch[];
  readonly queryParams?: readonly HTTPHeaderMatch[];
  readonly method?: string;
}

/** Header changes of RequestHeaderModifier / ResponseHeaderModifier. */
export interface HTTPHeaderFilter {
  readonly set?: readonly { readonly name: string; readonly value: string }[];
  readonly add?: readonly { readonly name: string; readonly value: string }[];
  readonly remove?: readonly string[];
}

/** A path change of RequestRedirect / URLRewrite. */
export interface HTTPPathModifier {
  readonly type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  readonly replaceFullPath?: string;
  readonly replacePrefixMatch?: string;
}

/** One filter of a rule (the standard channel's types). */
export interface HTTPRouteFilter {
  readonly type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestRedirect' | 'URLRewrite' | 'RequestMirror' | 'ExtensionRef';
  readonly requestHeaderModifier?: HTTPHeaderFilter;
  readonly responseHeaderModifier?: HTTPHeaderFilter;
  readonly requestRedirect?: {
    readonly scheme?: 'http' | 'https';
    readonly hostname?: string;
    readonly path?: HTTPPathModifier;
    readonly port?: number;
    /** 301 or 302 (default 302). */
    readonly statusCode?: number;
  };
  readonly urlRewrite?: { readonly hostname?: string; readonly path?: HTTPPathModifier };
  readonly requestMirror?: { readonly backendRef: BackendObjectReference };
  readonly extensionRef?: { readonly group: string; readonly kind: string; readonly name: string };
}

/** A reference to a backend: a Service (default kind) and its port. */
export interface BackendObjectReference {
  /** Default `""` (core). */
  readonly group?: string;
  /** Default `Service`. */
  readonly kind?: string;
  readonly name: string;
  /** Default: the route's namespace; another one needs a ReferenceGrant. */
  readonly namespace?: string;
  readonly port?: number;
}

/** A weighted backend of a rule. */
export interface HTTPBackendRef extends BackendObjectReference {
  /** Default 1; 0 sends it nothing. */
  readonly weight?: number;
  readonly filters?: readonly HTTPRouteFilter[];
}

/** One rule of an HTTPRoute. */
export interface HTTPRouteRule {
  readonly name?: string;
  readonly matches?: readonly HTTPRouteMatch[];
  readonly filters?: readonly HTTPRouteFilter[];
  readonly backendRefs?: readonly HTTPBackendRef[];
  readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
}

/** HTTPRoute. */
export interface HTTPRoute extends KubeObject {
  readonly kind?: 'HTTPRoute';
  readonly metadata?: GatewayObjectMeta;
  readonly spec?: {
    readonly parentRefs?: readonly ParentReference[];
    readonly hostnames?: readonly string[];
    readonly rules?: readonly HTTPRouteRule[];
  };
}

/** ReferenceGrant: lets objects of `from` refer to objects of `to` in the grant's namespace. */
export interface ReferenceGrant extends KubeObject {
  readonly kind?: 'ReferenceGrant';
  readonly metadata?: GatewayObjectMeta;
  readonly spec?: {
    readonly from: readonly { readonly group: string; readonly kind: string; readonly namespace: string }[];
    /** `name` absent: every object of that group and kind. */
    readonly to: readonly { readonly group: string; readonly kind: string; readonly name?: string }[];
  };
}

/** Condition types and reasons of the Gateway API status that translate writes (spec's names). */
export const GatewayConditions = {
  accepted: 'Accepted',
  programmed: 'Programmed',
  resolvedRefs: 'ResolvedRefs',
  conflicted: 'Conflicted',
  partiallyInvalid: 'PartiallyInvalid',
} as const;

/** The spec's condition reasons Passerelle uses. */
export const GatewayReasons = {
  accepted: 'Accepted',
  programmed: 'Programmed',
  resolvedRefs: 'ResolvedRefs',
  invalid: 'Invalid',
  listenersNotValid: 'ListenersNotValid',
  unsupportedAddress: 'UnsupportedAddress',
  addressNotUsable: 'AddressNotUsable',
  portUnavailable: 'PortUnavailable',
  unsupportedProtocol: 'UnsupportedProtocol',
  hostnameConflict: 'HostnameConflict',
  protocolConflict: 'ProtocolConflict',
  noConflicts: 'NoConflicts',
  invalidCertificateRef: 'InvalidCertificateRef',
  invalidRouteKinds: 'InvalidRouteKinds',
  refNotPermitted: 'RefNotPermitted',
  noMatchingParent: 'NoMatchingParent',
  notAllowedByListeners: 'NotAllowedByListeners',
  noMatchingListenerHostname: 'NoMatchingListenerHostname',
  unsupportedValue: 'UnsupportedValue',
  backendNotFound: 'BackendNotFound',
  invalidKind: 'InvalidKind',
} as const;
