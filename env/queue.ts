/**
 * A per-model FIFO of waiting requests: a ring buffer of arrival times (ms). It grows by doubling
 * up to `capacity`; arrivals beyond it are refused (the env counts them as dropped, and each drop
 * as an SLO violation), so a policy that never releases cannot exhaust memory.
 */
export class RequestQueue {
  private buf: Float64Array;
  private head = 0;
  private n = 0;

  constructor(readonly capacity: number) {
    this.buf = new Float64Array(Math.min(capacity, 256));
  }

  get length(): number {
    return this.n;
  }

  clear(): void {
    this.head = 0;
    this.n = 0;
  }

  /** Appends an arrival; false (and nothing stored) when the queue is full. */
  push(arrivalMs: number): boolean {
    if (this.n >= this.capacity) return false;
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(Math.min(this.capacity, this.buf.length * 2));
      for (let i = 0; i < this.n; i++) bigger[i] = this.buf[(this.head + i) % this.buf.length];
      this.buf = bigger;
      this.head = 0;
    }
    this.buf[(this.head + this.n) % this.buf.length] = arrivalMs;
    this.n++;
    return true;
  }

  /** Arrival time of the oldest waiting request; NaN when empty. */
  peek(): number {
    return this.n ? this.buf[this.head] : Number.NaN;
  }

  /** Removes and returns the oldest arrival time; NaN when empty. */
  shift(): number {
    if (!this.n) return Number.NaN;
    const t = this.buf[this.head];
    this.head = (this.head + 1) % this.buf.length;
    this.n--;
    return t;
  }
}
