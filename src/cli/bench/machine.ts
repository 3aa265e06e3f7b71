/**
 * The machine a run was made on, as the report states it: bench figures mean little without.
 *
 * @module
 */
import os from 'node:os';
import type { MachineInfo } from './results.js';

export function describeMachine(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model?.trim() || 'unknown CPU',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg()[0] ?? 0,
  };
}
