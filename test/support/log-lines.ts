/** One JSON log line of `tidewire serve` (pino: level label, ISO time, msg, the event's fields). */
export interface LogLine {
  readonly level: string;
  readonly time: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/**
 * The JSON lines of a `tidewire serve` output. Every line must be JSON except the plain
 * `listening on http://…` line: anything else throws, naming the line.
 */
export function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line !== '' && !/^listening on http:\/\/\S+$/.test(line))
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
    });
}

/** The first log line whose `msg` is `msg` (or matches it), if any yet. */
export function findLog(output: string, msg: string | RegExp): LogLine | undefined {
  return logLines(output).find((line) =>
    typeof msg === 'string' ? line.msg === msg : msg.test(line.msg),
  );
}
