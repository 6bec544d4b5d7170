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

/** Digests of model parts by identity: a model built incrementally keeps its unchanged parts' objects. */
const PART_DIGESTS = new WeakMap<object, string>();

function partDigest(part: unknown): string {
  if (part === null || typeof part !== 'object') return hashOf(part);
  let d = PART_DIGESTS.get(part);
  if (d === undefined) {
    d = hashOf(part);
    PART_DIGESTS.set(part, d);
  }
  return d;
}

/**
 * A digest of a model-like object that equals for equal values, as {@link hashOf} does, but reads
 * each element of its top-level lists and records by identity first: after a change of one host in
 * ten thousand, only that host is serialized again. Parts must not be mutated once digested.
 */
export function modelDigest(model: Readonly<Record<string, unknown>>): string {
  const h = createHash('sha256');
  for (const key of Object.keys(model).sort()) {
    const value = model[key];
    h.update(`${JSON.stringify(key)}:`);
    if (Array.isArray(value)) {
      h.update(`[${value.map(partDigest).join(',')}]`);
    } else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      h.update(`{${Object.keys(record).sort().map((k) => `${JSON.stringify(k)}:${partDigest(record[k])}`).join(',')}}`);
    } else {
      h.update(stableJson(value));
    }
    h.update(';');
  }
  return h.digest('hex');
}
