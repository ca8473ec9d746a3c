/**
 * The GPG graph network (Decima-style message passing over the operator DAG), dense ops only:
 *
 *   h⁰ = relu(X W_in + b_in)
 *   hᵏ = relu(hᵏ⁻¹ W_selfᵏ + (A_pred hᵏ⁻¹) W_predᵏ + (A_succ hᵏ⁻¹) W_succᵏ + bᵏ),   k = 1..K
 *   score = relu(hᴷ W_h + b_h) w_o + b_o                                          (one scalar per node)
 *
 * A_pred / A_succ average over a node's predecessors / successors, so K rounds see K hops up and
 * down the graph. All parameters sit in one flat variable (see nn.ts), so an update is one
 * gradient tensor and a host-side Adam step.
 */
import * as tf from '@tensorflow/tfjs';
import { type FlatParams, glorotInit, pushParams, type Segment } from '../nn.js';
import { denseAdjacency, type GraphInput, NUM_NODE_FEATURES } from './features.js';

export interface GnnSpec {
  /** Embedding width D. */
  hidden: number;
  /** Message-passing rounds K. */
  rounds: number;
}

/**
 * out[v] (+)= in[v] · W for every row v; W row-major [inW × D] at offset w of P. Accumulates in
 * float64 per row (faster in V8 than float32 stores, and closer to the tfjs result).
 */
function denseRows(inp: Float32Array, inW: number, P: Float32Array, w: number, out: Float32Array, n: number, D: number, accumulate: boolean): void {
  const acc = new Float64Array(D);
  for (let v = 0; v < n; v++) {
    acc.fill(0);
    for (let i = 0; i < inW; i++) {
      const a = inp[v * inW + i];
      if (a === 0) continue; // relu outputs and one-hot features are mostly zeros
      const row = w + i * D;
      for (let j = 0; j < D; j++) acc[j] += a * P[row + j];
    }
    const o = v * D;
    if (accumulate) for (let j = 0; j < D; j++) out[o + j] += acc[j];
    else for (let j = 0; j < D; j++) out[o + j] = acc[j];
  }
}

export class Gnn implements FlatParams {
  readonly segments: Segment[] = [];
  readonly numParams: number;
  readonly host: Float32Array;
  readonly theta: tf.Variable;
  private readonly seg = new Map<string, Segment>();

  constructor(
    readonly spec: GnnSpec,
    seed: string,
  ) {
    const { hidden: D, rounds: K } = spec;
    if (!Number.isInteger(D) || D < 1 || !Number.isInteger(K) || K < 0) throw new Error(`Gnn: hidden must be ≥ 1 and rounds ≥ 0, got ${D}, ${K}`);
    let off = 0;
    const add = (name: string, shape: number[]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const s = { name, offset: off, shape, size };
      this.segments.push(s);
      this.seg.set(name, s);
      off += size;
    };
    add('W_in', [NUM_NODE_FEATURES, D]);
    add('b_in', [D]);
    for (let k = 1; k <= K; k++) {
      add(`W_self${k}`, [D, D]);
      add(`W_pred${k}`, [D, D]);
      add(`W_succ${k}`, [D, D]);
      add(`b${k}`, [D]);
    }
    add('W_h', [D, D]);
    add('b_h', [D]);
    add('w_o', [D, 1]);
    add('b_o', [1]);
    this.numParams = off;
    this.host = new Float32Array(off);
    glorotInit(this.host, this.segments, seed);
    this.theta = tf.variable(tf.tensor1d(this.host), true);
  }

  private p(name: string): tf.Tensor {
    const s = this.seg.get(name) as Segment;
    const flat = tf.slice(this.theta, [s.offset], [s.size]);
    return s.shape.length === 2 ? tf.reshape(flat, s.shape) : flat;
  }

  /** Per-node scores [n] for a prepared graph (call inside a tidy; differentiable w.r.t. theta). */
  apply(x: tf.Tensor2D, aPred: tf.Tensor2D, aSucc: tf.Tensor2D): tf.Tensor1D {
    let h = tf.relu(tf.add(tf.matMul(x, this.p('W_in') as tf.Tensor2D), this.p('b_in'))) as tf.Tensor2D;
    for (let k = 1; k <= this.spec.rounds; k++) {
      const self = tf.matMul(h, this.p(`W_self${k}`) as tf.Tensor2D);
      const up = tf.matMul(tf.matMul(aPred, h), this.p(`W_pred${k}`) as tf.Tensor2D);
      const down = tf.matMul(tf.matMul(aSucc, h), this.p(`W_succ${k}`) as tf.Tensor2D);
      h = tf.relu(tf.add(tf.addN([self, up, down]), this.p(`b${k}`))) as tf.Tensor2D;
    }
    const z = tf.relu(tf.add(tf.matMul(h, this.p('W_h') as tf.Tensor2D), this.p('b_h'))) as tf.Tensor2D;
    return tf.reshape(tf.add(tf.matMul(z, this.p('w_o') as tf.Tensor2D), this.p('b_o')), [-1]) as tf.Tensor1D;
  }

  /** Input tensors of a prepared graph (the caller disposes them). */
  static tensors(g: GraphInput): { x: tf.Tensor2D; aPred: tf.Tensor2D; aSucc: tf.Tensor2D } {
    const { aPred, aSucc } = denseAdjacency(g);
    return {
      x: tf.tensor2d(g.x, [g.n, NUM_NODE_FEATURES]),
      aPred: tf.tensor2d(aPred, [g.n, g.n]),
      aSucc: tf.tensor2d(aSucc, [g.n, g.n]),
    };
  }

  /**
   * The same forward pass on the host with adjacency lists: O(E·D + n·D²) instead of the dense
   * O(n²·D), no tfjs — what inference on one graph uses. Agrees with `apply` to float rounding.
   */
  forwardHost(g: GraphInput): Float32Array {
    const D = this.spec.hidden;
    const n = g.n;
    const F = NUM_NODE_FEATURES;
    const P = this.host;
    const at = (name: string) => (this.seg.get(name) as Segment).offset;
    const dense = (inp: Float32Array, inW: number, w: number, out: Float32Array, accumulate: boolean) => denseRows(inp, inW, P, w, out, n, D, accumulate);
    const biasRelu = (h: Float32Array, b: number) => {
      for (let v = 0; v < n; v++) for (let j = 0; j < D; j++) h[v * D + j] = Math.max(0, h[v * D + j] + P[b + j]);
    };
    const mean = (h: Float32Array, lists: number[][]) => {
      const out = new Float32Array(n * D);
      for (let v = 0; v < n; v++) {
        const l = lists[v];
        if (!l.length) continue;
        for (const u of l) for (let j = 0; j < D; j++) out[v * D + j] += h[u * D + j];
        for (let j = 0; j < D; j++) out[v * D + j] /= l.length;
      }
      return out;
    };
    let h = new Float32Array(n * D);
    dense(g.x, F, at('W_in'), h, false);
    biasRelu(h, at('b_in'));
    for (let k = 1; k <= this.spec.rounds; k++) {
      const next = new Float32Array(n * D);
      dense(h, D, at(`W_self${k}`), next, false);
      dense(mean(h, g.dag.preds), D, at(`W_pred${k}`), next, true);
      dense(mean(h, g.dag.succs), D, at(`W_succ${k}`), next, true);
      biasRelu(next, at(`b${k}`));
      h = next;
    }
    const z = new Float32Array(n * D);
    dense(h, D, at('W_h'), z, false);
    biasRelu(z, at('b_h'));
    const out = new Float32Array(n);
    const wo = at('w_o');
    const bo = P[at('b_o')];
    for (let v = 0; v < n; v++) {
      let sum = bo;
      for (let j = 0; j < D; j++) sum += z[v * D + j] * P[wo + j];
      out[v] = sum;
    }
    return out;
  }

  setParams(values: Float32Array): void {
    if (values.length !== this.numParams) throw new Error(`Gnn.setParams: ${values.length} values for ${this.numParams} parameters`);
    if (values !== this.host) this.host.set(values);
    pushParams(this);
  }

  dispose(): void {
    this.theta.dispose();
  }
}
