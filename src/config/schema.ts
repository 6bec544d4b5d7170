import { isIP } from 'node:net';
import { z } from 'zod';
import type { PassCode } from '../shared/codes.ts';
import { PassError } from '../shared/errors.ts';
import { parseHtpasswdLine } from './htpasswd.ts';

// The one schema of the static configuration: it gives the TypeScript types (z.output),
// the defaults, the validation and the documentation (describeConfig). Vocabulary of
// the seed's Traefik 1.x traefik.toml, which must load unchanged.

/** A listening address: `host` undefined means every interface. */
export interface ListenAddressConfig {
  readonly host?: string;
  readonly port: number;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** True for a DNS host name (letters, digits, hyphens, dots; each label 1..63 characters). */
function isHostName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => HOST_LABEL.test(label));
}

/** True for an IPv4/IPv6 address or CIDR range (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.1`). */
export function isAddressRange(text: string): boolean {
  const slash = text.indexOf('/');
  const ip = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(ip);
  if (family === 0) return false;
  if (slash === -1) return true;
  const prefix = text.slice(slash + 1);
  return /^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Parses `:80`, `127.0.0.1:8443`, `[::1]:443`, `localhost:8080`; returns a message when invalid. */
export function tryParseListenAddress(text: string): ListenAddressConfig | string {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([0-9]+)$/.exec(text);
  if (!m) {
    const hint = /^[0-9]+$/.test(text) ? ` (write ":${text}")` : '';
    return `"${text}" is not an address of the form "[host]:port"${hint}`;
  }
  const bracketed = m[1];
  const plain = m[2];
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${m[3] ?? ''} is not between 1 and 65535`;
  if (bracketed !== undefined) {
    if (isIP(bracketed) !== 6) return `"[${bracketed}]" is not an IPv6 address`;
    return { host: bracketed, port };
  }
  if (plain === undefined || plain === '') return { port };
  if (isIP(plain) === 4 || isHostName(plain)) return { host: plain, port };
  return `"${plain}" is not an IPv4 address or a host name`;
}

/** Parses a listen address, throwing PASS_CONFIG_BAD_ADDRESS when it is invalid. */
export function parseListenAddress(text: string): ListenAddressConfig {
  const parsed = tryParseListenAddress(text);
  if (typeof parsed === 'string') throw new PassError('PASS_CONFIG_BAD_ADDRESS', parsed);
  return parsed;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `"500ms"`, `"5s"`, `"1m"`, `"1h"`, `"1.5s"` into milliseconds; undefined when invalid. */
export function parseDuration(text: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return undefined;
  const factor = DURATION_UNITS[m[2] ?? ''];
  if (factor === undefined) return undefined;
  return Math.round(Number(m[1]) * factor);
}

/** Issue parameters: the stable diagnostic code a custom check reports. */
function code(passCode: PassCode): { params: { passCode: PassCode } } {
  return { params: { passCode } };
}

const duration = z
  .union([z.number(), z.string()], { error: 'expected a duration such as "500ms", "5s", "1m" or a number of milliseconds' })
  .transform((value, ctx): number => {
    const ms = typeof value === 'number' ? value : parseDuration(value);
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
      ctx.addIssue({
        code: 'custom',
        message: `"${String(value)}" is not a duration such as "500ms", "5s", "1m" or a number of milliseconds`,
        ...code('PASS_CONFIG_BAD_DURATION'),
      });
      return z.NEVER;
    }
    return ms;
  });

const address = z.string().superRefine((text, ctx) => {
  const parsed = tryParseListenAddress(text);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed, ...code('PASS_CONFIG_BAD_ADDRESS') });
});

const path = z.string().min(1, 'expected a non-empty path');

const logLevel = z
  .string()
  // Traefik (logrus) also spelled it "warning".
  .transform((s) => (s.toLowerCase() === 'warning' ? 'warn' : s.toLowerCase()))
  .pipe(z.enum(['debug', 'info', 'warn', 'error']));

const htpasswdUser = z.string().transform((line, ctx) => {
  const parsed = parseHtpasswdLine(line);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed, ...code('PASS_CONFIG_BAD_USER') });
    return z.NEVER;
  }
  return parsed;
});

const basicAuth = z.strictObject({
  users: z
    .array(htpasswdUser)
    .min(1, 'expected at least one user')
    .superRefine((users, ctx) => {
      const seen = new Set<string>();
      users.forEach((u, i) => {
        if (seen.has(u.user)) {
          ctx.addIssue({ code: 'custom', path: [i], message: `user "${u.user}" is listed twice`, ...code('PASS_CONFIG_BAD_USER') });
        }
        seen.add(u.user);
      });
    })
    .describe('htpasswd lines "name:hash"; hashes $apr1$, bcrypt ($2y$/$2a$/$2b$) or {SHA}'),
  realm: z.string().default('passerelle').describe('realm sent in WWW-Authenticate'),
  removeHeader: z.boolean().default(false).describe('remove the Authorization header before forwarding upstream'),
});

const entryPointName = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

const entryPoint = z.strictObject({
  address: address.describe('where to listen: ":80", "127.0.0.1:8443", "[::1]:443"'),
  publicPort: z
    .int('expected a whole number')
    .min(1)
    .max(65535)
    .optional()
    .describe(
      'the port clients connect to, when a Service, load balancer or NAT in front maps it to the listening port (e.g. 443 to ":8443"): redirects to this entry point use it and requests through it get it as X-Forwarded-Port; default: 80, or 443 with tls, when [kubernetes] publishService names the Service in front, else the port of address',
    ),
  tls: z
    .strictObject({
      certificates: z
        .array(z.strictObject({ certFile: path.describe('PEM certificate chain'), keyFile: path.describe('PEM private key') }))
        .default([])
        .describe('default certificates, used when no Ingress certificate matches'),
    })
    .optional()
    .describe('an empty [entryPoints.NAME.tls] table turns TLS on'),
  redirect: z
    .strictObject({
      entryPoint: z.string().describe('entry point every request is redirected to'),
      permanent: z.boolean().default(false).describe('308 instead of 302'),
    })
    .optional()
    .describe('redirect every request to another entry point'),
  auth: z
    .strictObject({ basic: basicAuth.optional().describe('HTTP basic authentication') })
    .optional()
    .describe('authentication required on the entry point'),
  timeouts: z
    .strictObject({
      requestHeader: duration.prefault('10s').describe('the request line and headers must arrive within this, else 408'),
      idle: duration.prefault('10s').describe('an idle keep-alive client connection is closed after this'),
      body: duration.prefault('60s').describe('longest pause while a request body is received, else 408'),
    })
    .prefault({})
    .describe('client-side timeouts (against slow clients)'),
  forwardedHeaders: z
    .strictObject({
      trustedIPs: z
        .array(z.string().refine(isAddressRange, { message: 'expected an IP address or a CIDR range', ...code('PASS_CONFIG_BAD_CIDR') }))
        .default([])
        .describe('clients whose X-Forwarded-*, X-Real-IP and Forwarded headers are kept and extended; others have them replaced'),
    })
    .prefault({})
    .describe('trust of client-sent forwarding headers (default: trust nobody)'),
  allowEncodedSlashes: z.boolean().default(false).describe('keep %2F and %5C in paths instead of refusing them with 400 (native and haproxy modes)'),
});

const entryPoints = z
  .record(z.string(), entryPoint)
  .superRefine((eps, ctx) => {
    const names = Object.keys(eps);
    if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'expected at least one entry point', ...code('PASS_CONFIG_NO_ENTRYPOINT') });
    for (const name of names) {
      if (!entryPointName.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `entry point name "${name}" must be letters, digits, "-" or "_"`,
          ...code('PASS_CONFIG_BAD_NAME'),
        });
      }
    }
  })
  .prefault({ http: { address: ':80' } })
  .describe('listening entry points by name; default: http on ":80"');

const proxy = z
  .strictObject({
    mode: z.enum(['native', 'haproxy', 'nginx']).default('native').describe('which proxy serves the traffic'),
    connectTimeout: duration.prefault('5s').describe('upstream connect timeout'),
    readTimeout: duration.prefault('60s').describe('upstream response timeout'),
    gracePeriod: duration.prefault('10s').describe('time given to in-flight requests on shutdown or reload'),
    forwardedHeader: z.boolean().default(false).describe('also send the RFC 7239 Forwarded header'),
    workers: z
      .int('expected a whole number')
      .min(1, 'expected at least 1')
      .max(256, 'expected at most 256')
      .optional()
      .describe('native mode: worker threads serving traffic, sharing the listening addresses (SO_REUSEPORT); default: the number of CPUs the process may use (os.availableParallelism()); 1 serves in the main thread. haproxy and nginx ignore the default and refuse a value above 1'),
    binary: path.optional().describe('haproxy or nginx executable (default: found on PATH)'),
    workDir: path.default('.passerelle').describe('where rendered configuration and certificates are written'),
    reload: z.enum(['bundled', 'sidecar']).default('bundled').describe('bundled: child process; sidecar: proxy in another container'),
    templates: path.optional().describe('directory of templates overriding the built-in ones'),
    masterSocket: path.optional().describe('HAProxy master CLI socket (sidecar reloads)'),
    answerPlainHttpOnTls: z
      .boolean()
      .default(false)
      .describe('haproxy mode: plain HTTP sent to a TLS entry point gets a 400 saying to use https (a TCP frontend in front of each TLS entry point; costs about a quarter of TLS throughput); false: the connection is closed. native and nginx always answer'),
  })
  .prefault({});

const namespace = z.string().regex(DNS_LABEL, 'expected a namespace name (lower-case DNS label)');

const kubernetes = z
  .strictObject({
    enabled: z.boolean().default(false).describe('watch Ingress resources in a cluster (flag --kubernetes)'),
    kubeconfig: path.optional().describe('kubeconfig file (default: in-cluster, then KUBECONFIG)'),
    namespaces: z.array(namespace).default([]).describe('namespaces to watch; empty: all'),
    labelSelector: z.string().optional().describe('only Ingresses matching this label selector'),
    ingressClass: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'expected an IngressClass name')
      .default('passerelle')
      .describe('IngressClass name served'),
    controllerName: z
      .string()
      .regex(/^[a-z0-9.-]+\/[A-Za-z0-9._/-]+$/, 'expected "domain/path"')
      .default('passerelle.dev/ingress-controller')
      .describe('spec.controller of the IngressClass served'),
    gatewayControllerName: z
      .string()
      .regex(/^[a-z0-9.-]+\/[A-Za-z0-9._/-]+$/, 'expected "domain/path"')
      .default('passerelle.dev/gateway-controller')
      .describe('spec.controllerName of the Gateway API GatewayClasses served (their Gateways and HTTPRoutes are routed, from the file source or, when its CRDs are installed, the cluster)'),
    classAliases: z
      .array(z.string().min(1))
      .default(['traefik'])
      .describe('other classes also served: kubernetes.io/ingress.class annotation values, and spec.ingressClassName values (e.g. "nginx" to run beside ingress-nginx during a migration; their status is left to the other controller)'),
    watchIngressWithoutClass: z.boolean().default(false).describe('also serve Ingresses with no class'),
    sslRedirect: z
      .boolean()
      .default(true)
      .describe('plain HTTP to the routes of an Ingress with spec.tls redirects to https (308) unless it says nginx.ingress.kubernetes.io/ssl-redirect: "false" (ingress-nginx\'s default); false: only Ingresses that ask for it redirect'),
    publishService: z
      .string()
      .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'expected "namespace/name"')
      .optional()
      .describe('Service whose address is written to Ingress status'),
    publishAddress: z.string().min(1).optional().describe('address written to Ingress status'),
    gatewayAddresses: z
      .array(z.string().refine((s) => isIP(s) !== 0 || isHostName(s), { message: 'expected an IP address or a host name', ...code('PASS_CONFIG_BAD_VALUE') }))
      .optional()
      .describe('addresses (IPs or host names) written to the status.addresses of the Gateway API Gateways served, e.g. ["192.0.2.5"]; unset or empty: those of Ingress status (publishAddress, else publishService\'s)'),
    gatewayAddressPool: z
      .array(
        z
          .string()
          .refine((s) => isIP(s) !== 0, { message: 'expected an IP address', ...code('PASS_CONFIG_BAD_VALUE') })
          // As the proxies print a local address: IPv6 compressed, lower case.
          .transform((s) => (isIP(s) === 6 ? new URL(`http://[${s}]/`).hostname.slice(1, -1) : s)),
      )
      .default([])
      .describe(
        'IP addresses given one to each Gateway API Gateway (oldest first; a Gateway keeps the one its status shows): its routes are then served only to connections made to that address, which its status publishes, and never mix with another Gateway\'s or the Ingresses\'. The proxies listen on these addresses too, at each entry point\'s port (an entry point on 0.0.0.0 or [::] receives them already); Gateways beyond the pool share the entry points\' address. Empty: every Gateway shares it',
      ),
    leaderElection: z.boolean().default(true).describe('only the leader writes status and orders certificates'),
    leaseName: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'expected a Lease name (lower-case DNS subdomain)')
      .default('passerelle-leader')
      .describe('Lease used for leader election (deploy/base/rbac.yaml grants this name)'),
    leaseNamespace: namespace.optional().describe('namespace of the Lease (default: $POD_NAMESPACE, else the kubeconfig namespace)'),
    leaseDuration: duration
      .prefault('15s')
      .refine((ms) => ms >= 3000, { message: 'expected at least "3s"', ...code('PASS_CONFIG_BAD_DURATION') })
      .describe('how long a leader holds the Lease without renewing it'),
    recordEvents: z.boolean().default(true).describe('write an Event per diagnostic on the object it is about'),
    startupRetry: duration
      .prefault('2m')
      .refine((ms) => ms >= 1000, { message: 'expected at least "1s"', ...code('PASS_CONFIG_BAD_DURATION') })
      .describe('how long the first lists are retried while the apiserver is unreachable or answers 401/403 (a restarting apiserver), 429 or 5xx, before exiting'),
  })
  .prefault({});

const file = z
  .strictObject({
    directory: path.optional().describe('directory of Ingress/Service/EndpointSlice/Secret YAML files (and Gateway API GatewayClass/Gateway/HTTPRoute/ReferenceGrant)'),
    watch: z.boolean().default(true).describe('reload when the files change'),
  })
  .prefault({});

const domain = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => isHostName(s.startsWith('*.') ? s.slice(2) : s), { message: 'expected a DNS name', ...code('PASS_CONFIG_BAD_DOMAIN') });

/** Where ACME state is stored: a JSON file, or Kubernetes Secrets (`storage = "kubernetes:NAMESPACE/PREFIX"`). */
export type AcmeStorage =
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'kubernetes'; readonly namespace?: string; readonly prefix: string };

/** The default name prefix of the ACME Secrets. */
export const ACME_SECRET_PREFIX = 'passerelle-acme';

/**
 * Reads `acme.storage`: `kubernetes`, `kubernetes:NAMESPACE` or `kubernetes:NAMESPACE/PREFIX` (the
 * namespace defaults to the controller's, the prefix to `passerelle-acme`), anything else a file.
 * Returns a message when a `kubernetes:` value is malformed.
 */
export function parseAcmeStorage(text: string): AcmeStorage | string {
  if (text !== 'kubernetes' && !text.startsWith('kubernetes:')) return { kind: 'file', file: text };
  const rest = text.slice('kubernetes:'.length);
  if (text === 'kubernetes' || rest === '') return { kind: 'kubernetes', prefix: ACME_SECRET_PREFIX };
  const [ns, prefix, extra] = rest.split('/');
  if (extra !== undefined || ns === undefined || !DNS_LABEL.test(ns)) return `"${text}" is not "kubernetes:NAMESPACE" or "kubernetes:NAMESPACE/PREFIX"`;
  if (prefix !== undefined && (prefix.length > 100 || !DNS_LABEL.test(prefix))) return `"${prefix}" is not a Secret name prefix (lower-case letters, digits, "-")`;
  return { kind: 'kubernetes', namespace: ns, prefix: prefix ?? ACME_SECRET_PREFIX };
}

const dnsChallenge = z
  .strictObject({
    provider: z
      .enum(['rfc2136', 'exec', 'cloudflare', 'route53', 'gcloud', 'digitalocean'])
      .describe('who writes the _acme-challenge TXT records: "rfc2136" (dynamic updates with TSIG: BIND, Knot, PowerDNS...), "exec" (a command, as lego\'s), or the HTTP API of "cloudflare", "route53" (Amazon Route 53), "gcloud" (Google Cloud DNS) or "digitalocean"'),
    delayBeforeCheck: duration.default(0).describe('waited after writing a record before the propagation check (Traefik 1\'s delayBeforeCheck; a number is milliseconds)'),
    resolvers: z.array(z.string().min(1)).default([]).describe('"host[:port]" servers asked whether the record is visible; default: the zone\'s authoritative servers'),
    propagationTimeout: duration.default(120_000).describe('how long the record may take to be seen before the order is retried later'),
    rfc2136: z
      .strictObject({
        nameserver: z.string().min(1).optional().describe('"host[:port]" of the primary server that takes updates (env RFC2136_NAMESERVER)'),
        zone: z.string().min(1).optional().describe('the zone to update; default: the SOA the server answers for the name. Names in it use DNS-01 even with challenge = "http-01"'),
        tsigKey: z.string().min(1).optional().describe('TSIG key name (env RFC2136_TSIG_KEY)'),
        tsigAlgorithm: z.string().min(1).default('hmac-sha256').describe('TSIG algorithm (env RFC2136_TSIG_ALGORITHM)'),
        tsigSecretFile: path.optional().describe('file holding the base64 TSIG secret, e.g. a mounted Secret (else env RFC2136_TSIG_SECRET); never logged'),
        ttl: z.int('expected a whole number').min(1).max(86_400).default(60).describe('TTL of the TXT records, seconds'),
      })
      .prefault({})
      .describe('RFC 2136 provider settings'),
    exec: z
      .strictObject({ command: path.optional().describe('the command run as COMMAND present|cleanup FQDN VALUE (env EXEC_PATH)') })
      .prefault({})
      .describe('exec provider settings'),
    cloudflare: z
      .strictObject({
        apiTokenFile: path.optional().describe('file holding an API token with Zone:DNS:Edit (and Zone:Zone:Read unless zoneApiTokenFile is set), e.g. a mounted Secret (else env CLOUDFLARE_DNS_API_TOKEN or CF_DNS_API_TOKEN); never logged'),
        zoneApiTokenFile: path.optional().describe('file holding a second token with Zone:Zone:Read, used only to find zones (else env CLOUDFLARE_ZONE_API_TOKEN or CF_ZONE_API_TOKEN; default: the DNS token); never logged'),
        email: z.string().min(1).optional().describe('account e-mail of the legacy global API key (env CLOUDFLARE_EMAIL or CF_API_EMAIL); a token is preferred'),
        apiKeyFile: path.optional().describe('file holding the legacy global API key (else env CLOUDFLARE_API_KEY or CF_API_KEY), used only without a token; never logged'),
        ttl: z.int('expected a whole number').min(1).max(86_400).default(120).describe('TTL of the TXT records, seconds (1: Cloudflare\'s automatic)'),
        timeout: duration.default(30_000).describe('per API request'),
      })
      .prefault({})
      .describe('Cloudflare provider settings'),
    route53: z
      .strictObject({
        accessKeyId: z.string().min(1).optional().describe('AWS access key ID (env AWS_ACCESS_KEY_ID)'),
        secretAccessKeyFile: path.optional().describe('file holding the AWS secret access key, e.g. a mounted Secret (else env AWS_SECRET_ACCESS_KEY); never logged'),
        sessionTokenFile: path.optional().describe('file holding an AWS session token, for temporary credentials (else env AWS_SESSION_TOKEN); never logged'),
        region: z.string().min(1).optional().describe('AWS region (env AWS_REGION): only chooses the partition (cn-*, us-gov-*), Route 53 being global'),
        hostedZoneId: z.string().min(1).optional().describe('the hosted zone to write to (env AWS_HOSTED_ZONE_ID); default: the public zone found with ListHostedZonesByName'),
        ttl: z.int('expected a whole number').min(1).max(86_400).default(60).describe('TTL of the TXT records, seconds'),
        timeout: duration.default(30_000).describe('per API request'),
      })
      .prefault({})
      .describe('Amazon Route 53 provider settings'),
    gcloud: z
      .strictObject({
        project: z.string().min(1).optional().describe('Google Cloud project of the managed zones (env GCE_PROJECT); default: the key\'s project_id, else the metadata server\'s'),
        serviceAccountFile: path.optional().describe('service account key file (JSON), e.g. a mounted Secret (else env GCE_SERVICE_ACCOUNT_FILE, GOOGLE_APPLICATION_CREDENTIALS or GCE_SERVICE_ACCOUNT); none: the metadata server\'s token (GKE Workload Identity); never logged'),
        allowPrivateZone: z.boolean().default(false).describe('write to private managed zones too (env GCE_ALLOW_PRIVATE_ZONE)'),
        ttl: z.int('expected a whole number').min(1).max(86_400).default(60).describe('TTL of the TXT records, seconds'),
        timeout: duration.default(30_000).describe('per API request'),
      })
      .prefault({})
      .describe('Google Cloud DNS provider settings'),
    digitalocean: z
      .strictObject({
        authTokenFile: path.optional().describe('file holding a DigitalOcean API token with write scope, e.g. a mounted Secret (else env DO_AUTH_TOKEN); never logged'),
        ttl: z.int('expected a whole number').min(30).max(86_400).default(60).describe('TTL of the TXT records, seconds (DigitalOcean\'s minimum: 30)'),
        timeout: duration.default(30_000).describe('per API request'),
      })
      .prefault({})
      .describe('DigitalOcean provider settings'),
  })
  .describe('DNS-01 challenge (wildcard names, and every name with challenge = "dns-01")');

const acme = z
  .strictObject({
    email: z.email('expected an e-mail address').optional().describe('ACME account contact'),
    storage: path
      .optional()
      .describe('certificate storage: a JSON file (alias: storageFile), or "kubernetes[:NAMESPACE[/PREFIX]]" for Secrets shared by replicas'),
    storageFile: path.optional().describe('Traefik 1.x name of storage'),
    entryPoint: z.string().default('https').describe('TLS entry point the certificates are for'),
    onDemand: z.boolean().default(false).describe('order a certificate at the first TLS handshake for a host'),
    onHostRule: z.boolean().default(false).describe('order certificates for Ingress hosts'),
    challenge: z
      .enum(['http-01', 'tls-alpn-01', 'dns-01'])
      .default('http-01')
      .describe('how the CA validates names: "http-01" (port 80, every mode), "tls-alpn-01" (port 443, native mode only) or "dns-01" (a TXT record, [acme.dnsChallenge]); wildcards always use dns-01'),
    dnsChallenge: dnsChallenge.optional(),
    caServer: z
      .url('expected a URL')
      .default('https://acme-v02.api.letsencrypt.org/directory')
      .describe('ACME directory URL'),
    acceptTermsOfService: z
      .boolean()
      .default(true)
      .describe("agree to the CA's terms of service on your behalf (their URL is logged when the account is created); false refuses them, and no account is created"),
    caBundle: path.optional().describe("PEM bundle trusted for the CA's HTTPS (e.g. Pebble)"),
    domains: z
      .array(
        z.strictObject({
          main: domain.describe('certificate subject'),
          sans: z.array(domain).default([]).describe('other names on the certificate'),
        }),
      )
      .default([])
      .describe('certificates ordered at start'),
    eab: z
      .strictObject({ kid: z.string().min(1).describe('EAB key id'), hmacKey: z.string().min(1).describe('EAB HMAC key (base64url)') })
      .optional()
      .describe('external account binding'),
    onDemandAsk: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
      .optional()
      .describe('onDemand: a name is allowed when GET URL?domain=NAME answers 200'),
    onDemandDomains: z.boolean().default(true).describe('onDemand: names of [[acme.domains]] are allowed'),
    onDemandIngressHosts: z.boolean().default(true).describe('onDemand: host names of Ingress rules are allowed'),
    onDemandRateLimit: z.int('expected a whole number').min(1).max(10_000).default(10).describe('onDemand: orders per minute, all names together'),
    renewBefore: z
      .number()
      .gt(0, 'expected a fraction between 0 and 1')
      .lt(1, 'expected a fraction between 0 and 1')
      .default(1 / 3)
      .describe('renew when this fraction of the lifetime remains (when the CA gives no renewal window)'),
    weeklyBudget: z.int('expected a whole number').min(1).default(50).describe('new certificates per registered domain per week (Let\'s Encrypt: 50)'),
  })
  .superRefine((a, ctx) => {
    for (const key of ['storage', 'storageFile'] as const) {
      const v = a[key];
      if (v !== undefined && typeof parseAcmeStorage(v) === 'string') {
        ctx.addIssue({ code: 'custom', path: [key], message: parseAcmeStorage(v) as string, ...code('PASS_CONFIG_BAD_VALUE') });
      }
    }
    if (a.storage !== undefined && a.storageFile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['storageFile'],
        message: 'storage and storageFile are the same setting: write only one',
        ...code('PASS_CONFIG_CONFLICT'),
      });
    }
  })
  .transform(({ storage, storageFile, ...rest }) => ({ ...rest, storage: storage ?? storageFile ?? 'acme.json' }));

const web = z
  .strictObject({
    enabled: z.boolean().default(false).describe('serve the health probes, JSON API, metrics and dashboard (flag --web)'),
    address: address
      .default(':8080')
      .describe('where the web server listens (keep it off the public entry points: "127.0.0.1:8080", or a port no public Service exposes)'),
    auth: z
      // removeHeader means nothing here: nothing is forwarded.
      .strictObject({ basic: basicAuth.omit({ removeHeader: true }).optional().describe('HTTP basic authentication on every route except /healthz, /readyz and /ping') })
      .optional()
      .describe('authentication required on the web server'),
  })
  .prefault({});

const accessLog = z.strictObject({
  format: z.enum(['common', 'json']).default('common').describe('common: Common Log Format plus "host" "route" "upstream" and the duration; json: one JSON object per line'),
  filePath: path.optional().describe('file the access log is appended to (reopened on SIGUSR1, for log rotation); default: stdout'),
});

const log = z
  .strictObject({
    format: z.enum(['text', 'json']).optional().describe('the controller\'s own log lines on stderr: text, or JSON lines (flag --log.format); default: text when stderr is a terminal, else JSON'),
  })
  .prefault({});

/** The static configuration schema (TOML input → defaulted output). */
export const configSchema = z
  .strictObject({
    logLevel: logLevel.prefault('info').describe('debug | info | warn | error (case-insensitive)'),
    defaultEntryPoints: z.array(z.string()).optional().describe('entry points served; default: every entry point defined'),
    entryPoints,
    proxy: proxy.describe('the proxy that serves traffic'),
    kubernetes: kubernetes.describe('Kubernetes source'),
    file: file.describe('YAML files source'),
    acme: acme.optional().describe('automatic certificates (ACME); absent: off'),
    web: web.describe('the web server: health probes, JSON API, metrics, dashboard'),
    accessLog: accessLog.optional().describe("one line per request, in every mode (Traefik's [accessLog]); absent: off"),
    log: log.describe('the controller\'s own logs'),
  })
  .transform(({ defaultEntryPoints, ...rest }) => ({
    ...rest,
    defaultEntryPoints: defaultEntryPoints ?? Object.keys(rest.entryPoints).sort(),
  }));

/** Makes every property and element readonly, recursively. */
export type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

type Output = z.output<typeof configSchema>;

/** The parsed, defaulted, frozen static configuration. */
export type StaticConfig = DeepReadonly<Output>;
export type LogLevel = StaticConfig['logLevel'];
export type EntryPointConfig = StaticConfig['entryPoints'][string];
export type TlsConfig = NonNullable<EntryPointConfig['tls']>;
export type RedirectConfig = NonNullable<EntryPointConfig['redirect']>;
export type BasicAuthConfig = NonNullable<NonNullable<EntryPointConfig['auth']>['basic']>;
export type ProxyConfig = StaticConfig['proxy'];
export type ProxyMode = ProxyConfig['mode'];
export type KubernetesConfig = StaticConfig['kubernetes'];
export type FileConfig = StaticConfig['file'];
export type AcmeConfig = NonNullable<StaticConfig['acme']>;
export type WebConfig = StaticConfig['web'];
export type AccessLogConfig = NonNullable<StaticConfig['accessLog']>;
export type LogFormat = NonNullable<StaticConfig['log']['format']>;

/** The levels accepted by logLevel and --logLevel. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
/** The proxy modes accepted by proxy.mode and --proxy. */
export const PROXY_MODES: readonly ProxyMode[] = ['native', 'haproxy', 'nginx'];

interface JsonSchemaNode {
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly default?: unknown;
  readonly properties?: Readonly<Record<string, JsonSchemaNode>>;
  readonly additionalProperties?: JsonSchemaNode | boolean;
  readonly items?: JsonSchemaNode;
  readonly anyOf?: readonly JsonSchemaNode[];
}

let inputSchemaCache: JsonSchemaNode | undefined;

/** The JSON Schema of what the TOML file may contain (the input side of configSchema). */
export function configInputJsonSchema(): JsonSchemaNode {
  inputSchemaCache ??= z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  return inputSchemaCache;
}

/** Unwraps `anyOf` (optional, nullable) to the node holding properties or items. */
function objectLike(node: JsonSchemaNode): JsonSchemaNode {
  if (node.properties || node.items || typeof node.additionalProperties === 'object') return node;
  for (const alt of node.anyOf ?? []) {
    const inner = objectLike(alt);
    if (inner.properties || inner.items || typeof inner.additionalProperties === 'object') return inner;
  }
  return node;
}

/** The keys a table at `path` may hold (for "did you mean" hints); empty when unknown. */
export function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let node: JsonSchemaNode | undefined = configInputJsonSchema();
  for (const seg of path) {
    if (!node) return [];
    const obj: JsonSchemaNode = objectLike(node);
    if (typeof seg === 'number') node = obj.items;
    else if (obj.properties && typeof seg === 'string' && seg in obj.properties) node = obj.properties[seg];
    else if (typeof obj.additionalProperties === 'object') node = obj.additionalProperties;
    else return [];
  }
  return node ? Object.keys(objectLike(node).properties ?? {}) : [];
}

function formatDefault(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/**
 * Documents every key with its default: lines `key = default  # description`
 * (`# key =  # description` for keys without a default). Used to generate the docs.
 */
export function describeConfig(): string[] {
  const lines: string[] = [];
  const walk = (node: JsonSchemaNode, prefix: string): void => {
    const obj = objectLike(node);
    for (const [key, child] of Object.entries(obj.properties ?? {})) {
      const name = prefix === '' ? key : `${prefix}.${key}`;
      const inner = objectLike(child);
      const desc = child.description ?? inner.description;
      const comment = desc === undefined ? '' : `  # ${desc}`;
      if (inner.properties) {
        lines.push(`[${name}]${comment}`);
        walk(inner, name);
      } else if (typeof inner.additionalProperties === 'object') {
        const def = child.default === undefined ? '' : ` (default ${formatDefault(child.default)})`;
        lines.push(`[${name}.NAME]${comment}${def}`);
        walk(inner.additionalProperties, `${name}.NAME`);
      } else if (inner.items && objectLike(inner.items).properties) {
        lines.push(`[[${name}]]${comment}`);
        walk(inner.items, name);
      } else if (child.default === undefined) {
        lines.push(`# ${name} =${comment}`);
      } else {
        lines.push(`${name} = ${formatDefault(child.default)}${comment}`);
      }
    }
  };
  walk(configInputJsonSchema(), '');
  return lines;
}
