/*
 * No import cycle in src/, type-only imports included: each module can be read after the modules it
 * imports (docs/architecture.md). Reads the repository's own sources, like the docs drift tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** Relative imports and re-exports of a module, resolved to absolute paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'";]*?\bfrom\s+'(\.[^']+)'|^\s*import\s+'(\.[^']+)'/gm)) {
    out.push(path.resolve(path.dirname(file), m[1] ?? m[2] ?? ''));
  }
  return out;
}

/** Every cycle found by a depth-first walk, as `a -> b -> a` (paths relative to src/). */
function findCycles(graph: ReadonlyMap<string, readonly string[]>, root: string): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      if (!graph.has(dep)) continue;
      const s = state.get(dep);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(dep)), dep].map((f) => path.relative(root, f)).join(' -> '));
      else if (s === undefined) visit(dep);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

test('the cycle finder finds a cycle (else the next test proves nothing)', () => {
  const graph = new Map([
    ['/s/a.ts', ['/s/b.ts']],
    ['/s/b.ts', ['/s/c.ts']],
    ['/s/c.ts', ['/s/a.ts']],
  ]);
  assert.deepEqual(findCycles(graph, '/s'), ['a.ts -> b.ts -> c.ts -> a.ts']);
});

test('no import cycle in src/', () => {
  const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => path.join(src, f));
  assert.ok(files.length > 50, 'the sources were found');
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  assert.ok([...graph.values()].some((deps) => deps.length > 0), 'imports were read');
  assert.deepEqual(findCycles(graph, src), []);
});
