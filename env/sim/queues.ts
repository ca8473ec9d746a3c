/**
 * The simulator's queues, all typed-array ring buffers or heaps that allocate nothing per event.
 */

/**
 * Ready groups of one model, served in launch order: a min-heap on key = task launch number ·
 * 2^16 + the group's position in its phase. Kernels enqueued earlier run earlier on a GPU, so an
 * older task's next stage goes before a younger task's — with one stream a task runs start to
 * finish before the next (FIFO), with several the oldest tasks get the free streams first.
 */
export class ReadyQueue {
  key = new Float64Array(16);
  task = new Int32Array(16);
  group = new Int32Array(16);
  n = 0;
  outTask = 0;
  outGroup = 0;

  push(key: number, task: number, group: number): void {
    if (this.n === this.key.length) {
      const c = this.n * 2;
      const k = new Float64Array(c);
      k.set(this.key);
      const t = new Int32Array(c);
      t.set(this.task);
      const g = new Int32Array(c);
      g.set(this.group);
      this.key = k;
      this.task = t;
      this.group = g;
    }
    const K = this.key;
    const T = this.task;
    const G = this.group;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (K[p] <= key) break;
      K[i] = K[p];
      T[i] = T[p];
      G[i] = G[p];
      i = p;
    }
    K[i] = key;
    T[i] = task;
    G[i] = group;
  }

  /** Pops the smallest key; its task and group are left in `outTask` / `outGroup`. */
  pop(): void {
    const K = this.key;
    const T = this.task;
    const G = this.group;
    this.outTask = T[0];
    this.outGroup = G[0];
    const n = --this.n;
    if (n === 0) return;
    const key = K[n];
    const task = T[n];
    const group = G[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && K[r] < K[l] ? r : l;
      if (K[c] >= key) break;
      K[i] = K[c];
      T[i] = T[c];
      G[i] = G[c];
      i = c;
    }
    K[i] = key;
    T[i] = task;
    G[i] = group;
  }

  headKey(): number {
    return this.n ? this.key[0] : Number.POSITIVE_INFINITY;
  }

  clear(): void {
    this.n = 0;
  }
}

/** A FIFO of task slots (copy engines, CPU workers). */
export class SlotQueue {
  buf = new Int32Array(16);
  head = 0;
  n = 0;
  push(x: number): void {
    if (this.n === this.buf.length) {
      const b = new Int32Array(this.buf.length * 2);
      for (let i = 0; i < this.n; i++) b[i] = this.buf[(this.head + i) % this.buf.length];
      this.buf = b;
      this.head = 0;
    }
    this.buf[(this.head + this.n) % this.buf.length] = x;
    this.n++;
  }
  pop(): number {
    const x = this.buf[this.head];
    this.head = (this.head + 1) % this.buf.length;
    this.n--;
    return x;
  }
  clear(): void {
    this.head = 0;
    this.n = 0;
  }
}

/** A FIFO of (task, group) pairs: one in-order stream's queue of enqueued work. */
export class PairQueue {
  task = new Int32Array(16);
  group = new Int32Array(16);
  head = 0;
  n = 0;

  push(task: number, group: number): void {
    let cap = this.task.length;
    if (this.n === cap) {
      const t = new Int32Array(cap * 2);
      const g = new Int32Array(cap * 2);
      for (let i = 0; i < this.n; i++) {
        const j = (this.head + i) % cap;
        t[i] = this.task[j];
        g[i] = this.group[j];
      }
      this.task = t;
      this.group = g;
      this.head = 0;
      cap *= 2;
    }
    const j = (this.head + this.n) % cap;
    this.task[j] = task;
    this.group[j] = group;
    this.n++;
  }

  headTask(): number {
    return this.task[this.head];
  }

  headGroup(): number {
    return this.group[this.head];
  }

  pop(): void {
    this.head = (this.head + 1) % this.task.length;
    this.n--;
  }

  clear(): void {
    this.head = 0;
    this.n = 0;
  }
}
