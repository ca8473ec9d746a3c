/**
 * A ring buffer of transitions on Float32Arrays: one flat array per named field (row-major,
 * `dim` floats per row), so a batch is a few memcpy-like gathers and a checkpoint is raw bytes.
 *
 * Storage grows by doubling up to `capacity`, so the openai/maddpg default of 10⁶ rows costs only
 * what is used. Sampling is uniform with replacement (as openai/maddpg's `make_index`), from the
 * caller's seeded RNG.
 */

import { checkAllocation } from '../graphs/limits.js';
export type FieldDims = Record<string, number>;

export interface ReplaySnapshot {
  capacity: number;
  fields: FieldDims;
  /** Rows stored (≤ capacity). */
  size: number;
  /** Next row to write. */
  next: number;
  /** Per field: the first `size` rows of storage (ring order as stored). */
  data: Record<string, Float32Array>;
}

export class ReplayBuffer {
  readonly capacity: number;
  readonly fields: FieldDims;
  private store: Record<string, Float32Array> = {};
  private allocated = 0;
  private _size = 0;
  private next = 0;

  constructor(capacity: number, fields: FieldDims) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`ReplayBuffer: capacity must be a positive integer, got ${capacity}`);
    for (const [k, d] of Object.entries(fields)) {
      if (!Number.isInteger(d) || d < 1) throw new Error(`ReplayBuffer: field '${k}' needs a positive integer width, got ${d}`);
    }
    this.capacity = capacity;
    this.fields = { ...fields };
    // It grows by doubling, but a full buffer must fit: refuse now, not after hours of training.
    const width = Object.values(fields).reduce((a, b) => a + b, 0);
    checkAllocation(capacity * width * 4, `replay buffer (${capacity} transitions × ${width} floats)`);
    this.grow(Math.min(capacity, 1024));
  }

  get size(): number {
    return this._size;
  }

  private grow(rows: number): void {
    for (const [k, d] of Object.entries(this.fields)) {
      const bigger = new Float32Array(rows * d);
      if (this.store[k]) bigger.set(this.store[k]);
      this.store[k] = bigger;
    }
    this.allocated = rows;
  }

  /** Appends one transition; every field must be present with exactly its width. */
  add(row: Record<string, ArrayLike<number> | number>): void {
    if (this.next >= this.allocated) this.grow(Math.min(this.capacity, this.allocated * 2));
    for (const [k, d] of Object.entries(this.fields)) {
      const v = row[k];
      if (v === undefined) throw new Error(`ReplayBuffer.add: missing field '${k}'`);
      const dst = this.store[k];
      if (typeof v === 'number') {
        if (d !== 1) throw new Error(`ReplayBuffer.add: field '${k}' has width ${d}, got a scalar`);
        dst[this.next] = v;
      } else {
        if (v.length !== d) throw new Error(`ReplayBuffer.add: field '${k}' has width ${d}, got ${v.length} values`);
        dst.set(v, this.next * d);
      }
    }
    this.next = (this.next + 1) % this.capacity;
    this._size = Math.min(this._size + 1, this.capacity);
  }

  /** `n` uniform row indices with replacement. */
  sampleIndices(n: number, rng: () => number): Int32Array {
    if (this._size === 0) throw new Error('ReplayBuffer.sample: buffer is empty');
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rng() * this._size);
    return idx;
  }

  /** Rows `indices` of every field (or of `only`), each as a fresh [n × dim] Float32Array. */
  gather(indices: Int32Array, only?: readonly string[]): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const k of only ?? Object.keys(this.fields)) {
      const d = this.fields[k];
      if (d === undefined) throw new Error(`ReplayBuffer.gather: unknown field '${k}'`);
      const src = this.store[k];
      const dst = new Float32Array(indices.length * d);
      for (let i = 0; i < indices.length; i++) {
        const r = indices[i];
        if (d === 1) dst[i] = src[r];
        else dst.set(src.subarray(r * d, (r + 1) * d), i * d);
      }
      out[k] = dst;
    }
    return out;
  }

  sample(n: number, rng: () => number): Record<string, Float32Array> {
    return this.gather(this.sampleIndices(n, rng));
  }

  snapshot(): ReplaySnapshot {
    const data: Record<string, Float32Array> = {};
    for (const [k, d] of Object.entries(this.fields)) data[k] = this.store[k].slice(0, this._size * d);
    return { capacity: this.capacity, fields: { ...this.fields }, size: this._size, next: this.next, data };
  }

  static restore(s: ReplaySnapshot, where = 'replay buffer'): ReplayBuffer {
    const buf = new ReplayBuffer(s.capacity, s.fields);
    if (!(s.size >= 0 && s.size <= s.capacity && s.next >= 0 && s.next < s.capacity))
      throw new Error(`${where}: size ${s.size} / next ${s.next} do not fit capacity ${s.capacity}`);
    let rows = buf.allocated;
    while (rows < Math.max(s.size, s.next)) rows = Math.min(s.capacity, rows * 2);
    buf.grow(rows);
    for (const [k, d] of Object.entries(s.fields)) {
      const src = s.data[k];
      if (!src || src.length !== s.size * d) throw new Error(`${where}: field '${k}' has ${src?.length ?? 0} values, expected ${s.size} × ${d}`);
      buf.store[k].set(src);
    }
    buf._size = s.size;
    buf.next = s.next;
    return buf;
  }
}
