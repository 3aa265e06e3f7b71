import path from 'node:path';
import { ROOT, ensureBuilt } from './dist.js';
import { type ListeningProcess, startListening } from './listening-process.js';

/** The built `tidewire` bin: the tests run it as users do (`npm test` builds first). */
export const CLI_BIN = path.join(ROOT, 'dist/cli/index.js');

/** Builds the package when the bin is missing (a test file run on its own). */
export function ensureCliBuilt(): Promise<void> {
  return ensureBuilt(CLI_BIN);
}

/** Runs `tidewire serve` on 127.0.0.1 and a port of the system's choosing. */
export function serveCli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<ListeningProcess> {
  return startListening([CLI_BIN, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], { env });
}
