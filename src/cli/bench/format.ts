/**
 * How the bench writes numbers, the same in the terminal table, the HTML table and the
 * charts' labels (the report's page imports this file: no Node built-ins here).
 *
 * @module
 */

/** Milliseconds with about three significant digits: 0.412, 3.87, 41.2, 1020. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

/** A number with `digits` decimals; '–' for what could not be measured. */
export function formatFixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/** Bytes as KiB with one decimal. */
export function formatKiB(bytes: number): string {
  return formatFixed(bytes / 1024, 1);
}

/** A count or a rate, whole. */
export function formatWhole(value: number): string {
  return formatFixed(value, 0);
}
