/**
 * Small dense networks whose parameters live in one flat tfjs variable, mirrored on the host.
 *
 * Why flat + host mirror: the agents' networks are tiny (a few thousand parameters), so the cost
 * of a tfjs update is the number of ops, not their size. With one variable per network, the
 * gradient is one tensor; Adam, gradient clipping and soft target updates run on the host
 * Float32Array (microseconds) and the result is written back with one assign. The optimizer state
 * is then plain data that a checkpoint restores bit for bit, and acting (one observation row) runs
 * on the host copy without touching tfjs at all.
 *
 * Weights are initialised from a seedrandom stream (Glorot-uniform kernels, zero biases, as TF1's
 * `layers.fully_connected` in openai/maddpg), so a seed gives the same network on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';

export type Activation = 'relu' | 'tanh' | 'linear';

export interface MlpSpec {
  /** Layer widths from input to output, e.g. [obsDim, 64, 64, actDim]. */
  sizes: number[];
  /** Hidden-layer activation; the output layer is linear. */
  activation?: Activation;
}

/** A contiguous slice of a flat parameter vector (one weight matrix or bias). */
export interface Segment {
  name: string;
  offset: number;
  shape: number[];
  size: number;
}

/** A flat parameter vector on the host: what the optimizer and checkpoints see. */
export interface ParamVector {
  readonly numParams: number;
  readonly segments: Segment[];
  /** Host copy of the parameters; change it only through `setParams`. */
  readonly host: Float32Array;
  setParams(values: Float32Array): void;
}

/** A network whose flat parameters also live in one tfjs variable (for gradients). */
export interface FlatParams extends ParamVector {
  readonly theta: tf.Variable;
}

/** Parameters used only on the host (gradients computed by hand), e.g. a linear head. */
export class HostParams implements ParamVector {
  readonly host: Float32Array;
  readonly segments: Segment[];
  constructor(
    readonly numParams: number,
    name = 'params',
  ) {
    this.host = new Float32Array(numParams);
    this.segments = [{ name, offset: 0, shape: [numParams], size: numParams }];
  }
  setParams(values: Float32Array): void {
    if (values.length !== this.numParams) throw new Error(`HostParams.setParams: ${values.length} values for ${this.numParams} parameters`);
    if (values !== this.host) this.host.set(values);
  }
}

/** Writes `host` into the tfjs variable. */
export function pushParams(p: { theta: tf.Variable; host: Float32Array }): void {
  tf.tidy(() => p.theta.assign(tf.tensor1d(p.host)));
}

/** Seeded Glorot-uniform fill of every 2-D segment (biases stay zero). */
export function glorotInit(host: Float32Array, segments: Segment[], seed: string): void {
  const rng = seedrandom(seed);
  for (const s of segments) {
    if (s.shape.length !== 2) continue;
    const limit = Math.sqrt(6 / (s.shape[0] + s.shape[1]));
    for (let k = 0; k < s.size; k++) host[s.offset + k] = (2 * rng() - 1) * limit;
  }
}

/**
 * One row through an MLP whose flat parameters are laid out as Mlp's (W0, b0, W1, b1, …; row-major
 * kernels), on the host: what acting and exported actors use, with no tfjs at all.
 */
export function mlpForwardHost(sizes: readonly number[], activation: Activation, p: Float32Array, x: ArrayLike<number>): Float32Array {
  let h = Float32Array.from(x);
  let off = 0;
  const layers = sizes.length - 1;
  for (let l = 0; l < layers; l++) {
    const ni = sizes[l];
    const no = sizes[l + 1];
    const w = off;
    const b = off + ni * no;
    off = b + no;
    const out = new Float32Array(no);
    for (let j = 0; j < no; j++) {
      let s = p[b + j];
      for (let i = 0; i < ni; i++) s += h[i] * p[w + i * no + j];
      out[j] = l < layers - 1 ? (activation === 'relu' ? Math.max(0, s) : activation === 'tanh' ? Math.tanh(s) : s) : s;
    }
    h = out;
  }
  return h;
}

/** A multilayer perceptron; `apply` must run inside the caller's tf.tidy. */
export class Mlp implements FlatParams {
  readonly sizes: number[];
  readonly activation: Activation;
  readonly segments: Segment[] = [];
  readonly numParams: number;
  readonly host: Float32Array;
  readonly theta: tf.Variable;

  constructor(spec: MlpSpec, seed: string) {
    if (spec.sizes.length < 2 || spec.sizes.some((s) => !Number.isInteger(s) || s < 1))
      throw new Error(`Mlp: sizes must be ≥ 2 positive integers, got [${spec.sizes}]`);
    this.sizes = [...spec.sizes];
    this.activation = spec.activation ?? 'relu';
    let off = 0;
    for (let l = 0; l + 1 < this.sizes.length; l++) {
      const [i, o] = [this.sizes[l], this.sizes[l + 1]];
      this.segments.push({ name: `W${l}`, offset: off, shape: [i, o], size: i * o });
      off += i * o;
      this.segments.push({ name: `b${l}`, offset: off, shape: [o], size: o });
      off += o;
    }
    this.numParams = off;
    this.host = new Float32Array(off);
    glorotInit(this.host, this.segments, seed);
    this.theta = tf.variable(tf.tensor1d(this.host), true);
  }

  get inputSize(): number {
    return this.sizes[0];
  }

  get outputSize(): number {
    return this.sizes[this.sizes.length - 1];
  }

  private act(h: tf.Tensor2D): tf.Tensor2D {
    return this.activation === 'relu' ? tf.relu(h) : this.activation === 'tanh' ? tf.tanh(h) : h;
  }

  /** Forward pass on tfjs (differentiable w.r.t. `theta`). */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    if (x.shape[1] !== this.inputSize) throw new Error(`Mlp.apply: input has ${x.shape[1]} columns, network expects ${this.inputSize}`);
    let h = x;
    const layers = this.segments.length / 2;
    for (let l = 0; l < layers; l++) {
      const w = this.segments[2 * l];
      const b = this.segments[2 * l + 1];
      const W = tf.reshape<tf.Rank.R2>(tf.slice(this.theta, [w.offset], [w.size]), [w.shape[0], w.shape[1]]);
      h = tf.add(tf.matMul(h, W), tf.slice(this.theta, [b.offset], [b.size])) as tf.Tensor2D;
      if (l < layers - 1) h = this.act(h);
    }
    return h;
  }

  /** Forward pass of one row on the host copy (no tfjs): for acting, one observation at a time. */
  forwardHost(x: ArrayLike<number>): Float32Array {
    if (x.length !== this.inputSize) throw new Error(`Mlp.forwardHost: input has ${x.length} values, network expects ${this.inputSize}`);
    return mlpForwardHost(this.sizes, this.activation, this.host, x);
  }

  setParams(values: Float32Array): void {
    if (values.length !== this.numParams) throw new Error(`Mlp.setParams: ${values.length} values for ${this.numParams} parameters`);
    if (values !== this.host) this.host.set(values);
    pushParams(this);
  }

  /** θ ← τ·θ_src + (1 − τ)·θ (τ = 1 copies). */
  softUpdateFrom(src: ParamVector, tau: number): void {
    if (src.numParams !== this.numParams) throw new Error(`Mlp.softUpdateFrom: ${src.numParams} vs ${this.numParams} parameters`);
    const a = this.host;
    const b = src.host;
    for (let k = 0; k < a.length; k++) a[k] = tau * b[k] + (1 - tau) * a[k];
    pushParams(this);
  }

  dispose(): void {
    this.theta.dispose();
  }
}

export type ClipMode = 'per-variable' | 'global' | 'none';

/**
 * Gradient-norm clipping in place. 'per-variable' is openai/maddpg's (`tf.clip_by_norm` on each
 * weight and bias gradient in `minimize_and_clip`); 'global' rescales the whole gradient.
 */
export function clipGradient(g: Float32Array, segments: Segment[], maxNorm: number, mode: ClipMode): void {
  if (mode === 'none' || !(maxNorm > 0) || !Number.isFinite(maxNorm)) return;
  const scale = (from: number, to: number, norm: number) => {
    if (norm <= maxNorm) return;
    const f = maxNorm / norm;
    for (let k = from; k < to; k++) g[k] *= f;
  };
  const norm = (from: number, to: number) => {
    let s = 0;
    for (let k = from; k < to; k++) s += g[k] * g[k];
    return Math.sqrt(s);
  };
  if (mode === 'global') scale(0, g.length, norm(0, g.length));
  else for (const s of segments) scale(s.offset, s.offset + s.size, norm(s.offset, s.offset + s.size));
}

export interface AdamConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export interface AdamState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

/** Adam (Kingma & Ba) on a flat parameter vector, on the host; TF1's update rule and ε = 1e-8. */
export class Adam<P extends ParamVector = ParamVector> {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  step = 0;
  readonly m: Float32Array;
  readonly v: Float32Array;

  constructor(
    readonly net: P,
    cfg: AdamConfig,
  ) {
    this.lr = cfg.lr;
    this.beta1 = cfg.beta1 ?? 0.9;
    this.beta2 = cfg.beta2 ?? 0.999;
    this.eps = cfg.eps ?? 1e-8;
    this.m = new Float32Array(net.numParams);
    this.v = new Float32Array(net.numParams);
  }

  /** One step on gradient `g` (same layout as the network's parameters). */
  apply(g: Float32Array): void {
    if (g.length !== this.net.numParams) throw new Error(`Adam.apply: gradient has ${g.length} values, network ${this.net.numParams}`);
    this.step += 1;
    const lrT = (this.lr * Math.sqrt(1 - this.beta2 ** this.step)) / (1 - this.beta1 ** this.step);
    const { m, v } = this;
    const p = this.net.host;
    const b1 = this.beta1;
    const b2 = this.beta2;
    for (let k = 0; k < p.length; k++) {
      m[k] = b1 * m[k] + (1 - b1) * g[k];
      v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
      p[k] -= (lrT * m[k]) / (Math.sqrt(v[k]) + this.eps);
    }
    this.net.setParams(p);
  }

  getState(): AdamState {
    return { step: this.step, m: Float32Array.from(this.m), v: Float32Array.from(this.v) };
  }

  setState(s: AdamState, where = 'Adam'): void {
    if (s.m.length !== this.m.length || s.v.length !== this.v.length) throw new Error(`${where}: state has ${s.m.length} moments, optimizer ${this.m.length}`);
    this.step = s.step;
    this.m.set(s.m);
    this.v.set(s.v);
  }
}

/**
 * Minimises a scalar loss of `net`: gradient on tfjs, then clipping and Adam on the host.
 * Returns the loss value; every tensor made is disposed.
 */
export function minimizeAndClip(opt: Adam<FlatParams>, loss: () => tf.Scalar, clip: number, mode: ClipMode): number {
  const theta = opt.net.theta;
  const { value, grads } = tf.variableGrads(loss, [theta]);
  const gt = grads[theta.name];
  const g = gt ? Float32Array.from(gt.dataSync() as Float32Array) : new Float32Array(opt.net.numParams);
  const out = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  clipGradient(g, opt.net.segments, clip, mode);
  opt.apply(g);
  return out;
}
