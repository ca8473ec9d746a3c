/**
 * Categorical heads on the host and in tfjs, for policy-gradient learners (MAPPO): sampling,
 * log-probabilities and entropies of one logits row split into heads (one per MultiDiscrete
 * component), the dense per-head log-softmax of a batch (the wasm backend has no gather gradient),
 * and running moments for value normalisation.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from './rng.js';

/** Running mean and variance (Welford over batches), for value targets. */
export class RunningMoments {
  mean: Float64Array;
  var: Float64Array;
  count = 1e-4;
  constructor(readonly width: number) {
    this.mean = new Float64Array(width);
    this.var = new Float64Array(width).fill(1);
  }
  /** Updates column k with `xs`. */
  update(k: number, xs: ArrayLike<number>): void {
    if (!xs.length) return;
    let m = 0;
    for (let i = 0; i < xs.length; i++) m += xs[i];
    m /= xs.length;
    let v = 0;
    for (let i = 0; i < xs.length; i++) v += (xs[i] - m) ** 2;
    v /= xs.length;
    const n = xs.length;
    const tot = this.count + n;
    const d = m - this.mean[k];
    this.mean[k] += (d * n) / tot;
    this.var[k] = (this.var[k] * this.count + v * n + (d * d * this.count * n) / tot) / tot;
  }
  /** Call once after updating every column (the count is shared). */
  commit(n: number): void {
    this.count += n;
  }
  std(k: number): number {
    return Math.sqrt(this.var[k] + 1e-8);
  }
}

/** log-softmax of each head's slice of a logits row; returns the log-prob of `idx` and the entropy. */
export function headLogProb(logits: Float32Array, heads: readonly number[], idx: ArrayLike<number>): { logp: number; entropy: number } {
  let off = 0;
  let logp = 0;
  let entropy = 0;
  heads.forEach((n, h) => {
    let mx = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < n; j++) mx = Math.max(mx, logits[off + j]);
    let z = 0;
    for (let j = 0; j < n; j++) z += Math.exp(logits[off + j] - mx);
    const lz = mx + Math.log(z);
    logp += logits[off + idx[h]] - lz;
    for (let j = 0; j < n; j++) {
      const lp = logits[off + j] - lz;
      entropy -= Math.exp(lp) * lp;
    }
    off += n;
  });
  return { logp, entropy };
}

/** Samples one index per head from softmax(logits) (or argmax without an rng). */
export function sampleCategorical(logits: Float32Array, heads: readonly number[], rng?: Rng): Int32Array {
  const out = new Int32Array(heads.length);
  let off = 0;
  heads.forEach((n, h) => {
    let mx = Number.NEGATIVE_INFINITY;
    let arg = 0;
    for (let j = 0; j < n; j++)
      if (logits[off + j] > mx) {
        mx = logits[off + j];
        arg = j;
      }
    if (!rng) out[h] = arg;
    else {
      let z = 0;
      for (let j = 0; j < n; j++) z += Math.exp(logits[off + j] - mx);
      let u = rng() * z;
      let pick = n - 1;
      for (let j = 0; j < n; j++) {
        u -= Math.exp(logits[off + j] - mx);
        if (u <= 0) {
          pick = j;
          break;
        }
      }
      out[h] = pick;
    }
    off += n;
  });
  return out;
}

/** Per-head log-softmax of a batch, as a tensor (dense ops only: wasm has no gather gradient). */
export function logSoftmaxHeads(logits: tf.Tensor2D, heads: readonly number[]): tf.Tensor2D {
  if (heads.length === 1) return tf.logSoftmax(logits) as tf.Tensor2D;
  return tf.concat(
    tf.split(logits, [...heads], 1).map((p) => tf.logSoftmax(p)),
    1,
  ) as tf.Tensor2D;
}
