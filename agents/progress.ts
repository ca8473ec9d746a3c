/**
 * A one-line progress bar for long runs on a terminal: done/total, rate, ETA and a few live
 * numbers. When the stream is not a TTY (CI logs, pipes) it does nothing, so logs stay clean.
 */

export interface ProgressOptions {
  total: number;
  label?: string;
  stream?: NodeJS.WriteStream;
  /** Minimum ms between redraws. */
  intervalMs?: number;
  width?: number;
}

export class ProgressBar {
  readonly enabled: boolean;
  private readonly stream: NodeJS.WriteStream;
  private readonly t0 = performance.now();
  private last = -Infinity;
  private current = 0;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = Boolean(this.stream.isTTY) && opts.total > 0;
  }

  /** Sets the position; redraws at most every `intervalMs`. `info` is shown after the bar. */
  update(current: number, info: Record<string, number | string> = {}): void {
    this.current = current;
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < (this.opts.intervalMs ?? 100) && current < this.opts.total) return;
    this.last = now;
    this.stream.write(`\r${this.render(now, info)}\x1b[K`);
  }

  /** The line the bar shows (exposed for tests). */
  render(now: number, info: Record<string, number | string> = {}): string {
    const { total } = this.opts;
    const frac = Math.min(1, Math.max(0, this.current / total));
    const width = this.opts.width ?? 24;
    const filled = Math.round(frac * width);
    const secs = (now - this.t0) / 1000;
    const rate = secs > 0 ? this.current / secs : 0;
    const eta = rate > 0 ? (total - this.current) / rate : Number.NaN;
    const fmt = (s: number) =>
      Number.isFinite(s) ? (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`) : '?';
    const extra = Object.entries(info)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toPrecision(4)) : v}`)
      .join(' ');
    return `${this.opts.label ? `${this.opts.label} ` : ''}[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.current}/${total} ${rate.toFixed(1)}/s eta ${fmt(eta)}${extra ? ` ${extra}` : ''}`;
  }

  /** Draws the final state and ends the line. */
  done(info: Record<string, number | string> = {}): void {
    if (!this.enabled) return;
    this.stream.write(`\r${this.render(performance.now(), info)}\x1b[K\n`);
  }
}
