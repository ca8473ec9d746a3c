/**
 * The simulator's timeline: a binary min-heap of events keyed by (time, seq).
 *
 * `seq` is a counter stamped at push, so events at the same time pop in the order they were
 * pushed — the tie-break that makes the simulation deterministic (Decima's simulator does the
 * same). Float64 keeps the counter exact up to 2^53 pushes.
 *
 * The hot path allocates nothing: events live in a pool of parallel typed arrays (time, seq, kind
 * and two integer arguments), the heap itself orders pool slots (an Int32Array), and sifting moves
 * one integer per level. No closures are stored; callers dispatch on `kind`.
 *
 * Reading a popped event: `pop()` returns its slot; `time[slot]`, `kind[slot]`, `a[slot]`,
 * `b[slot]` stay valid until the next `push` (the slot is recycled then).
 */
export class EventHeap {
  time: Float64Array;
  seq: Float64Array;
  kind: Int32Array;
  a: Int32Array;
  b: Int32Array;
  private heap: Int32Array;
  private free: Int32Array;
  private nFree = 0;
  private n = 0;
  private nextSeq = 0;

  constructor(capacity = 1024) {
    const c = Math.max(4, capacity | 0);
    this.time = new Float64Array(c);
    this.seq = new Float64Array(c);
    this.kind = new Int32Array(c);
    this.a = new Int32Array(c);
    this.b = new Int32Array(c);
    this.heap = new Int32Array(c);
    this.free = new Int32Array(c);
    this.resetFree(0);
  }

  private resetFree(from: number): void {
    // Slots are handed out lowest first: free is a stack with the lowest index on top.
    const c = this.time.length;
    let k = this.nFree;
    for (let s = c - 1; s >= from; s--) this.free[k++] = s;
    this.nFree = k;
  }

  get size(): number {
    return this.n;
  }

  /** Pushes since construction or the last clear (the next event's tie-break stamp). */
  get pushes(): number {
    return this.nextSeq;
  }

  clear(): void {
    this.n = 0;
    this.nFree = 0;
    this.nextSeq = 0;
    this.resetFree(0);
  }

  private grow(): void {
    const old = this.time.length;
    const c = old * 2;
    const f64 = (x: Float64Array) => {
      const y = new Float64Array(c);
      y.set(x);
      return y;
    };
    const i32 = (x: Int32Array) => {
      const y = new Int32Array(c);
      y.set(x);
      return y;
    };
    this.time = f64(this.time);
    this.seq = f64(this.seq);
    this.kind = i32(this.kind);
    this.a = i32(this.a);
    this.b = i32(this.b);
    this.heap = i32(this.heap);
    // All old slots are in use (we only grow when the free stack is empty).
    this.free = new Int32Array(c);
    this.nFree = 0;
    this.resetFree(old);
  }

  private less(x: number, y: number): boolean {
    const tx = this.time[x];
    const ty = this.time[y];
    return tx < ty || (tx === ty && this.seq[x] < this.seq[y]);
  }

  /** Schedules an event; returns its tie-break stamp. `time` must not be NaN. */
  push(time: number, kind: number, a: number, b: number): number {
    if (this.nFree === 0) this.grow();
    const slot = this.free[--this.nFree];
    const s = this.nextSeq++;
    this.time[slot] = time;
    this.seq[slot] = s;
    this.kind[slot] = kind;
    this.a[slot] = a;
    this.b[slot] = b;
    // Sift up.
    const heap = this.heap;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = heap[p];
      if (!this.less(slot, ps)) break;
      heap[i] = ps;
      i = p;
    }
    heap[i] = slot;
    return s;
  }

  /** Time of the earliest event; +Infinity when empty. */
  peekTime(): number {
    return this.n ? this.time[this.heap[0]] : Number.POSITIVE_INFINITY;
  }

  /** Removes the earliest event and returns its slot; -1 when empty. */
  pop(): number {
    if (this.n === 0) return -1;
    const heap = this.heap;
    const top = heap[0];
    const last = heap[--this.n];
    const n = this.n;
    if (n > 0) {
      // Sift the last slot down from the root.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = heap[l];
        let ci = l;
        if (r < n && this.less(heap[r], c)) {
          c = heap[r];
          ci = r;
        }
        if (!this.less(c, last)) break;
        heap[i] = c;
        i = ci;
      }
      heap[i] = last;
    }
    this.free[this.nFree++] = top;
    return top;
  }
}
