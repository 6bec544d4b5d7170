/* docs/annotations.md, generated from the two annotation catalogues by scripts/annotations-doc.ts. Pure. */

import { CODES } from '../../shared/codes.ts';
import { NGINX_CATALOGUE, NGINX_PREFIX } from './nginx-catalogue.ts';
import type { Catalogue, CatalogueEntry } from './reader.ts';
import { TRAEFIK_CATALOGUE, TRAEFIK_PREFIXES } from './traefik-catalogue.ts';

/** A table cell: `|` escaped (GitHub Markdown reads it even inside code), `<` `>` kept from HTML. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** What an entry feeds: its policy and/or the reference of the result. */
function feeds(entry: CatalogueEntry): string {
  const parts = [entry.policy === undefined ? '' : `\`${entry.policy}\``, entry.ref === undefined ? '' : `\`refs.${entry.ref}\``].filter((p) => p !== '');
  return parts.length === 0 ? '' : parts.join(', ');
}

function table<N extends string>(catalogue: Catalogue<N>, names: (name: N, entry: CatalogueEntry) => string): string[] {
  const lines = ['| annotation | policy | status | example | note |', '|---|---|---|---|---|'];
  for (const name of Object.keys(catalogue) as N[]) {
    const entry = catalogue[name];
    const example = entry.example === undefined ? '' : `\`${entry.example}\``;
    lines.push(`| ${cell(names(name, entry))} | ${feeds(entry)} | ${entry.status} | ${cell(example)} | ${cell(entry.note)} |`);
  }
  return lines;
}

/**
 * The annotation reference (docs/annotations.md) as generated from the catalogues.
 *
 * @returns the Markdown text, ending with a newline
 */
export function annotationsReference(): string {
  const code = (c: keyof typeof CODES): string => `\`${c}\`${CODES[c].startsWith('warning:') ? ' (warning)' : ''}`;
  const [plain, prefixed] = TRAEFIK_PREFIXES;
  return [
    '# Annotations',
    '',
    'Generated from the annotation catalogues (`src/model/annotations/nginx-catalogue.ts` and `traefik-catalogue.ts`) by',
    '`node scripts/annotations-doc.ts`; a unit test fails when it is out of date.',
    '',
    'Passerelle reads the annotations of the two controllers an Ingress may have been written for, ingress-nginx and',
    'Traefik 1.x, into one typed policy of the Ingress\'s routes (`src/model/policy.ts`). A policy means the same',
    'whichever dialect sets it. Every annotation under a known prefix gets a finding, shown by `passerelle check` and',
    'recorded as an Event on the Ingress:',
    '',
    '| status | meaning | diagnostic |',
    '|---|---|---|',
    '| applied | read, and means here what it means in its controller | none |',
    '| different | read and applied, with the difference its note names | none |',
    `| unsupported | a name, or a value, Passerelle does not implement: ignored | ${code('PASS_ANNOTATION_UNSUPPORTED')} |`,
    `| refused | free proxy configuration text (\`*-snippet\`): never rendered | ${code('PASS_ANNOTATION_SNIPPET')} |`,
    `| invalid | the value fails its grammar, or a companion it needs is missing or invalid: its policy is not set | ${code('PASS_ANNOTATION_INVALID')}, ${code('PASS_ANNOTATION_INCOMPLETE')} |`,
    `| conflict | another annotation decides the same value differently and is kept | ${code('PASS_ANNOTATION_CONFLICT')} |`,
    '',
    `An annotation that has no effect where it is, as in its controller (\`session-cookie-name\` without \`affinity\`, any`,
    `annotation but the canary and affinity ones on a canary Ingress), is \`applied\` with ${code('PASS_ANNOTATION_IGNORED')}.`,
    '',
    'Rules shared by both dialects:',
    '',
    '- **Strict values.** A value is read only when it follows its grammar (`src/model/annotations/grammar.ts`), since',
    '  URLs, paths, header values, cookie names and realms are written into nginx and HAProxy configuration files:',
    '  booleans are exactly `true` or `false`; numbers are digits within a range; sizes are bytes or a number with',
    '  `k`, `m` or `g`; addresses are IPv4 or IPv6 addresses or CIDR ranges, comma-separated; URLs are absolute',
    '  `http://` or `https://` URLs without user info, fragment, whitespace, quotes, `\\`, `;`, `{`, `}`, `$` (nginx',
    '  variables) or non-ASCII characters; paths start with `/`, use the Ingress path characters and have no `..`',
    '  segment; header names are RFC 9110 tokens without `$`, `%`, `#`, quotes or backquotes; header values and',
    '  realms are printable ASCII without `" \\ $ { } ;`; cookie names are letters, digits and `- . _ ~`; methods are',
    '  upper-case. An invalid value on an access policy (allowlist, basic or external authentication) makes the',
    '  routes answer 503 rather than serve without the check.',
    '- **Both dialects on one Ingress.** When an ingress-nginx and a Traefik 1 annotation decide the same value',
    '  (the https redirect, the rewrite, the allowlist, a header set, ...), the ingress-nginx one is kept and the',
    '  Traefik 1 one gets `conflict`; when their values agree, both are applied.',
    '- **The https redirect.** With `spec.tls`, plain HTTP to the routes redirects to https with 308 unless an',
    '  annotation of either dialect says otherwise (ingress-nginx\'s `ssl-redirect` default).',
    '',
    `## ingress-nginx (\`${NGINX_PREFIX}\`)`,
    '',
    ...table(NGINX_CATALOGUE, (name) => `\`${name}\``),
    '',
    `Any other \`*-snippet\` under the prefix is refused; any other name is unsupported.`,
    '',
    `## Traefik 1.x (\`${plain}\`, \`${prefixed}\`)`,
    '',
    `Each name is read as \`${plain}<name>\`, else \`${prefixed}<name>\`, else its older label, as Traefik 1.7 does;`,
    'another form of the same name gets the finding of the one read first (same value) or `conflict`.',
    '',
    ...table(TRAEFIK_CATALOGUE, (name, entry) => `\`${name}\`${entry.compat === undefined ? '' : ` (label \`${entry.compat}\`)`}`),
    '',
    'Any other name under these prefixes, or under `traefik.frontend.` and `traefik.backend.`, is unsupported.',
    '',
  ].join('\n');
}
