/**
 * Gumbel-softmax over one or more categorical heads laid side by side in a logits row
 * (a Discrete action is one head; a MultiDiscrete action one head per component).
 *
 * Noise comes from the caller's seedrandom stream as a Float32Array, not from tf.random*, so a run
 * is reproducible on every backend and a checkpoint restores the stream exactly.
 *
 * - `gumbelSoftmax` is differentiable: the soft sample softmax((logits + g) / T) per head, or with
 *   `hard` the straight-through estimator (forward: the one-hot of the argmax; backward: the soft
 *   sample's gradient).
 * - `sampleHeads` picks actions for the env: argmax(logits + g) per head is an exact sample of
 *   softmax(logits) (the Gumbel-max trick); without noise it is the greedy action.
 */
import * as tf from '@tensorflow/tfjs';

/** Standard Gumbel noise −log(−log u), u uniform in (0, 1). */
export function gumbelNoise(rng: () => number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // Keep u strictly inside (0, 1): rng() can return 0, and 1 − 2⁻⁵³ rounds to 1 in float32 logs.
    const u = Math.min(Math.max(rng(), 1e-10), 1 - 1e-7);
    out[i] = -Math.log(-Math.log(u));
  }
  return out;
}

/** Identity forward, zero gradient backward (tfjs has no stop_gradient op). */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;

export interface GumbelOptions {
  /** Softmax temperature (openai/maddpg uses 1). */
  temperature?: number;
  /** Straight-through: forward the one-hot of the argmax, backpropagate through the soft sample. */
  hard?: boolean;
}

function checkHeads(width: number, heads: readonly number[]): void {
  const sum = heads.reduce((a, b) => a + b, 0);
  if (sum !== width || heads.some((h) => !Number.isInteger(h) || h < 1)) throw new Error(`gumbel: heads [${heads}] do not tile a logits row of width ${width}`);
}

/** Softmax applied to each head's slice of the row separately. */
export function headSoftmax(logits: tf.Tensor2D, heads: readonly number[]): tf.Tensor2D {
  checkHeads(logits.shape[1], heads);
  if (heads.length === 1) return tf.softmax(logits);
  const parts = tf.split(logits, [...heads], 1);
  return tf.concat(
    parts.map((p) => tf.softmax(p)),
    1,
  ) as tf.Tensor2D;
}

/** One-hot of the argmax of each head (no gradient). */
export function headOneHot(x: tf.Tensor2D, heads: readonly number[]): tf.Tensor2D {
  checkHeads(x.shape[1], heads);
  const parts = heads.length === 1 ? [x] : tf.split(x, [...heads], 1);
  return tf.concat(
    parts.map((p, k) => tf.cast(tf.oneHot(tf.argMax(p, 1), heads[k]), 'float32')),
    1,
  ) as tf.Tensor2D;
}

/**
 * A differentiable Gumbel-softmax sample per head. `noise` has the logits' shape (from
 * `gumbelNoise`); pass zeros for the noiseless relaxation. Call inside a tidy.
 */
export function gumbelSoftmax(logits: tf.Tensor2D, noise: tf.Tensor2D, heads: readonly number[], opts: GumbelOptions = {}): tf.Tensor2D {
  const t = opts.temperature ?? 1;
  if (!(t > 0)) throw new Error(`gumbel: temperature must be > 0, got ${t}`);
  const perturbed = tf.add(logits, noise) as tf.Tensor2D;
  const soft = headSoftmax(t === 1 ? perturbed : (tf.div(perturbed, t) as tf.Tensor2D), heads);
  if (!opts.hard) return soft;
  const hard = headOneHot(soft, heads);
  // hard + (soft − stop(soft)): forward value is `hard`, gradient is the soft sample's.
  return tf.add(hard, tf.sub(soft, stopGradient(soft))) as tf.Tensor2D;
}

/**
 * Per-row, per-head argmax of logits (+ Gumbel noise when `rng` is given) on the host.
 * `logits` is row-major [rows × Σheads]; returns rows × heads.length indices.
 */
export function sampleHeads(logits: Float32Array, rows: number, heads: readonly number[], rng?: () => number): Int32Array {
  const width = heads.reduce((a, b) => a + b, 0);
  if (logits.length !== rows * width) throw new Error(`sampleHeads: ${logits.length} logits for ${rows} rows × width ${width}`);
  const out = new Int32Array(rows * heads.length);
  for (let r = 0; r < rows; r++) {
    let off = r * width;
    heads.forEach((n, h) => {
      const g = rng ? gumbelNoise(rng, n) : undefined;
      let best = 0;
      let bestV = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < n; k++) {
        const v = logits[off + k] + (g ? g[k] : 0);
        if (v > bestV) {
          bestV = v;
          best = k;
        }
      }
      out[r * heads.length + h] = best;
      off += n;
    });
  }
  return out;
}

/** One-hot encoding of head indices into a row of width Σheads. */
export function oneHotHeads(
  indices: ArrayLike<number>,
  heads: readonly number[],
  out = new Float32Array(heads.reduce((a, b) => a + b, 0)),
  offset = 0,
): Float32Array {
  let off = offset;
  heads.forEach((n, h) => {
    const k = indices[h];
    if (!Number.isInteger(k) || k < 0 || k >= n) throw new Error(`oneHotHeads: head ${h} index ${k} is outside 0..${n - 1}`);
    for (let j = 0; j < n; j++) out[off + j] = j === k ? 1 : 0;
    off += n;
  });
  return out;
}
