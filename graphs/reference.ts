/**
 * A naive reference evaluator: every IR op as plain loops with float64 accumulation, following the
 * ONNX operator definitions (the defaults of onnxruntime where ONNX leaves a choice). It is slow
 * (no blocking, no SIMD) so that it is obviously right; executors are checked against it, and it
 * is checked against onnxruntime in test/onnx.test.ts. Graphs without weights get the same
 * seeded weights `exportOnnx` writes (`materializeWeights` with the same seed).
 */
import { epilogueOf, withoutEpilogue } from './epilogue.js';
import { type Graph, GraphError, type Node, numel } from './ir.js';
import { sliceAxis } from './ops.js';
import { recurrentReference } from './reference-rnn.js';
import { materializeWeights, type TensorData } from './weights.js';

interface Tensor {
  shape: number[];
  data: TensorData;
}

export interface EvaluateOptions {
  /** Seed for weights the graph does not carry (same meaning as in exportOnnx). */
  seed?: number;
  /** Return every tensor, not only the graph outputs. */
  all?: boolean;
}

function stridesOf(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Element offsets into a tensor of `shape` for each element of `out` under numpy broadcasting. */
function broadcastIndex(shape: number[], out: number[]): Int32Array {
  const n = numel(out);
  const idx = new Int32Array(n);
  const st = stridesOf(shape);
  const off = out.length - shape.length;
  const bst = out.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : st[i - off]));
  const ctr = new Array(out.length).fill(0);
  let cur = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = cur;
    for (let d = out.length - 1; d >= 0; d--) {
      ctr[d]++;
      cur += bst[d];
      if (ctr[d] < out[d]) break;
      cur -= bst[d] * out[d];
      ctr[d] = 0;
    }
  }
  return idx;
}

const like = (src: TensorData, n: number): TensorData => (src instanceof BigInt64Array ? new BigInt64Array(n) : new Float32Array(n));

function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 3) {
    // Maclaurin series: converges fast for |x| < 3 with ~1e-15 error.
    let term = z;
    let sum = z;
    for (let n = 1; n < 100; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc, evaluated bottom-up (accurate for z >= 3).
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (z + f);
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
  return Math.sign(x) * (1 - erfc);
}

export function evaluate(graph: Graph, inputs: Map<string, TensorData>, opts: EvaluateOptions = {}): Map<string, TensorData> {
  const g = materializeWeights(graph, { seed: opts.seed ?? 0 });
  const env = new Map<string, Tensor>();
  for (const v of g.inputs) {
    const data = inputs.get(v.name);
    if (!data) throw new GraphError(`no value for input '${v.name}'`, `graph '${g.name}'`);
    if (data.length !== numel(v.shape)) throw new GraphError(`input '${v.name}' has ${data.length} values for shape [${v.shape}]`, `graph '${g.name}'`);
    env.set(v.name, { shape: v.shape, data });
  }
  for (const init of g.initializers) env.set(init.name, { shape: init.shape, data: init.data as TensorData });
  for (const node of g.nodes) {
    const ins = node.inputs.map((t) => env.get(t) as Tensor);
    const outs = runNode(node, ins);
    node.outputs.forEach((t, k) => {
      env.set(t, { shape: node.outShapes[k], data: outs[k] });
    });
  }
  const res = new Map<string, TensorData>();
  if (opts.all) for (const [k, v] of env) res.set(k, v.data);
  else for (const o of g.outputs) res.set(o.name, (env.get(o.name) as Tensor).data);
  return res;
}

function runNode(node: Node, ins: Tensor[]): TensorData[] {
  const ep = epilogueOf(node);
  if (ep.sum || ep.activation) {
    // The op alone, then the residual, then the activation: the nodes the fusion absorbed.
    const shape = node.outShapes[0];
    let y = runNode(withoutEpilogue(node), ep.sum ? ins.slice(0, -1) : ins)[0] as Float32Array;
    if (ep.sum) {
      const r = ins[ins.length - 1].data as Float32Array;
      y = y.map((v, i) => v + r[i]);
    }
    if (!ep.activation) return [y];
    const act = { ...node, op: ep.activation.op, attrs: ep.activation.attrs, inputs: [node.outputs[0]] } as Node;
    return runNode(act, [{ shape, data: y }]);
  }
  const where = `node '${node.id}' (${node.op})`;
  const f = (k: number): Float32Array => {
    const d = ins[k].data;
    if (!(d instanceof Float32Array)) throw new GraphError(`input ${k} must be float32 for arithmetic`, where);
    return d;
  };
  const a = node.attrs;
  const out = node.outShapes[0];
  const n = numel(out);
  const map = (fn: (v: number) => number): TensorData[] => {
    const x = f(0);
    const y = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) y[i] = fn(x[i]);
    return [y];
  };
  const binary = (fn: (p: number, q: number) => number): TensorData[] => {
    const [x, y] = [f(0), f(1)];
    const ix = broadcastIndex(ins[0].shape, out);
    const iy = broadcastIndex(ins[1].shape, out);
    const z = new Float32Array(n);
    for (let i = 0; i < n; i++) z[i] = fn(x[ix[i]], y[iy[i]]);
    return [z];
  };
  switch (node.op) {
    case 'Relu':
      return map((v) => Math.max(v, 0));
    case 'Sigmoid':
      return map((v) => 1 / (1 + Math.exp(-v)));
    case 'Tanh':
      return map(Math.tanh);
    case 'HardSigmoid': {
      const alpha = (a.alpha as number | undefined) ?? 0.2;
      const beta = (a.beta as number | undefined) ?? 0.5;
      return map((v) => Math.max(0, Math.min(1, alpha * v + beta)));
    }
    case 'Clip': {
      const lo = (a.min as number | undefined) ?? -Infinity;
      const hi = (a.max as number | undefined) ?? Infinity;
      return map((v) => Math.min(hi, Math.max(lo, v)));
    }
    case 'Gelu':
      if (a.approximate === 'tanh') return map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))));
      return map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
    case 'Sqrt':
      return map(Math.sqrt);
    case 'Reciprocal':
      return map((v) => 1 / v);
    case 'Exp':
      return map(Math.exp);
    case 'Log':
      return map(Math.log);
    case 'Erf':
      return map(erf);
    case 'Neg':
      return map((v) => -v);
    case 'Abs':
      return map(Math.abs);
    case 'LeakyRelu': {
      const alpha = (a.alpha as number | undefined) ?? 0.01;
      return map((v) => (v < 0 ? alpha * v : v));
    }
    case 'HardSwish':
      return map((v) => v * Math.max(0, Math.min(1, v / 6 + 0.5)));
    case 'Pow':
      return binary((p, q) => p ** q);
    case 'Max':
      return binary((p, q) => (Number.isNaN(p) || Number.isNaN(q) ? Number.NaN : Math.max(p, q)));
    case 'Min':
      return binary((p, q) => (Number.isNaN(p) || Number.isNaN(q) ? Number.NaN : Math.min(p, q)));
    case 'PRelu':
      return binary((p, q) => (p < 0 ? p * q : p));
    case 'Slice': {
      const xs = ins[0].shape;
      const st = stridesOf(xs);
      const from = xs.map(() => 0);
      const step = xs.map(() => 1);
      (a.axes as number[]).forEach((ax, i) => {
        from[ax] = sliceAxis(xs[ax], (a.starts as number[])[i], (a.ends as number[])[i], (a.steps as number[])[i]).start;
        step[ax] = (a.steps as number[])[i];
      });
      const src = ins[0].data;
      const y = like(src, n);
      const ctr = new Array(out.length).fill(0);
      for (let k = 0; k < n; k++) {
        let off = 0;
        for (let d = 0; d < out.length; d++) off += (from[d] + ctr[d] * step[d]) * st[d];
        y[k] = src[off];
        for (let d = out.length - 1; d >= 0; d--) {
          if (++ctr[d] < out[d]) break;
          ctr[d] = 0;
        }
      }
      return [y];
    }
    case 'Add':
      return binary((p, q) => p + q);
    case 'Sub':
      return binary((p, q) => p - q);
    case 'Mul':
      return binary((p, q) => p * q);
    case 'Div':
      return binary((p, q) => p / q);
    case 'Identity':
    case 'Reshape':
    case 'Flatten':
      return [ins[0].data.slice()];
    case 'Expand': {
      const idx = broadcastIndex(ins[0].shape, out);
      const src = ins[0].data;
      const y = like(src, n);
      for (let i = 0; i < n; i++) y[i] = src[idx[i]];
      return [y];
    }
    case 'Transpose': {
      const x = ins[0].shape;
      const perm = (a.perm as number[] | undefined) ?? x.map((_, i) => x.length - 1 - i);
      const st = stridesOf(x);
      const pst = perm.map((p) => st[p]);
      const src = ins[0].data;
      const y = like(src, n);
      const ctr = new Array(out.length).fill(0);
      let cur = 0;
      for (let k = 0; k < n; k++) {
        y[k] = src[cur];
        for (let d = out.length - 1; d >= 0; d--) {
          ctr[d]++;
          cur += pst[d];
          if (ctr[d] < out[d]) break;
          cur -= pst[d] * out[d];
          ctr[d] = 0;
        }
      }
      return [y];
    }
    case 'Concat': {
      const rank = out.length;
      const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
      const outer = numel(out.slice(0, axis));
      const inner = numel(out.slice(axis + 1));
      const y = like(ins[0].data, n);
      let base = 0;
      for (const t of ins) {
        const len = t.shape[axis] * inner;
        for (let o = 0; o < outer; o++) for (let j = 0; j < len; j++) y[o * out[axis] * inner + base + j] = t.data[o * len + j];
        base += len;
      }
      return [y];
    }
    case 'Split': {
      const x = ins[0].shape;
      const axis = ((a.axis as number | undefined) ?? 0) < 0 ? (a.axis as number) + x.length : ((a.axis as number | undefined) ?? 0);
      const outer = numel(x.slice(0, axis));
      const inner = numel(x.slice(axis + 1));
      let base = 0;
      return node.outShapes.map((s) => {
        const len = s[axis] * inner;
        const y = like(ins[0].data, numel(s));
        for (let o = 0; o < outer; o++) for (let j = 0; j < len; j++) y[o * len + j] = ins[0].data[o * x[axis] * inner + base + j];
        base += len;
        return y;
      });
    }
    case 'Gather': {
      const data = ins[0];
      const idx = ins[1].data;
      if (!(idx instanceof BigInt64Array)) throw new GraphError('indices must be int64', where);
      const r = data.shape.length;
      const axis = ((a.axis as number | undefined) ?? 0) < 0 ? (a.axis as number) + r : ((a.axis as number | undefined) ?? 0);
      const outer = numel(data.shape.slice(0, axis));
      const inner = numel(data.shape.slice(axis + 1));
      const dim = data.shape[axis];
      const y = like(data.data, n);
      let k = 0;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < idx.length; i++) {
          let j = Number(idx[i]);
          if (j < 0) j += dim;
          if (j < 0 || j >= dim) throw new GraphError(`index ${idx[i]} out of range [0, ${dim})`, where);
          const src = (o * dim + j) * inner;
          for (let q = 0; q < inner; q++) y[k++] = data.data[src + q];
        }
      }
      return [y];
    }
    case 'LSTM':
    case 'GRU':
      return recurrentReference(
        node,
        ins.map((_, k) => ({ shape: ins[k].shape, data: f(k) })),
      );
    default:
      return [heavy(node, ins, f, where)];
  }
}

/** Ops with windows, reductions or contractions. */
function heavy(node: Node, ins: Tensor[], f: (k: number) => Float32Array, where: string): Float32Array {
  const a = node.attrs;
  const out = node.outShapes[0];
  const y = new Float32Array(numel(out));
  const ints = (k: string, d: number[]) => (a[k] as number[] | undefined) ?? d;
  switch (node.op) {
    case 'Conv': {
      const [x, w] = [f(0), f(1)];
      const [N, C, H, W] = ins[0].shape;
      const [M, Cg, KH, KW] = ins[1].shape;
      const [, , OH, OW] = out;
      const G = (a.group as number | undefined) ?? 1;
      const [sh, sw] = ints('strides', [1, 1]);
      const [dh, dw] = ints('dilations', [1, 1]);
      const [ph, pw] = ints('pads', [0, 0, 0, 0]);
      const bias = ins[2] ? f(2) : undefined;
      const Mg = M / G;
      for (let b = 0; b < N; b++)
        for (let m = 0; m < M; m++) {
          const g = Math.floor(m / Mg);
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++) {
              let s = bias ? bias[m] : 0;
              for (let c = 0; c < Cg; c++) {
                const xc = (b * C + g * Cg + c) * H * W;
                const wc = (m * Cg + c) * KH * KW;
                for (let kh = 0; kh < KH; kh++) {
                  const ih = oh * sh - ph + kh * dh;
                  if (ih < 0 || ih >= H) continue;
                  for (let kw = 0; kw < KW; kw++) {
                    const iw = ow * sw - pw + kw * dw;
                    if (iw >= 0 && iw < W) s += x[xc + ih * W + iw] * w[wc + kh * KW + kw];
                  }
                }
              }
              y[((b * M + m) * OH + oh) * OW + ow] = s;
            }
        }
      return y;
    }
    case 'ConvTranspose': {
      const [x, w] = [f(0), f(1)];
      const [N, C, H, W] = ins[0].shape;
      const [, Mg, KH, KW] = ins[1].shape;
      const [, M, OH, OW] = out;
      const G = (a.group as number | undefined) ?? 1;
      const Cg = C / G;
      const [sh, sw] = ints('strides', [1, 1]);
      const [dh, dw] = ints('dilations', [1, 1]);
      const [ph, pw] = ints('pads', [0, 0, 0, 0]);
      const acc = new Float64Array(y.length);
      if (ins[2]) for (let b = 0; b < N; b++) for (let m = 0; m < M; m++) acc.fill(f(2)[m], (b * M + m) * OH * OW, (b * M + m + 1) * OH * OW);
      for (let b = 0; b < N; b++)
        for (let c = 0; c < C; c++) {
          const g = Math.floor(c / Cg);
          for (let ih = 0; ih < H; ih++)
            for (let iw = 0; iw < W; iw++) {
              const v = x[((b * C + c) * H + ih) * W + iw];
              for (let mm = 0; mm < Mg; mm++) {
                const m = g * Mg + mm;
                for (let kh = 0; kh < KH; kh++) {
                  const oh = ih * sh - ph + kh * dh;
                  if (oh < 0 || oh >= OH) continue;
                  for (let kw = 0; kw < KW; kw++) {
                    const ow = iw * sw - pw + kw * dw;
                    if (ow >= 0 && ow < OW) acc[((b * M + m) * OH + oh) * OW + ow] += v * w[((c * Mg + mm) * KH + kh) * KW + kw];
                  }
                }
              }
            }
        }
      y.set(acc);
      return y;
    }
    case 'Gemm': {
      const [A, B] = [f(0), f(1)];
      const ta = a.transA === 1 || a.transA === true;
      const tb = a.transB === 1 || a.transB === true;
      const [M, N] = out;
      const K = ta ? ins[0].shape[0] : ins[0].shape[1];
      const alpha = (a.alpha as number | undefined) ?? 1;
      const beta = (a.beta as number | undefined) ?? 1;
      const ci = ins[2] ? broadcastIndex(ins[2].shape, out) : undefined;
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += A[ta ? k * M + i : i * K + k] * B[tb ? j * K + k : k * N + j];
          y[i * N + j] = alpha * s + (ci ? beta * f(2)[ci[i * N + j]] : 0);
        }
      return y;
    }
    case 'MatMul': {
      const [A, B] = [f(0), f(1)];
      const as = ins[0].shape;
      const bs = ins[1].shape;
      const [M, K] = as.slice(-2);
      const N = bs[bs.length - 1];
      const batch = out.slice(0, -2);
      const ia = broadcastIndex([...as.slice(0, -2), 1, 1], [...batch, 1, 1]);
      const ib = broadcastIndex([...bs.slice(0, -2), 1, 1], [...batch, 1, 1]);
      for (let p = 0; p < numel(batch); p++) {
        const ao = ia[p] * M * K;
        const bo = ib[p] * K * N;
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += A[ao + i * K + k] * B[bo + k * N + j];
            y[(p * M + i) * N + j] = s;
          }
      }
      return y;
    }
    case 'BatchNormalization': {
      const [x, sc, bi, mu, va] = [0, 1, 2, 3, 4].map(f);
      const eps = (a.epsilon as number | undefined) ?? 1e-5;
      const C = ins[0].shape[1];
      const inner = numel(ins[0].shape.slice(2));
      for (let i = 0; i < x.length; i++) {
        const c = Math.floor(i / inner) % C;
        y[i] = (sc[c] * (x[i] - mu[c])) / Math.sqrt(va[c] + eps) + bi[c];
      }
      return y;
    }
    case 'MaxPool':
    case 'AveragePool': {
      const x = f(0);
      const [N, C, H, W] = ins[0].shape;
      const [, , OH, OW] = out;
      const [KH, KW] = a.kernel_shape as number[];
      const [sh, sw] = ints('strides', [1, 1]);
      const [dh, dw] = ints('dilations', [1, 1]);
      const [ph, pw, peh, pew] = ints('pads', [0, 0, 0, 0]);
      const max = node.op === 'MaxPool';
      const includePad = a.count_include_pad === 1 || a.count_include_pad === true;
      for (let bc = 0; bc < N * C; bc++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            let s = max ? -Infinity : 0;
            let cnt = 0;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pw + kw * dw;
                if (iw < 0 || iw >= W) continue;
                const v = x[(bc * H + ih) * W + iw];
                s = max ? Math.max(s, v) : s + v;
                cnt++;
              }
            }
            if (!max) {
              // count_include_pad divides by the window clipped to the padded extent (onnxruntime).
              const hs = oh * sh - ph;
              const ws = ow * sw - pw;
              const full = (Math.min(hs + KH, H + peh) - hs) * (Math.min(ws + KW, W + pew) - ws);
              s /= includePad ? full : cnt;
            }
            y[(bc * OH + oh) * OW + ow] = s;
          }
      return y;
    }
    case 'GlobalAveragePool': {
      const x = f(0);
      const inner = numel(ins[0].shape.slice(2));
      for (let i = 0; i < y.length; i++) {
        let s = 0;
        for (let j = 0; j < inner; j++) s += x[i * inner + j];
        y[i] = s / inner;
      }
      return y;
    }
    case 'InstanceNormalization': {
      const [x, sc, bi] = [f(0), f(1), f(2)];
      const eps = (a.epsilon as number | undefined) ?? 1e-5;
      const inner = numel(ins[0].shape.slice(2));
      const C = ins[0].shape[1];
      for (let r = 0; r < x.length / inner; r++) {
        let mean = 0;
        for (let j = 0; j < inner; j++) mean += x[r * inner + j];
        mean /= inner;
        let v = 0;
        for (let j = 0; j < inner; j++) v += (x[r * inner + j] - mean) ** 2;
        const inv = 1 / Math.sqrt(v / inner + eps);
        const c = r % C;
        for (let j = 0; j < inner; j++) y[r * inner + j] = (x[r * inner + j] - mean) * inv * sc[c] + bi[c];
      }
      return y;
    }
    case 'Softmax':
    case 'ReduceSum':
    case 'ReduceMean':
    case 'ReduceMax':
    case 'LayerNormalization':
      return reduceLike(node, ins, f, y);
    case 'Pad': {
      const x = f(0);
      const xs = ins[0].shape;
      const pads = a.pads as number[];
      const mode = (a.mode as string | undefined) ?? 'constant';
      if (mode !== 'constant') {
        // Each output index maps to one input index: mirrored (reflect) or clamped (edge).
        const src = (o: number, d: number) => {
          const i = o - pads[d];
          const n = xs[d];
          if (mode === 'edge') return Math.min(n - 1, Math.max(0, i));
          return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
        };
        const st = stridesOf(xs);
        const ctr = new Array(out.length).fill(0);
        for (let k = 0; k < y.length; k++) {
          let off = 0;
          for (let d = 0; d < out.length; d++) off += src(ctr[d], d) * st[d];
          y[k] = x[off];
          for (let d = out.length - 1; d >= 0; d--) {
            if (++ctr[d] < out[d]) break;
            ctr[d] = 0;
          }
        }
        return y;
      }
      y.fill((a.value as number | undefined) ?? 0);
      const st = stridesOf(out);
      const r = xs.length;
      const ctr = new Array(r).fill(0);
      for (let i = 0; i < x.length; i++) {
        let o = 0;
        let inside = true;
        for (let d = 0; d < r; d++) {
          const p = ctr[d] + pads[d];
          if (p < 0 || p >= out[d]) inside = false;
          o += p * st[d];
        }
        if (inside) y[o] = x[i];
        for (let d = r - 1; d >= 0; d--) {
          if (++ctr[d] < xs[d]) break;
          ctr[d] = 0;
        }
      }
      return y;
    }
    case 'Resize':
      return resize(node, ins[0].shape, f(0), y, where);
    default:
      throw new GraphError(`the reference evaluator has no rule for ${node.op}`, where);
  }
}

/** Ops that normalise or reduce over some axes. */
function reduceLike(node: Node, ins: Tensor[], f: (k: number) => Float32Array, y: Float32Array): Float32Array {
  const x = f(0);
  const xs = ins[0].shape;
  const r = xs.length;
  const norm = (v: number) => (v < 0 ? v + r : v);
  if (node.op === 'Softmax' || node.op === 'LayerNormalization') {
    const axis = norm((node.attrs.axis as number | undefined) ?? -1);
    const ln = node.op === 'LayerNormalization';
    // Softmax: one axis; LayerNorm: all axes from `axis` on, as one.
    const len = ln ? numel(xs.slice(axis)) : xs[axis];
    const inner = ln ? 1 : numel(xs.slice(axis + 1));
    const outer = numel(xs.slice(0, axis));
    const eps = (node.attrs.epsilon as number | undefined) ?? 1e-5;
    for (let o = 0; o < outer; o++)
      for (let q = 0; q < inner; q++) {
        const at = (j: number) => (o * len + j) * inner + q;
        if (ln) {
          let mean = 0;
          for (let j = 0; j < len; j++) mean += x[at(j)];
          mean /= len;
          let v = 0;
          for (let j = 0; j < len; j++) v += (x[at(j)] - mean) ** 2;
          const inv = 1 / Math.sqrt(v / len + eps);
          const sc = f(1);
          const bi = ins[2] ? f(2) : undefined;
          for (let j = 0; j < len; j++) y[at(j)] = (x[at(j)] - mean) * inv * sc[j] + (bi ? bi[j] : 0);
        } else {
          let m = -Infinity;
          for (let j = 0; j < len; j++) m = Math.max(m, x[at(j)]);
          let s = 0;
          for (let j = 0; j < len; j++) s += Math.exp(x[at(j)] - m);
          for (let j = 0; j < len; j++) y[at(j)] = Math.exp(x[at(j)] - m) / s;
        }
      }
    return y;
  }
  const axes = new Set((node.attrs.axes as number[]).map(norm));
  const rs = xs.map((d, i) => (axes.has(i) ? 1 : d));
  const idx = broadcastIndex(rs, xs);
  const max = node.op === 'ReduceMax';
  const acc = new Float64Array(y.length).fill(max ? -Infinity : 0);
  for (let i = 0; i < x.length; i++) acc[idx[i]] = max ? Math.max(acc[idx[i]], x[i]) : acc[idx[i]] + x[i];
  const count = numel(xs) / Math.max(1, numel(rs));
  for (let i = 0; i < y.length; i++) y[i] = node.op === 'ReduceMean' ? acc[i] / count : acc[i];
  return y;
}

/** ONNX Resize (nearest / n-linear) with the coordinate transforms onnxruntime implements. */
function resize(node: Node, xs: number[], x: Float32Array, y: Float32Array, where: string): Float32Array {
  const out = node.outShapes[0];
  const scales = node.attrs.scales as number[];
  const mode = (node.attrs.mode as string | undefined) ?? 'nearest';
  const ctm = (node.attrs.coordinate_transformation_mode as string | undefined) ?? 'half_pixel';
  const nm = (node.attrs.nearest_mode as string | undefined) ?? 'round_prefer_floor';
  const orig = (o: number, d: number): number => {
    const s = scales[d];
    switch (ctm) {
      case 'half_pixel':
        return (o + 0.5) / s - 0.5;
      case 'pytorch_half_pixel':
        return out[d] > 1 ? (o + 0.5) / s - 0.5 : 0;
      case 'asymmetric':
        return o / s;
      case 'align_corners':
        return out[d] > 1 ? (o * (xs[d] - 1)) / (out[d] - 1) : 0;
      default:
        throw new GraphError(`coordinate_transformation_mode '${ctm}' has no reference rule`, where);
    }
  };
  const round = (v: number): number => {
    switch (nm) {
      case 'round_prefer_floor':
        return v - Math.floor(v) === 0.5 ? Math.floor(v) : Math.round(v);
      case 'round_prefer_ceil':
        return Math.round(v);
      case 'floor':
        return Math.floor(v);
      case 'ceil':
        return Math.ceil(v);
      default:
        throw new GraphError(`nearest_mode '${nm}' has no reference rule`, where);
    }
  };
  const r = xs.length;
  const st = stridesOf(xs);
  // Per dim and output coordinate: two source indices and the weight of the second.
  const taps = out.map((od, d) =>
    Array.from({ length: od }, (_, o) => {
      const c = orig(o, d);
      if (mode === 'nearest') return [Math.min(xs[d] - 1, Math.max(0, round(c))), 0, 0];
      const cc = Math.min(xs[d] - 1, Math.max(0, c));
      const i0 = Math.floor(cc);
      return [i0, Math.min(i0 + 1, xs[d] - 1), cc - i0];
    }),
  );
  const ctr = new Array(r).fill(0);
  for (let k = 0; k < y.length; k++) {
    let s = 0;
    for (let corner = 0; corner < 1 << r; corner++) {
      let wgt = 1;
      let off = 0;
      for (let d = 0; d < r && wgt !== 0; d++) {
        const [i0, i1, t] = taps[d][ctr[d]];
        const hi = (corner >> d) & 1;
        wgt *= hi ? t : 1 - t;
        off += (hi ? i1 : i0) * st[d];
      }
      if (wgt !== 0) s += wgt * x[off];
    }
    y[k] = s;
    for (let d = r - 1; d >= 0; d--) {
      if (++ctr[d] < out[d]) break;
      ctr[d] = 0;
    }
  }
  return y;
}
