/**
 * The logging seam: the subset of pino's API the hub uses, so that a pino logger can be
 * passed as is.
 */
export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

/** Logs warnings and errors to the console; info is dropped (a library stays quiet). */
export const consoleLogger: Logger = {
  info() {},
  warn(object, message) {
    console.warn(`[tidewire] ${message ?? ''}`, object);
  },
  error(object, message) {
    console.error(`[tidewire] ${message ?? ''}`, object);
  },
};
