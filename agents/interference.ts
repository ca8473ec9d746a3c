/**
 * An Optimum-style interference predictor: how much slower a model runs when other models run on
 * the same device at the same time. Each member of a co-located combination gets a feature vector
 * built from its own profile and IR statistics plus the summed statistics of its co-runners; a
 * small MLP (tfjs, seeded Glorot initialisers, full-batch Adam, no shuffling) maps it to
 * log(slowdown). Predicting the log keeps the output positive and makes errors relative, which is
 * what MAPE measures. A ridge-regression baseline on the same features and an exhaustive pairing
 * search (for placement) live here too, so experiments and tests share one implementation.
 */
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { dtypeBytes, type Graph, numel } from '../graphs/ir.js';

/** What the predictor knows about one model instance (a model at a batch size). */
export interface ModelFeatures {
  /** Instance key, e.g. `mobilenet_v2@b2`; combinations are identified by their members' keys. */
  key: string;
  batch: number;
  /** Measured latency alone on the device, ms. */
  soloMs: number;
  flops: number;
  /** Bytes read + written by all ops (graphs/ops.ts cost rules). */
  bytes: number;
  params: number;
  /** Activation bytes produced by all ops. */
  activationBytes: number;
  ops: number;
}

/** IR statistics of `graph` (at its batch) plus its measured solo latency. */
export function modelFeatures(graph: Graph, soloMs: number, key = `${graph.name}@b${graph.batch}`): ModelFeatures {
  if (!(soloMs > 0)) throw new Error(`modelFeatures: solo latency of '${key}' must be positive, got ${soloMs}`);
  let flops = 0;
  let bytes = 0;
  let params = 0;
  let act = 0;
  for (const n of graph.nodes) {
    flops += n.flops;
    bytes += n.bytes;
    params += n.params;
    n.outShapes.forEach((s, i) => {
      act += numel(s) * dtypeBytes(n.outDtypes[i] ?? 'float32');
    });
  }
  return { key, batch: graph.batch, soloMs, flops, bytes, params, activationBytes: act, ops: graph.nodes.length };
}

/** One training/evaluation sample: a member of a combination and its measured slowdown. */
export interface InterferenceSample {
  self: ModelFeatures;
  others: ModelFeatures[];
  /** Co-run latency ÷ solo latency (≥ ~1). */
  slowdown: number;
}

/** A combination's identity: its members' keys, sorted (so the split never sees it twice). */
export function comboKey(keys: readonly string[]): string {
  return [...keys].sort().join('+');
}

export function sampleCombo(s: InterferenceSample): string {
  return comboKey([s.self.key, ...s.others.map((o) => o.key)]);
}

const lg = (x: number) => Math.log(Math.max(x, 1e-9));

function own(f: ModelFeatures): number[] {
  return [lg(f.soloMs), lg(f.flops), lg(f.bytes), lg(f.params + 1), lg(f.activationBytes), lg(f.flops / Math.max(f.bytes, 1)), lg(f.ops), Math.log2(f.batch)];
}

/**
 * The feature vector of a member: its own log statistics, the log of its co-runners' summed
 * extensive statistics (time, FLOPs, bytes — the load they put on shared cores and memory), the
 * ratio of their time to its own (how much of its run overlaps theirs), and their count.
 */
export function featureVector(self: ModelFeatures, others: readonly ModelFeatures[]): number[] {
  if (!others.length) throw new Error(`featureVector: '${self.key}' has no co-runners`);
  const sum = (f: (m: ModelFeatures) => number) => others.reduce((s, m) => s + f(m), 0);
  const oMs = sum((m) => m.soloMs);
  const oFlops = sum((m) => m.flops);
  const oBytes = sum((m) => m.bytes);
  return [...own(self), lg(oMs), lg(oFlops), lg(oBytes), lg(oFlops / Math.max(oBytes, 1)), lg(oMs / self.soloMs), others.length];
}

export function mape(pred: readonly number[], actual: readonly number[]): number {
  if (pred.length !== actual.length || !actual.length) throw new Error(`mape: ${pred.length} predictions for ${actual.length} values`);
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += Math.abs(pred[i] - actual[i]) / Math.abs(actual[i]);
  return (100 * s) / actual.length;
}

/** Splits samples so that every combination lies wholly in train or in test (seeded shuffle of combinations). */
export function splitByCombination(
  samples: readonly InterferenceSample[],
  testFraction: number,
  seed: string,
): { train: InterferenceSample[]; test: InterferenceSample[] } {
  const folds = comboFolds(samples, Math.max(2, Math.round(1 / testFraction)), seed);
  return { train: samples.filter((_, i) => folds[i] !== 0), test: samples.filter((_, i) => folds[i] === 0) };
}

/** Fold index (0..k-1) of each sample; a combination's samples share a fold. */
export function comboFolds(samples: readonly InterferenceSample[], k: number, seed: string): number[] {
  const combos = [...new Set(samples.map(sampleCombo))].sort();
  if (combos.length < k) throw new Error(`comboFolds: ${combos.length} combinations cannot fill ${k} folds`);
  const rng = seedrandom(seed);
  for (let i = combos.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [combos[i], combos[j]] = [combos[j], combos[i]];
  }
  const fold = new Map(combos.map((c, i) => [c, i % k]));
  return samples.map((s) => fold.get(sampleCombo(s)) as number);
}

interface Standardiser {
  mean: number[];
  std: number[];
}

function standardiser(rows: number[][]): Standardiser {
  const d = rows[0].length;
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
  const std = mean.map((m, j) => Math.sqrt(rows.reduce((s, r) => s + (r[j] - m) ** 2, 0) / rows.length) || 1);
  return { mean, std };
}

const apply = (z: Standardiser, r: number[]) => r.map((x, j) => (x - z.mean[j]) / z.std[j]);

export interface FitOptions {
  hidden?: number[];
  epochs?: number;
  learningRate?: number;
  /** L2 penalty on kernels. Default 1e-3. */
  l2?: number;
  seed?: number;
}

/** Saved form of a fitted predictor (plain JSON). */
export interface InterferenceModelJson {
  format: 'topsched.interference/1';
  hidden: number[];
  features: Standardiser;
  weights: { shape: number[]; values: number[] }[];
}

/** The MLP predictor: features → log(slowdown). Call `dispose()` when done (tfjs tensors). */
export class InterferencePredictor {
  private constructor(
    private readonly net: tf.Sequential,
    private readonly z: Standardiser,
    readonly hidden: number[],
  ) {}

  private static build(inputs: number, hidden: number[], l2: number, seed: number): tf.Sequential {
    const net = tf.sequential();
    hidden.forEach((h, i) => {
      net.add(
        tf.layers.dense({
          units: h,
          activation: 'relu',
          ...(i === 0 ? { inputShape: [inputs] } : {}),
          kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }),
          kernelRegularizer: l2 > 0 ? tf.regularizers.l2({ l2 }) : undefined,
        }),
      );
    });
    net.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + hidden.length }) }));
    return net;
  }

  static async fit(samples: readonly InterferenceSample[], opts: FitOptions = {}): Promise<InterferencePredictor> {
    if (samples.length < 2) throw new Error(`InterferencePredictor.fit: need at least 2 samples, got ${samples.length}`);
    samples.forEach((s, i) => {
      if (!(s.slowdown > 0)) throw new Error(`InterferencePredictor.fit: sample ${i} ('${s.self.key}') has slowdown ${s.slowdown}`);
    });
    const hidden = opts.hidden ?? [32, 16];
    const rows = samples.map((s) => featureVector(s.self, s.others));
    const z = standardiser(rows);
    const net = InterferencePredictor.build(rows[0].length, hidden, opts.l2 ?? 1e-3, opts.seed ?? 0);
    net.compile({ optimizer: tf.train.adam(opts.learningRate ?? 0.01), loss: 'meanSquaredError' });
    const x = tf.tensor2d(rows.map((r) => apply(z, r)));
    const y = tf.tensor2d(samples.map((s) => [Math.log(s.slowdown)]));
    await net.fit(x, y, { epochs: opts.epochs ?? 400, batchSize: samples.length, shuffle: false, verbose: 0 });
    x.dispose();
    y.dispose();
    return new InterferencePredictor(net, z, hidden);
  }

  /** Predicted slowdown of `self` co-running with `others`. */
  predict(self: ModelFeatures, others: readonly ModelFeatures[]): number {
    return this.predictMany([{ self, others }])[0];
  }

  predictMany(items: readonly { self: ModelFeatures; others: readonly ModelFeatures[] }[]): number[] {
    return tf.tidy(() => {
      const x = tf.tensor2d(items.map((s) => apply(this.z, featureVector(s.self, s.others))));
      const out = (this.net.predict(x) as tf.Tensor).dataSync();
      return Array.from(out, (v) => Math.exp(v));
    });
  }

  toJSON(): InterferenceModelJson {
    return {
      format: 'topsched.interference/1',
      hidden: this.hidden,
      features: this.z,
      weights: this.net.getWeights().map((w) => ({ shape: w.shape, values: Array.from(w.dataSync()) })),
    };
  }

  static fromJSON(doc: InterferenceModelJson, where = 'interference model'): InterferencePredictor {
    if (doc?.format !== 'topsched.interference/1') throw new Error(`${where}: expected format 'topsched.interference/1', got ${JSON.stringify(doc?.format)}`);
    const net = InterferencePredictor.build(doc.features.mean.length, doc.hidden, 0, 0);
    const expected = net.getWeights();
    if (expected.length !== doc.weights.length) throw new Error(`${where}: ${doc.weights.length} weight arrays, the network has ${expected.length}`);
    doc.weights.forEach((w, i) => {
      if (w.shape.join('x') !== expected[i].shape.join('x')) throw new Error(`${where}: weights[${i}] has shape ${w.shape}, expected ${expected[i].shape}`);
    });
    net.setWeights(doc.weights.map((w) => tf.tensor(w.values, w.shape)));
    return new InterferencePredictor(net, doc.features, doc.hidden);
  }

  dispose(): void {
    this.net.dispose();
  }
}

/** Ridge regression on the same features, predicting log(slowdown): the linear baseline. */
export class LinearInterference {
  private constructor(
    private readonly w: number[],
    private readonly z: Standardiser,
  ) {}

  static fit(samples: readonly InterferenceSample[], lambda = 1e-2): LinearInterference {
    const rows = samples.map((s) => featureVector(s.self, s.others));
    const z = standardiser(rows);
    const X = rows.map((r) => [1, ...apply(z, r)]);
    const y = samples.map((s) => Math.log(s.slowdown));
    const d = X[0].length;
    // Normal equations (XᵀX + λI) w = Xᵀy, solved by Gaussian elimination with partial pivoting.
    const A = Array.from({ length: d }, (_, i) =>
      Array.from({ length: d + 1 }, (_, j) =>
        j < d ? X.reduce((s, r) => s + r[i] * r[j], 0) + (i === j && i > 0 ? lambda : 0) : X.reduce((s, r, k) => s + r[i] * y[k], 0),
      ),
    );
    for (let c = 0; c < d; c++) {
      let p = c;
      for (let r = c + 1; r < d; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
      [A[c], A[p]] = [A[p], A[c]];
      const piv = A[c][c] || 1e-12;
      for (let r = 0; r < d; r++) {
        if (r === c) continue;
        const f = A[r][c] / piv;
        for (let j = c; j <= d; j++) A[r][j] -= f * A[c][j];
      }
    }
    return new LinearInterference(
      A.map((row, i) => row[d] / (A[i][i] || 1e-12)),
      z,
    );
  }

  predict(self: ModelFeatures, others: readonly ModelFeatures[]): number {
    const x = [1, ...apply(this.z, featureVector(self, others))];
    return Math.exp(x.reduce((s, v, i) => s + v * this.w[i], 0));
  }
}

/**
 * The perfect matching of `items` (even count) into pairs with the least total `cost(a, b)`, by
 * exhaustive search (pair the first free item with each other free item, recurse): (n−1)!! matchings.
 */
export function bestPairing<T>(items: readonly T[], cost: (a: T, b: T) => number): { pairs: [T, T][]; total: number } {
  if (items.length % 2) throw new Error(`bestPairing: needs an even number of items, got ${items.length}`);
  if (items.length > 14) throw new Error(`bestPairing: ${items.length} items is too many for exhaustive search (at most 14)`);
  let best: { pairs: [T, T][]; total: number } = { pairs: [], total: Number.POSITIVE_INFINITY };
  const rec = (free: T[], acc: [T, T][], total: number) => {
    if (total >= best.total) return;
    if (!free.length) {
      best = { pairs: [...acc], total };
      return;
    }
    const [a, ...rest] = free;
    rest.forEach((b, i) => {
      acc.push([a, b]);
      rec([...rest.slice(0, i), ...rest.slice(i + 1)], acc, total + cost(a, b));
      acc.pop();
    });
  };
  rec([...items], [], 0);
  return best;
}
