/** Edit distance between two words (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let x = 1; x <= a.length; x++) {
    const cur = [x];
    for (let y = 1; y <= b.length; y++) {
      const cost = a[x - 1] === b[y - 1] ? 0 : 1;
      cur.push(Math.min((prev[y] ?? 0) + 1, (cur[y - 1] ?? 0) + 1, (prev[y - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The known word closest to `word` for a "did you mean" hint: case-insensitive, at most 2 edits; with
 * `prefix`, else a known word that `word` (4+ characters) begins (`--dry` for `--dry-run`).
 */
export function closest(word: string, known: readonly string[], options: { readonly prefix?: boolean } = {}): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const candidate = k.toLowerCase();
    if (candidate === lower) return k;
    const d = distance(lower, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  if (best !== undefined || options.prefix !== true) return best;
  return lower.length >= 4 ? known.find((k) => k.toLowerCase().startsWith(lower)) : undefined;
}
