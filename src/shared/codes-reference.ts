/* docs/errors.md, generated from the code catalogue (codes.ts). Pure. */
import { CODES } from './codes.ts';
import type { PassCode } from './codes.ts';

/** One section of docs/errors.md: the codes that start with `PASS_` + one of `prefixes`. */
export interface CodeArea {
  readonly title: string;
  /** What follows `PASS_`: a word with its `_` (`CONFIG_`), or a whole code (`NO_SOURCE`). */
  readonly prefixes: readonly string[];
}

/** The areas of docs/errors.md in order; a code belongs to the first area with a matching prefix. */
export const CODE_AREAS: readonly CodeArea[] = [
  { title: 'Configuration file (CONFIG)', prefixes: ['CONFIG_'] },
  { title: 'Command line (CLI, FLAG)', prefixes: ['CLI_', 'FLAG_', 'NO_SOURCE'] },
  { title: 'Kubernetes objects, as translated (INGRESS, OBJECT, SECRET, CONFIGMAP, ENDPOINTSLICE)', prefixes: ['INGRESS_', 'OBJECT_', 'SECRET_', 'CONFIGMAP_', 'ENDPOINTSLICE_'] },
  { title: 'Per-route policies and annotations (POLICY, ANNOTATION)', prefixes: ['POLICY_', 'ANNOTATION_'] },
  { title: 'Gateway API objects, as translated (GATEWAY; file source only so far)', prefixes: ['GATEWAY_'] },
  { title: 'File source (FILE)', prefixes: ['FILE_'] },
  { title: 'Kubernetes source (KUBE)', prefixes: ['KUBE_'] },
  { title: 'ACME certificates (ACME)', prefixes: ['ACME_'] },
  { title: 'Rendering for haproxy and nginx (RENDER, TEMPLATE)', prefixes: ['RENDER_', 'TEMPLATE_', 'TEMPLATES_'] },
  { title: 'Drivers and external proxies (DRIVER, PROXY)', prefixes: ['DRIVER_', 'PROXY_'] },
  { title: 'HAProxy (HAPROXY)', prefixes: ['HAPROXY_'] },
  { title: 'nginx (NGINX)', prefixes: ['NGINX_'] },
  { title: 'Native proxy (NATIVE)', prefixes: ['NATIVE_'] },
  { title: 'Controller (SYNC)', prefixes: ['SYNC_'] },
  { title: 'Web server (WEB)', prefixes: ['WEB_'] },
];

/**
 * The codes of each area, sorted by code.
 *
 * @returns one entry per area of {@link CODE_AREAS}, in that order
 * @throws Error when a code of the catalogue belongs to no area (add its prefix to an area)
 */
export function codesByArea(): { readonly area: CodeArea; readonly codes: readonly PassCode[] }[] {
  const groups = CODE_AREAS.map((area) => ({ area, codes: [] as PassCode[] }));
  for (const code of (Object.keys(CODES) as PassCode[]).sort()) {
    const group = groups.find((g) => g.area.prefixes.some((p) => code.startsWith(`PASS_${p}`)));
    if (group === undefined) throw new Error(`${code} belongs to no area of CODE_AREAS (src/shared/codes-reference.ts)`);
    group.codes.push(code);
  }
  return groups;
}

/**
 * The error reference (docs/errors.md) as generated from the catalogue.
 *
 * @returns the Markdown text, ending with a newline
 */
export function errorsReference(): string {
  const lines = [
    '# Error and diagnostic codes',
    '',
    'Generated from `src/shared/codes.ts` by `node scripts/errors-doc.ts`; a unit test fails when it is out of date,',
    'when a `PASS_*` code in `src/` is missing from the catalogue, or when a catalogued code is used nowhere.',
    '',
    'Every error and diagnostic carries one of these stable codes, with the object (kind, namespace/name), the field',
    'or the file and line it concerns, and a message saying what is wrong, as in',
    '`error PASS_INGRESS_BAD_HOST Ingress default/web spec.rules[0].host: ...`. A command that fails prints',
    '`passerelle: CODE ...` and exits with 2; in the running controller a failed sync is logged and the last good',
    'configuration keeps serving. Diagnostics are shown by `passerelle check`, logged, and recorded as Events on',
    'their object in a cluster. A meaning that starts with "warning:" is reported as a warning; the others are',
    'errors.',
    '',
  ];
  for (const { area, codes } of codesByArea()) {
    if (codes.length === 0) continue;
    lines.push(`## ${area.title}`, '', '| code | meaning |', '|---|---|');
    for (const code of codes) lines.push(`| \`${code}\` | ${CODES[code].replaceAll('|', '\\|')} |`);
    lines.push('');
  }
  return lines.join('\n');
}
