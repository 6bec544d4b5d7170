import { isAddressRange } from '../config/schema.ts';
import type { EntryPoint } from '../model/types.ts';

/**
 * The entry point's trusted client ranges that are valid IP addresses or CIDR ranges; `bad` is called
 * for any other (reported as a diagnostic, never rendered).
 */
export function trustedRanges(ep: EntryPoint, bad: (range: string) => void): string[] {
  const out: string[] = [];
  for (const r of ep.trustedIPs ?? []) {
    if (isAddressRange(r)) out.push(r);
    else bad(r);
  }
  return out;
}
