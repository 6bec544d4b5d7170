// docs/annotations.md against the annotation catalogues it is generated from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NGINX_CATALOGUE } from '../../src/model/annotations/nginx-catalogue.ts';
import { annotationsReference } from '../../src/model/annotations/reference.ts';
import { TRAEFIK_CATALOGUE } from '../../src/model/annotations/traefik-catalogue.ts';

const DOC = readFileSync(new URL('../../docs/annotations.md', import.meta.url), 'utf8');

/** The part of the doc about one dialect. */
function section(dialect: 'nginx' | 'traefik'): string {
  const nginx = DOC.indexOf('\n## ingress-nginx');
  const traefik = DOC.indexOf('\n## Traefik 1.x');
  assert.ok(nginx > 0 && traefik > nginx);
  return dialect === 'nginx' ? DOC.slice(nginx, traefik) : DOC.slice(traefik);
}

test('docs/annotations.md is what the catalogues generate (run node scripts/annotations-doc.ts)', () => {
  assert.equal(DOC, annotationsReference());
});

test('docs/annotations.md has one row per catalogue entry, with its status, in its dialect', () => {
  for (const [dialect, catalogue] of [['nginx', NGINX_CATALOGUE], ['traefik', TRAEFIK_CATALOGUE]] as const) {
    const text = section(dialect);
    for (const [name, entry] of Object.entries(catalogue)) {
      const row = text.split('\n').find((line) => line.startsWith(`| \`${name}\` `));
      assert.ok(row !== undefined, `${dialect} ${name}`);
      assert.ok(row.includes(` | ${entry.status} | `), `${dialect} ${name} status`);
      if (entry.policy !== undefined) assert.ok(row.includes(`\`${entry.policy}\``), `${dialect} ${name} policy`);
    }
  }
});

test('docs/annotations.md states the shared rules and the prefixes', () => {
  for (const line of ['## ingress-nginx (`nginx.ingress.kubernetes.io/`)', '## Traefik 1.x (`ingress.kubernetes.io/`, `traefik.ingress.kubernetes.io/`)', '**Strict values.**', '**Both dialects on one Ingress.**']) {
    assert.ok(DOC.includes(line), line);
  }
});
