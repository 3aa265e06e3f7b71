/**
 * The logs of `tidewire serve`: JSON lines on stdout with pino (`level`, `time`, `msg` and the
 * fields of each event), which log shippers read as they are. One plain line is not JSON: the
 * `listening on http://HOST:PORT` that SPEC.md promises and scripts wait for.
 *
 * @module
 */
import { pino } from 'pino';
import type { LogLevel } from './settings.js';

export interface CliLog {
  readonly logger: pino.Logger;
  /** Writes a plain line on stdout, in order with the JSON lines. */
  line(text: string): void;
}

/** A pino logger on stdout (`fd` 1), with level labels and ISO times. */
export function createCliLog(level: LogLevel, fd = 1): CliLog {
  // Synchronous writes: the process exits right after its last lines (drain, fatal error).
  const destination = pino.destination({ dest: fd, sync: true });
  const logger = pino(
    {
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"warn" rather than 30/40: readable by people and by every log shipper.
      formatters: { level: (label) => ({ level: label }) },
      // Secrets are redacted where they are logged; this is the net under that.
      redact: {
        paths: ['publishToken', 'metricsToken', 'config.publishToken', 'config.metricsToken'],
        censor: '[redacted]',
      },
    },
    destination,
  );
  return { logger, line: (text) => destination.write(`${text}\n`) };
}
