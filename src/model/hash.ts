import { createHash } from 'node:crypto';

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = stable((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** A stable JSON text of a value: object keys sorted, so equal models give equal text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(stable(value));
}

/** SHA-256 (hex) of the stable JSON form; used to skip applying an unchanged model. */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
}
