/**
 * Every stable error and diagnostic code, with its one-line meaning.
 *
 * A code is part of the interface: logs, `passerelle check`, Events and tests match on it.
 * `PassError`, `Diagnostic` and the reporters only take a {@link PassCode}, so a code used
 * anywhere must be listed here first; `node scripts/errors-doc.ts` writes docs/errors.md from
 * this table, and a unit test fails when a code in src/ is missing here or an entry here is
 * used nowhere. Grouped by area (the word after `PASS_`); docs/errors.md uses the same areas.
 */
export const CODES = {
  // Configuration file (src/config/, model/entrypoints.ts)
  PASS_CONFIG_ACME_ON_DEMAND: 'warning: acme.onDemand is set outside native mode, or acme.onDemandAsk without acme.onDemand; the setting is ignored',
  PASS_CONFIG_ACME_V1: 'warning: acme.caServer is a retired ACME v1 directory; its v2 successor is used instead',
  PASS_CONFIG_BAD_ACME: 'the [acme] section cannot work: no [acme] section, acme.entryPoint not served or without TLS, tls-alpn-01 outside native mode, or Secret storage without the Kubernetes source',
  PASS_CONFIG_BAD_ADDRESS: 'an entry point or web address is not host:port, or its port is already used by another entry point',
  PASS_CONFIG_BAD_CIDR: 'a forwardedHeaders.trustedIPs entry is not an IP address or a CIDR range',
  PASS_CONFIG_BAD_DOMAIN: 'an [[acme.domains]] name is not a DNS name',
  PASS_CONFIG_BAD_DURATION: 'a duration is not "500ms", "5s", "1m" or a number of milliseconds, or is below its minimum',
  PASS_CONFIG_BAD_NAME: 'an entry point name has characters other than letters, digits, "-" and "_"',
  PASS_CONFIG_BAD_REDIRECT: 'an entry point redirects to itself, to an undefined entry point, or to one not in defaultEntryPoints',
  PASS_CONFIG_BAD_TYPE: 'a key has the wrong TOML type (a string where a number is expected, ...)',
  PASS_CONFIG_BAD_USER: 'a basic-auth user is not a supported htpasswd line ($apr1$, bcrypt $2y$, {SHA}), or is listed twice',
  PASS_CONFIG_BAD_VALUE: 'a key has a value outside what it accepts (not one of the allowed words, a bad acme.storage or publishService, ...)',
  PASS_CONFIG_CONFLICT: 'two keys that are the same setting are both set (acme.storage and acme.storageFile)',
  PASS_CONFIG_INVALID: 'the configuration file is invalid; the error lists one diagnostic per problem',
  PASS_CONFIG_MISSING_KEY: 'a required key is missing',
  PASS_CONFIG_NO_ENTRYPOINT: 'there is no entry point, or defaultEntryPoints is empty: nothing would be served',
  PASS_CONFIG_PARSE: 'the configuration file is not valid TOML (with its line and column)',
  PASS_CONFIG_READ: 'the configuration file cannot be read',
  PASS_CONFIG_UNKNOWN_ENTRYPOINT: 'defaultEntryPoints names an entry point that is not defined under [entryPoints]',
  PASS_CONFIG_UNKNOWN_KEY: 'a key the schema does not know (with the nearest known key as a hint)',
  PASS_CONFIG_UNUSED_ENTRYPOINT: 'warning: an entry point is defined but not in defaultEntryPoints, so it is not served',

  // Command line (src/cli/)
  PASS_CLI_BAD_URL: '`passerelle explain` was not given an absolute URL',
  PASS_CLI_UNKNOWN_COMMAND: 'the first argument is not a known command (run, render, check, explain, help)',
  PASS_FLAG_BAD_VALUE: 'a command-line option has a value it does not accept (not one of its words, not an HTTP method, not "Name: value", ...)',
  PASS_FLAG_MISSING_VALUE: 'a command-line option that takes a value was given none',
  PASS_FLAG_UNKNOWN: 'an unknown command-line option',
  PASS_NO_SOURCE: 'no source of Ingress objects: neither [file] directory (or --directory) nor the Kubernetes source is set',

  // Kubernetes objects, as translated into the routing model (src/model/translate/)
  PASS_ENDPOINTSLICE_FQDN: 'warning: an EndpointSlice of addressType FQDN, which is not supported; its endpoints are ignored',
  PASS_INGRESS_BAD_BACKEND: 'an Ingress backend names a Service that is not a DNS-1123 label, or a port that is not 1-65535 or an IANA service name',
  PASS_INGRESS_BAD_HOST: 'an Ingress rule or TLS host is not a valid host name or *.wildcard; the rule or host is skipped',
  PASS_INGRESS_BAD_PATH: 'an Ingress path is missing, not a string, or not an absolute path of the URL path grammar; the path is skipped',
  PASS_INGRESS_BAD_PATH_TYPE: 'an Ingress pathType is missing (networking.k8s.io/v1) or not Exact, Prefix or ImplementationSpecific; the path is skipped',
  PASS_INGRESS_CONFLICT: 'warning: a host and path, the default backend, or a host\'s certificate is already set by an older Ingress; this one is ignored',
  PASS_INGRESS_EXTERNAL_NAME: 'warning: the backend Service is of type ExternalName, which is not supported; the route answers 503',
  PASS_INGRESS_MISSING_AUTH_SECRET: 'the basic-auth Secret an Ingress names (auth-secret) does not exist or has no usable user; its routes answer 503 rather than serve without the password',
  PASS_INGRESS_MISSING_SECRET: 'the TLS Secret of an Ingress does not exist; its hosts use the default certificate (a warning when ACME issues it)',
  PASS_INGRESS_MISSING_SERVICE: 'the backend Service does not exist; the route answers 503 until it does',
  PASS_INGRESS_UNKNOWN_PORT: 'the backend Service has no TCP port of that number or name; the route answers 503',
  PASS_INGRESS_UNREADABLE: 'an Ingress could not be read at all (an unexpected failure on this object); it is left out, the rest is served',
  PASS_INGRESS_UNSUPPORTED_BACKEND: 'warning: a resource backend, which is not supported; the backend is ignored',
  PASS_OBJECT_INVALID: 'an object (Ingress, Service, EndpointSlice, Secret, ...) has malformed metadata or a field of the wrong shape; it or that part is left out',
  PASS_INGRESS_MISSING_CONFIGMAP: 'the ConfigMap an Ingress annotation names (custom-headers) does not exist: its headers are not set, the routes are served',
  PASS_CONFIGMAP_BAD_HEADER: 'warning: an entry of a custom-headers ConfigMap is not a header name and value (RFC 9110 token, visible ASCII): that header is not set, the others are',
  PASS_SECRET_BAD_AUTH_USER: 'warning: a user of a basic-auth Secret is refused (no name, or a hash that cannot be checked safely); the other users still work',
  PASS_SECRET_BAD_TLS: 'a Secret used for TLS is not of type kubernetes.io/tls or lacks a PEM tls.crt chain or an unencrypted PEM tls.key',

  // Gateway API objects, as translated into the routing model (src/model/translate/gateway/)
  PASS_GATEWAY_ADDRESS_POOL_EXHAUSTED: 'warning: every address of `[kubernetes] gatewayAddressPool` is taken by an older Gateway; this Gateway is served on the shared address (entry points and Ingresses) instead of one of its own',
  PASS_GATEWAY_ADDRESS_NOT_USABLE: 'a Gateway asks (spec.addresses) for an IP address that is not in `[kubernetes] gatewayAddressPool`, that an older Gateway holds, or for more than one: it is not programmed (AddressNotUsable) and its routes are not served',
  PASS_GATEWAY_ADDRESS_UNSUPPORTED: 'a Gateway asks (spec.addresses) for an address of a type other than IPAddress, or one that is not an IP address: it is not accepted (UnsupportedAddress) and its routes are not served',
  PASS_GATEWAY_BACKEND_KIND: 'an HTTPRoute backendRef is not a core Service (InvalidKind); it gets no share of the requests (503 when it is the only one)',
  PASS_GATEWAY_BAD_HOSTNAME: 'a listener or HTTPRoute hostname is not a DNS name or *.wildcard; it is left out',
  PASS_GATEWAY_BAD_MATCH: 'an HTTPRoute match has an unknown path type, method or match type, or a path, header or query parameter name or value outside its grammar (regular expressions: the safe subset every mode reads alike); that match is not routed',
  PASS_GATEWAY_CERTIFICATE_REF: 'a listener certificateRef is not a usable TLS Secret (missing, not a Secret, bad PEM): the listener is not programmed (a warning when ACME issues its certificate)',
  PASS_GATEWAY_CONFLICT: "warning: a host and path, or a host's certificate, is already set by an Ingress or an older HTTPRoute or Gateway; this one is ignored",
  PASS_GATEWAY_FIELD_IGNORED: 'warning: a Gateway API field Passerelle does not implement yet (rule timeouts, a second certificateRef, ...); it is ignored',
  PASS_GATEWAY_FILTER_NOT_SUPPORTED: 'an HTTPRoute filter, or part of one, the routing model cannot express (a redirect with a path or port, ExtensionRef, a header name or value outside the header grammar, ...): the rule answers 503 rather than serve without it',
  PASS_GATEWAY_LISTENER_CONFLICT: 'a Gateway listener has the port and hostname of an earlier listener (HostnameConflict), or another protocol on its port (ProtocolConflict); it is not programmed',
  PASS_GATEWAY_LISTENER_PORT: 'a Gateway listener port has no entry point of its protocol (HTTP: one without TLS, HTTPS: one with TLS) (PortUnavailable); it is not programmed',
  PASS_GATEWAY_LISTENER_PROTOCOL: 'a Gateway listener asks for a protocol, TLS mode or route kind Passerelle does not serve (only HTTP, and HTTPS terminated, for HTTPRoutes); it is not programmed',
  PASS_GATEWAY_MATCH_NOT_SUPPORTED: 'an HTTPRoute match on headers, query parameters or method in a proxy mode that does not route such matches: that match is not routed (its requests go to the other routes)',
  PASS_GATEWAY_MIRROR_INVALID: 'an HTTPRoute RequestMirror filter that cannot be applied (its backendRef unusable, its percent or fraction out of range): the rule is served without that copy',
  PASS_GATEWAY_NOT_ATTACHED: 'an HTTPRoute parentRef attaches to no listener of its Gateway (NoMatchingParent, NotAllowedByListeners, NoMatchingListenerHostname); the route is not served through it',
  PASS_GATEWAY_PARENT_NOT_FOUND: 'warning: an HTTPRoute parentRef names a Gateway that does not exist; no status is written for it',
  PASS_GATEWAY_REF_NOT_PERMITTED: 'a cross-namespace certificateRef or backendRef that no ReferenceGrant allows (RefNotPermitted); the reference is not used',
  PASS_GATEWAY_UNREADABLE: 'a Gateway API object could not be read at all (an unexpected failure on this object); it is left out, the rest is served',

  // Ingress annotations, ingress-nginx and Traefik 1 dialects (src/model/annotations/, docs/annotations.md)
  PASS_ANNOTATION_CONFLICT: 'two annotations decide the same policy differently (ingress-nginx and Traefik 1, or two names of one setting); the ingress-nginx one, or the one read first, is kept',
  PASS_ANNOTATION_IGNORED: 'warning: an annotation has no effect here, as in its controller (its companion is absent or off, e.g. session-cookie-name without affinity, or it is on a canary Ingress)',
  PASS_ANNOTATION_INCOMPLETE: 'an annotation cannot be applied because one it works with is missing, invalid or unsupported (auth-type basic without auth-secret, canary-weight without canary: "true", ...); its policy is not set',
  PASS_ANNOTATION_INVALID: 'an annotation value fails its strict grammar (the message shows the value and what is expected); its policy is not set',
  PASS_ANNOTATION_SNIPPET: 'a *-snippet annotation (free proxy configuration text) is refused and never rendered; the message names the typed annotations to use instead',
  PASS_ANNOTATION_UNSUPPORTED: 'warning: an annotation, or one of its values, that Passerelle does not implement; it is ignored',

  // File source (src/sources/file/)
  PASS_FILE_DIRECTORY: 'the folder of the file source cannot be read',
  PASS_FILE_NOT_OBJECT: 'a YAML document (or List item) is not a Kubernetes object with a string kind',
  PASS_FILE_PARSE: 'a YAML file does not parse (with its line); its last good content keeps serving',
  PASS_FILE_UNKNOWN_FIELD:
    'a field the Kubernetes API does not define in an Ingress, Service, EndpointSlice, Secret or IngressClass (file, line of the field): the Ingress rule, path or TLS entry holding it is skipped, any other object holding it is not loaded (as kubectl apply would refuse it)',
  PASS_FILE_UNKNOWN_KIND:
    'a kind that is not a Kubernetes built-in one (error, e.g. a misspelled Ingress), or a custom resource (warning); the object is not loaded',

  // Kubernetes source (src/sources/kubernetes/)
  PASS_KUBE_API: 'the Kubernetes API answered with an error status; at start, a list it rejects outright (a bad label selector, a resource the cluster does not serve)',
  PASS_KUBE_CONFIG: 'the Kubernetes configuration (kubeconfig or in-cluster) cannot be loaded or names no current cluster',
  PASS_KUBE_FORBIDDEN: 'the Kubernetes API kept refusing a list (401/403) for kubernetes.startupRetry after start: RBAC does not grant it',
  PASS_KUBE_SYNC: 'the first lists of the Kubernetes API did not complete within kubernetes.startupRetry (unreachable, throttled or unavailable)',
  PASS_KUBE_UNREACHABLE: 'no HTTP answer from the Kubernetes API (connection refused or reset, TLS failure, timeout)',
  PASS_KUBE_WATCH: 'a watch of the Kubernetes API is failing; the last known objects keep serving',

  // ACME certificates (src/acme/)
  PASS_ACME_ACCOUNT: 'the ACME account cannot be registered or fetched from the CA (or is not ready yet)',
  PASS_ACME_BUDGET: 'warning: a certificate waits because the weekly certificate budget or duplicate-certificate limit is spent',
  PASS_ACME_CA_BUNDLE: 'the file named by acme.caBundle cannot be read',
  PASS_ACME_DNS_PROVIDER: 'a DNS-01 challenge record could not be written, removed or seen (the provider, zone and cause are named); the order is retried with backoff',
  PASS_ACME_NAME_NOT_PUBLIC: 'warning (check): a name ACME would order is one no public CA issues for (.localhost, .test, .example, .invalid, .local, .internal, or a single label)',
  PASS_ACME_ON_DEMAND_REFUSED: 'an onDemand certificate was refused during a handshake (onDemand off, not a DNS name, not the leader, not allowed by the policy, backing off, or the rate limit)',
  PASS_ACME_ORDER_FAILED: 'an ACME order failed; it is retried with backoff (a warning while the current certificate still serves)',
  PASS_ACME_RESPONDER: 'the local ACME challenge responder of an external proxy has no TCP port',
  PASS_ACME_STORAGE: 'the ACME storage (JSON file or Kubernetes Secrets) cannot be read, parsed or written',
  PASS_ACME_STORAGE_DIR: 'warning (check): the directory of the acme.storage file does not exist (in a container: a volume is not mounted there, so certificates would be lost at restart)',
  PASS_ACME_WILDCARD: 'warning: a wildcard name needs the DNS-01 challenge, which is not supported; it is not ordered',

  // Rendering for haproxy and nginx (src/render/)
  PASS_RENDER_UNSAFE_VALUE: 'a quoting helper refused a value that cannot be written safely into the proxy configuration',
  PASS_TEMPLATE_ERROR: 'a template does not parse or fails while rendering',
  PASS_TEMPLATES_MISSING: 'the proxy.templates folder does not exist, or a required template file is missing',

  // External proxies, haproxy and nginx alike (src/drivers/, drivers/external/)
  PASS_DRIVER_STOPPED: 'a configuration was applied to a driver that is already stopped',
  PASS_POLICY_CANARY_WITHOUT_MAIN: 'warning: a path of a canary Ingress (nginx.ingress.kubernetes.io/canary) that no main Ingress routes (same host, path and pathType): it is ignored',
  PASS_POLICY_NOT_IMPLEMENTED: 'an annotation asks for something Passerelle does not implement yet (weighted Services): it is not applied; the main backend serves',
  PASS_POLICY_NOT_IN_MODE: 'a policy an Ingress asks for is not rendered by the proxy mode in use: it is ignored with a warning, or, for an access policy (allowlist, basic or external auth), the routes answer 503 (an error) rather than serve without it',
  PASS_PROXY_BINARY_MISSING: 'the haproxy or nginx binary was not found',
  PASS_PROXY_INVALID_CONFIG: 'haproxy -c or nginx -t refused the rendered configuration; the previous one keeps serving',
  PASS_PROXY_NOT_RUNNING: 'no running haproxy or nginx master to reload (in sidecar mode: the files are written for when it starts)',
  PASS_PROXY_START: 'the haproxy or nginx process exited while starting',
  PASS_PROXY_TIMEOUT: 'haproxy or nginx did not answer, write its pid file or start new workers in time',
  PASS_PROXY_UNREADABLE: "a file the proxy's workers read (nginx workers run as another user when started as root) is not readable by them, e.g. under a 0700 directory",

  // HAProxy (src/render/haproxy/, drivers/haproxy/)
  PASS_HAPROXY_AUTH_REALM: 'warning: the basic-auth realm has characters HAProxy cannot quote; "passerelle" is used',
  PASS_HAPROXY_AUTH_USER: 'warning: a basic-auth user has characters an HAProxy userlist cannot hold; that user cannot log in',
  PASS_HAPROXY_BACKEND_NAME: 'warning: a backend cannot be named in HAProxy; its routes answer 503',
  PASS_HAPROXY_CERTIFICATE: 'warning: a certificate cannot be given a file name or is not PEM; its hosts get the default certificate',
  PASS_HAPROXY_ENDPOINT: 'warning: endpoints with an address HAProxy cannot hold are left out of their backend',
  PASS_HAPROXY_ENTRYPOINT: 'warning: an entry point cannot be written as an HAProxy frontend; it is left out',
  PASS_HAPROXY_HOST: 'warning: a host cannot be written to the routing map; it is left out',
  PASS_HAPROXY_PATH: 'warning: a path cannot be written to the routing map; it is left out',
  PASS_HAPROXY_RUNTIME: 'the HAProxy runtime API refused a command (map prepare/add/commit, server or certificate update)',
  PASS_HAPROXY_TRUSTED_IP: 'warning: a trustedIPs entry is not an IP or CIDR range HAProxy accepts; it is left out',

  // nginx (src/render/nginx/, drivers/nginx/)
  PASS_NGINX_AUTH_HOST: 'the host of an external auth URL (auth-url) does not resolve: nginx would refuse the whole configuration, so the routes asking for it answer 503 until it resolves',
  PASS_NGINX_AUTH_REALM: 'warning: the basic-auth realm has characters nginx cannot quote ("$", quote, backslash); "passerelle" is used',
  PASS_NGINX_AUTH_USER: 'warning: a basic-auth user cannot be written to an htpasswd file; that user cannot log in',
  PASS_NGINX_BACKEND_NAME: 'warning: a backend cannot be named in nginx; its routes answer 503',
  PASS_NGINX_CERTIFICATE: 'a certificate cannot be given a file name (warning) or would not load in a handshake: unreadable chain or key, or a key that does not match (error); its hosts get the default certificate',
  PASS_NGINX_ENCODED_SLASHES: 'warning: allowEncodedSlashes is not supported in nginx mode (nginx decodes %2F before routing); encoded slashes get 400',
  PASS_NGINX_ENDPOINT: 'warning: endpoints with an address nginx cannot hold are left out of their backend',
  PASS_NGINX_ENTRYPOINT: 'warning: an entry point cannot be written as an nginx listen; it is left out',
  PASS_NGINX_HOST: 'warning: a host cannot be an nginx server_name; it is left out',
  PASS_NGINX_PATH: 'warning: a path cannot be written as an nginx location; it is left out',
  PASS_NGINX_TRUSTED_IP: 'warning: a trustedIPs entry is not an IP or CIDR range nginx accepts; it is left out',
  PASS_NGINX_WORKER_USER: 'nginx runs as root and its worker user does not exist in /etc/passwd',

  // Native proxy (src/drivers/native/)
  PASS_NATIVE_LISTEN: 'the native proxy cannot listen on an entry point address (in use, no permission, ...)',

  // Web server (src/dashboard/)
  PASS_WEB_BAD_REQUEST: 'a web API request lacks a parameter or has one it cannot use (e.g. /api/explain without an absolute url)',
  PASS_WEB_LISTEN: 'the web server cannot listen on [web] address (in use, no permission, ...)',
  PASS_WEB_INTERNAL: 'the web server failed to answer a request (logged with its cause)',
  PASS_WEB_NOT_FOUND: 'no web server route or dashboard file has this path',
  PASS_WEB_UNAUTHORIZED: 'the web server asks for basic-auth credentials ([web.auth.basic]) and none or wrong ones were sent',

  // Controller (src/controller/)
  PASS_SYNC_FAILED: 'a sync (build, diagnostics, hash or apply) failed; the previous configuration keeps serving and it is retried with backoff',
} as const;

/** A code of the {@link CODES} catalogue, such as `PASS_INGRESS_BAD_PATH`. */
export type PassCode = keyof typeof CODES;

/**
 * Whether `value` is a code of the catalogue (for codes that arrive untyped, e.g. through zod params).
 *
 * @param value any value
 * @returns true when it is a string naming an entry of {@link CODES}
 */
export function isPassCode(value: unknown): value is PassCode {
  return typeof value === 'string' && Object.hasOwn(CODES, value);
}
