/*
 * One DNS-01 challenge: the TXT record written, seen by the zone's servers, the CA told to validate,
 * then the record removed whatever happened (a failed removal is reported, never hidden).
 */

import { waitForRecord } from './propagation.ts';
import type { PropagationOptions } from './propagation.ts';
import type { ChallengeRecord, DnsProvider } from './types.ts';

/** A provider and how to check that its records are visible. */
export interface DnsSolver {
  readonly provider: DnsProvider;
  readonly propagation: PropagationOptions;
  /** Told when a record could not be removed (it is harmless but left behind). */
  readonly onCleanupError?: (record: ChallengeRecord, err: unknown) => void;
}

/** Writes `record`, waits until it is visible, runs `validate`, and removes the record. */
export async function solveDns01(solver: DnsSolver, record: ChallengeRecord, validate: () => Promise<void>): Promise<void> {
  await solver.provider.present(record);
  try {
    await waitForRecord(record, solver.propagation);
    await validate();
  } finally {
    await solver.provider.cleanup(record).catch((err: unknown) => solver.onCleanupError?.(record, err));
  }
}
