import type { Diagnostic } from '../shared/diagnostics.ts';
import { formatDiagnostic } from '../shared/diagnostics.ts';
import type { RenderedConfig, RenderedFile } from './types.ts';

/** The marker line that opens a file's section in `--dry-run` output. */
export function sectionHeader(f: RenderedFile): string {
  const mode = `0${f.mode.toString(8)}`;
  return `# ===== ${f.path} (mode ${mode}${f.secret ? ', secret: contents not shown' : ''}) =====`;
}

/**
 * The diagnostics of a rendered dry run as a trailing comment block, one line per diagnostic in the
 * form `passerelle check` and the native route table use; no diagnostic: no block.
 */
export function formatDiagnosticsBlock(diagnostics: readonly Diagnostic[]): string {
  if (diagnostics.length === 0) return '';
  return `${['# ===== diagnostics =====', ...diagnostics.map((d) => `# ${formatDiagnostic(d)}`)].join('\n')}\n`;
}

/**
 * `--dry-run` output: the main configuration, then every auxiliary file in a marked section, then
 * `diagnostics` (default: the rendering's own) in a trailing comment block.
 * Files holding private keys or password hashes show only their size.
 */
export function formatDryRun(rendered: RenderedConfig, diagnostics: readonly Diagnostic[] = rendered.diagnostics): string {
  const parts: string[] = [sectionHeader(rendered.main), rendered.main.content.trimEnd(), ''];
  for (const f of [...rendered.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    parts.push(sectionHeader(f));
    if (f.secret) parts.push(`# (${Buffer.byteLength(f.content)} bytes)`);
    else if (f.content !== '') parts.push(f.content.trimEnd());
    else parts.push('# (empty)');
    parts.push('');
  }
  return `${parts.join('\n')}${formatDiagnosticsBlock(diagnostics)}`;
}

/** A line diff (longest common subsequence) in unified style, without hunk headers: ` `, `-`, `+` lines. */
export function lineDiff(before: string, after: string, context = 3): string[] {
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n');
  const b = after === '' ? [] : after.replace(/\n$/, '').split('\n');
  // Trim the common head and tail first: configurations mostly change in a few places.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const ops: string[] = [];
  if (x.length * y.length > 4_000_000) {
    for (const l of x) ops.push(`-${l}`);
    for (const l of y) ops.push(`+${l}`);
  } else {
    const n = x.length;
    const m = y.length;
    const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[i] === y[j]) {
        ops.push(` ${x[i]!}`);
        i++;
        j++;
      } else if (j < m && (i === n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
        ops.push(`+${y[j++]!}`);
      } else {
        ops.push(`-${x[i++]!}`);
      }
    }
  }
  const before3 = a.slice(Math.max(0, head - context), head).map((l) => ` ${l}`);
  const after3 = a.slice(a.length - tail, a.length - tail + context).map((l) => ` ${l}`);
  return [...before3, ...ops, ...after3];
}
