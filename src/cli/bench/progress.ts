/**
 * What `tidewire bench` shows while it runs, on stderr so that stdout is the table alone.
 * On a terminal: one line redrawn in place (transport, phase, a bar, percent, count). Piped
 * or in CI: one plain line per phase, without control characters, that a log keeps readable.
 *
 * @module
 */

/** The progress of a run: transports one after another, phases within each. */
export interface Progress {
  /** A transport's run begins: it is number `index` (from 1) of `total`. */
  begin(transport: string, index: number, total: number): void;
  /** A phase begins; `total` (with its `unit`) makes it measurable by `update`. */
  phase(label: string, total?: number, unit?: string): void;
  /** `done` of the phase's `total` so far. */
  update(done: number): void;
  /** The transport's run is over: `summary` says how it went. */
  end(summary: string): void;
  /** Leaves the terminal line clean for what is printed next. */
  finish(): void;
}

/** The stream progress is written to: `process.stderr`, or what a test passes. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

/** A terminal line is redrawn at most this often (redraws cost the load's CPU). */
const REDRAW_MS = 100;
const MIN_BAR_WIDTH = 8;
const MAX_BAR_WIDTH = 30;

/** The progress display that fits `stream`: redrawn on a terminal, line by line otherwise. */
export function createProgress(stream: ProgressStream): Progress {
  return stream.isTTY ? new TerminalProgress(stream) : new LineProgress(stream);
}

abstract class BaseProgress implements Progress {
  protected prefix = '';
  protected label = '';
  protected total: number | undefined;
  protected unit = '';
  protected done = 0;

  constructor(protected readonly stream: ProgressStream) {}

  begin(transport: string, index: number, total: number): void {
    this.prefix = `[${index}/${total}] ${transport}`;
  }

  phase(label: string, total?: number, unit = ''): void {
    this.label = label;
    this.total = total;
    this.unit = unit;
    this.done = 0;
    this.onPhase();
  }

  update(done: number): void {
    this.done = done;
    this.onUpdate();
  }

  abstract end(summary: string): void;
  abstract finish(): void;
  protected abstract onPhase(): void;
  protected abstract onUpdate(): void;
}

class LineProgress extends BaseProgress {
  protected onPhase(): void {
    const count = this.total === undefined ? '' : ` (${this.total} ${this.unit})`;
    this.stream.write(`${this.prefix}: ${this.label}${count}\n`);
  }

  protected onUpdate(): void {}

  end(summary: string): void {
    this.stream.write(`${this.prefix}: ${summary}\n`);
  }

  finish(): void {}
}

class TerminalProgress extends BaseProgress {
  #drawnAt = 0;
  #isDrawn = false;

  protected onPhase(): void {
    this.#draw();
  }

  protected onUpdate(): void {
    if (Date.now() - this.#drawnAt >= REDRAW_MS) this.#draw();
  }

  end(summary: string): void {
    this.#clear();
    this.stream.write(`${this.prefix}: ${summary}\n`);
  }

  finish(): void {
    this.#clear();
  }

  #draw(): void {
    this.#drawnAt = Date.now();
    const columns = Math.max(40, (this.stream.columns ?? 80) - 1);
    const head = `${this.prefix.padEnd(18)} ${this.label.padEnd(20)}`;
    const line = `${head} ${this.#meter(columns - head.length - 1)}`;
    // `\r` back to the start, `ESC[K` erases what a longer line left behind.
    this.stream.write(`\r${line.slice(0, columns)}\u001b[K`);
    this.#isDrawn = true;
  }

  /** Bar, percent and count in `width` columns: the bar takes what the rest leaves. */
  #meter(width: number): string {
    if (this.total === undefined || this.total <= 0) return '';
    const share = Math.min(1, this.done / this.total);
    const percent = `${Math.floor(share * 100)}%`.padStart(4);
    const count = `${this.done}/${this.total} ${this.unit}`;
    const barWidth = Math.min(MAX_BAR_WIDTH, Math.max(MIN_BAR_WIDTH, width - count.length - 7));
    const filled = Math.round(share * barWidth);
    const bar = '█'.repeat(filled) + '░'.repeat(barWidth - filled);
    return `${bar} ${percent}  ${count}`;
  }

  #clear(): void {
    if (this.#isDrawn) this.stream.write('\r\u001b[K');
    this.#isDrawn = false;
  }
}
