/**
 * What a process costs, read from Linux's /proc: CPU seconds and resident memory of any pid,
 * whatever it runs (a Node server, nginx's worker). Returns undefined where /proc is absent.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Linux counts /proc/<pid>/stat in USER_HZ ticks, 100 a second on every common build. */
const SECONDS_PER_TICK = 0.01;

/** User + system CPU seconds `pid` has used so far. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields from after its `)`.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * SECONDS_PER_TICK;
  } catch {
    return undefined;
  }
}

/** Resident set size of `pid` in bytes. */
export function rssBytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pins `pid` and all its threads (libuv's pool, V8's GC helpers) to `cpu`. Returns false when
 * `taskset` is missing or fails: the bench then runs unpinned, and says so.
 */
export function pinToCpu(pid, cpu) {
  try {
    execFileSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
