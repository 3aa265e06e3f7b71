import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { waitFor } from './wait.js';

/** A child process that printed `listening on http://…`. */
export interface ListeningProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** The URL from its `listening on` line. */
  readonly url: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code once it exited. */
  readonly exited: Promise<number | null>;
}

const running = new Set<ChildProcessWithoutNullStreams>();

/**
 * Runs `node …args` (an example, the CLI) as users do and waits for its `listening on` line;
 * give it port 0 (`PORT=0` or `--port 0`) so that parallel tests never collide.
 */
export async function startListening(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<ListeningProcess> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
  });
  running.add(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  const url = await waitFor(
    () => /listening on (http:\/\/\S+)/.exec(output)?.[1],
    10_000,
    `${args.join(' ')} to listen`,
  );
  return { child, url, output: () => output, exited };
}

/** Kills every process `startListening` started that is still running: call it in `afterEach`. */
export function killListening(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}
