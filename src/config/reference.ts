import { describeConfig } from './schema.ts';

/** One example of the configuration reference: a heading, what it shows, and TOML that loads. */
export interface ConfigExample {
  readonly title: string;
  readonly text: string;
  readonly toml: readonly string[];
}

/**
 * The examples of docs/configuration.md, in file order. The first holds the top-level keys and the
 * entry points (top-level keys must come before any table); every other one loads on its own after
 * it, and all of them together make one complete file (test/unit/config-doc.test.ts loads each way).
 */
export const CONFIG_EXAMPLES: readonly ConfigExample[] = [
  {
    title: 'Top level and `[entryPoints]`',
    text: 'Plain HTTP redirected to HTTPS (a Service in front exposes the container ports 8000 and 8443 as 80 and 443: `publicPort` makes redirects point at 443), and an internal entry point behind basic auth. Without any `[entryPoints]`, Passerelle listens for HTTP on `:80`.',
    toml: [
      'logLevel = "info"',
      'defaultEntryPoints = ["http", "https", "internal"]',
      '',
      '[entryPoints.http]',
      'address = ":8000"',
      'publicPort = 80',
      '',
      '[entryPoints.http.redirect]',
      'entryPoint = "https"',
      'permanent = true',
      '',
      '[entryPoints.https]',
      'address = ":8443"',
      'publicPort = 443',
      '',
      '[entryPoints.https.tls]',
      '',
      '[[entryPoints.https.tls.certificates]]',
      'certFile = "/etc/passerelle/tls/default.crt"',
      'keyFile = "/etc/passerelle/tls/default.key"',
      '',
      '[entryPoints.https.timeouts]',
      'requestHeader = "10s"',
      'idle = "30s"',
      'body = "60s"',
      '',
      '[entryPoints.https.forwardedHeaders]',
      '# a load balancer in front that sets X-Forwarded-For',
      'trustedIPs = ["10.0.0.0/8", "192.168.1.7"]',
      '',
      '[entryPoints.internal]',
      'address = "127.0.0.1:8081"',
      '',
      '[entryPoints.internal.auth.basic]',
      '# htpasswd -s: user "admin", password "change-me"',
      'users = ["admin:{SHA}6NSi9zGis3/LFpY50UzLk1CVLVk="]',
      'realm = "internal"',
      'removeHeader = true',
    ],
  },
  {
    title: '`[proxy]`',
    text: 'HAProxy serves the traffic, started by Passerelle, with templates overridden from a folder (see [templates.md](templates.md)).',
    toml: [
      '[proxy]',
      'mode = "haproxy"',
      'binary = "/usr/sbin/haproxy"',
      'workDir = "/var/run/passerelle"',
      'reload = "bundled"',
      'connectTimeout = "5s"',
      'readTimeout = "60s"',
      'gracePeriod = "10s"',
      'forwardedHeader = true',
      'templates = "/etc/passerelle/templates"',
    ],
  },
  {
    title: '`[kubernetes]`',
    text: 'Ingresses of two namespaces, in a cluster (no kubeconfig: the in-cluster configuration), with their status set from a Service.',
    toml: [
      '[kubernetes]',
      'enabled = true',
      'namespaces = ["default", "shop"]',
      'ingressClass = "passerelle"',
      'classAliases = ["traefik"]',
      'watchIngressWithoutClass = false',
      'publishService = "passerelle/passerelle"',
      'leaderElection = true',
      'leaseNamespace = "passerelle"',
      'startupRetry = "2m"',
    ],
  },
  {
    title: '`[file]`',
    text: 'Ingress, Service, EndpointSlice and Secret YAML files read from a folder, reloaded when they change.',
    toml: ['[file]', 'directory = "/etc/passerelle/ingresses"', 'watch = true'],
  },
  {
    title: '`[acme]` and `[[acme.domains]]`',
    text: 'Let\'s Encrypt certificates for the `https` entry point (which needs `[entryPoints.https.tls]`): two names ordered at start, and every Ingress host.',
    toml: [
      '[acme]',
      'email = "ops@example.com"',
      'storage = "/var/lib/passerelle/acme.json"',
      'entryPoint = "https"',
      'onHostRule = true',
      'challenge = "http-01"',
      'caServer = "https://acme-v02.api.letsencrypt.org/directory"',
      '',
      '[[acme.domains]]',
      'main = "example.com"',
      'sans = ["www.example.com"]',
      '',
      '[[acme.domains]]',
      'main = "shop.example.com"',
    ],
  },
  {
    title: '`[web]` and `[web.auth.basic]`',
    text: 'Health probes, JSON API, metrics and dashboard on a port no public Service exposes; every route but `/healthz`, `/readyz` and `/ping` asks for a password.',
    toml: [
      '[web]',
      'enabled = true',
      'address = ":8080"',
      '',
      '[web.auth.basic]',
      'users = ["admin:{SHA}6NSi9zGis3/LFpY50UzLk1CVLVk="]',
      'realm = "passerelle"',
    ],
  },
  {
    title: '`[accessLog]`',
    text: 'One JSON line per request, appended to a file (reopened on `SIGUSR1`). Without `[accessLog]` there is no access log.',
    toml: ['[accessLog]', 'format = "json"', 'filePath = "/var/log/passerelle/access.log"'],
  },
  {
    title: '`[log]`',
    text: 'The controller\'s own log lines as JSON on stderr, whatever stderr is.',
    toml: ['[log]', 'format = "json"'],
  },
];

/** The configuration reference (docs/configuration.md) as generated from the schema and the examples. */
export function configReference(): string {
  return [
    '# Configuration reference',
    '',
    'Generated from `src/config/schema.ts` and `src/config/reference.ts` by `node scripts/config-doc.ts`; a unit test fails when it is out of date.',
    '',
    '## Examples',
    '',
    'One example per section. The first holds the top-level keys and the entry points; each other block loads on its own after it,',
    'and all the blocks together, in this order, make one complete `passerelle.toml` (a unit test loads them each way).',
    '',
    ...CONFIG_EXAMPLES.flatMap((e) => [`### ${e.title}`, '', e.text, '', '```toml', ...e.toml, '```', '']),
    '## Every key',
    '',
    'Every key with its default (`# key =` when it has none) and what it does. Unknown keys are errors.',
    '`NAME` stands for a name of your choice (an entry point); this listing is not a file to load.',
    '',
    '```text',
    ...describeConfig(),
    '```',
    '',
  ].join('\n');
}
