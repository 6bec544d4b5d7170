/*
 * What the injection property tests check of a rendering (test/integration/haproxy/injection.test.ts,
 * test/integration/annotations-injection.test.ts): the real binary accepts it, and every line starts
 * with a directive of the templates' own skeleton.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BUILTIN_TEMPLATES } from '../../src/render/engine.ts';
import type { RenderedConfig } from '../../src/render/types.ts';

/** What each helper may write at the head of a line (a map key, a split_clients share, an allowed address). */
const HEAD_HELPERS: Readonly<Record<string, string>> = {
  text: String.raw`"(?:[^"\\]|\\.)*"`,
  q: String.raw`"(?:[^"\\]|\\.)*"`,
  mapRegex: String.raw`"~(?:[^"\\]|\\.)*"`,
  name: '[A-Za-z0-9_.-]+',
  sniKey: String.raw`"(?:~\*\^\[\^\.\]\+(?:\\\.[a-z0-9-]+)+\$|[a-z0-9.-]+)"`,
  int: '[0-9]+',
  cidr: '[0-9A-Fa-f.:/]+',
};

/** The first token of a line; a `{{...}}` call, a double-quoted string (with its escapes), or a run of non-blanks. */
function head(line: string, template: boolean): string {
  const t = line.trim();
  const m = template ? /^(?:\{\{[^}]*\}\}|[^\s{]|\{(?!\{))+/.exec(t) : /^(?:"(?:[^"\\]|\\.)*"|\S+)/.exec(t);
  return m?.[0] ?? '';
}

/**
 * The heads a rendering's lines may start with: the first words of every template line, and for a line
 * starting with a helper call (a map key, a share) the pattern of what that helper writes.
 */
export function skeleton(dialect: 'haproxy' | 'nginx'): { readonly words: ReadonlySet<string>; readonly shapes: readonly RegExp[] } {
  const files = [path.join(BUILTIN_TEMPLATES, dialect === 'haproxy' ? 'haproxy.cfg.hbs' : 'nginx.conf.hbs')];
  for (const f of readdirSync(path.join(BUILTIN_TEMPLATES, dialect))) if (f.endsWith('.hbs')) files.push(path.join(BUILTIN_TEMPLATES, dialect, f));
  const words = new Set<string>();
  const shapes = new Map<string, RegExp>();
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      const w = head(line, true);
      if (w === '' || /^\{\{[#/!>]|^\{\{else/.test(w)) continue;
      if (!w.includes('{{')) {
        words.add(line.trim().split(/\s+/)[0] ?? '');
        continue;
      }
      const source = w
        .split(/(\{\{[^}]*\}\})/)
        .map((part) => {
          const call = /^\{\{(\w+)\s/.exec(part);
          if (call === null) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          const pattern = HEAD_HELPERS[call[1] ?? ''];
          if (pattern === undefined) throw new Error(`${f}: a line starts with a call to ${call[1] ?? '?'}, which the skeleton check does not know: ${line}`);
          return pattern;
        })
        .join('');
      shapes.set(source, new RegExp(`^${source}$`));
    }
  }
  return { words, shapes: [...shapes.values()] };
}

/** A work folder removed at exit, with a self-signed default certificate (crt, key, and both in one pem). */
export function workWithDefaultCert(prefix: string): { readonly dir: string; readonly crt: string; readonly key: string } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=default', '-days', '2', '-keyout', path.join(dir, 'default.key'), '-out', path.join(dir, 'default.crt')]);
  return { dir, crt: readFileSync(path.join(dir, 'default.crt'), 'utf8'), key: readFileSync(path.join(dir, 'default.key'), 'utf8') };
}

/**
 * Writes a rendering into `dir`, checks it with `haproxy -c` / `nginx -t`, and that it holds only
 * template directives; returns what the checker printed (its warnings).
 */
export function checkRendering(r: RenderedConfig, dir: string, cert: { readonly crt: string; readonly key: string }, what = ''): string {
  rmSync(dir, { recursive: true, force: true });
  for (const f of [r.main, ...r.files]) {
    mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
    writeFileSync(path.join(dir, f.path), f.content);
  }
  mkdirSync(path.join(dir, 'certs'), { recursive: true });
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  writeFileSync(path.join(dir, 'certs/default.pem'), cert.crt + cert.key);
  writeFileSync(path.join(dir, 'certs/default.crt'), cert.crt);
  writeFileSync(path.join(dir, 'certs/default.key'), cert.key);
  const main = path.join(dir, r.main.path);
  const args = r.dialect === 'haproxy' ? ['-c', '-f', main] : ['-t', '-q', '-c', main, '-p', `${dir}/`, '-e', 'stderr'];
  const res = spawnSync(r.dialect, args, { encoding: 'utf8' });
  assert.equal(res.status, 0, `${r.dialect} refused a rendering${what}: ${res.stdout}${res.stderr}`);
  const { words, shapes } = skeleton(r.dialect);
  for (const line of r.main.content.split('\n')) {
    const w = head(line, false);
    if (w === '' || w.startsWith('#')) continue;
    assert.ok(words.has(w) || shapes.some((s) => s.test(w)), `directive "${w}" is not in the ${r.dialect} template skeleton${what}: ${line}`);
  }
  return `${res.stdout}${res.stderr}`;
}
