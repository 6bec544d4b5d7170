import { pino } from 'pino';
import type { Logger } from '../shared/logger.ts';

/** A pino logger writing JSON lines to stderr, or `pino-pretty`-free short text when stderr is a TTY. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'passerelle' } }, pino.destination({ fd: 2, sync: true }));
}
