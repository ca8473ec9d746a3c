/**
 * GraphBuilder: writes IR graphs the way one writes a PyTorch module — each call adds a node,
 * infers its output shape at once (so builders can read channel counts) and returns the tensor.
 *
 *   const b = new GraphBuilder('tiny');
 *   let x = b.input('input', [batch, 3, 32, 32]);
 *   x = b.relu(b.batchNorm(b.conv(x, { out: 16, kernel: 3, pad: 1 })));
 *   b.output(b.linear(b.flatten(b.globalAvgPool(x)), 10));
 *   const graph = b.build();
 */

import { inferGraph } from './infer.js';
import { type Attrs, type DType, type Graph, GraphError, type Initializer, type InitRole, type Node, type OpType, type ValueInfo } from './ir.js';
import { OP_RULES, type OpInput } from './ops.js';

/** A tensor handle: its name and inferred shape. */
export interface T {
  name: string;
  shape: number[];
  dtype: DType;
}

export interface ConvOptions {
  out: number;
  kernel: number | [number, number];
  stride?: number | [number, number];
  /** Symmetric padding per spatial dim, or explicit [top, left, bottom, right]. Default: 0. */
  pad?: number | [number, number] | [number, number, number, number];
  dilation?: number;
  group?: number;
  bias?: boolean;
  name?: string;
}

export interface PoolOptions {
  kernel: number | [number, number];
  stride?: number | [number, number];
  pad?: number | [number, number] | [number, number, number, number];
  ceil?: boolean;
  /** AveragePool only: whether padded zeros count in the mean (PyTorch default true; TF/Keras false). */
  countIncludePad?: boolean;
  name?: string;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

function pads4(p: ConvOptions['pad']): number[] {
  if (p === undefined) return [0, 0, 0, 0];
  if (typeof p === 'number') return [p, p, p, p];
  if (p.length === 2) return [p[0], p[1], p[0], p[1]];
  return [...p];
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly inits: Initializer[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly known = new Map<string, OpInput>();
  private readonly counters = new Map<string, number>();

  constructor(readonly name: string) {}

  /** A unique id like `conv_3` (or `prefix_3`). */
  uid(prefix: string): string {
    const k = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, k);
    const id = `${prefix}_${k}`;
    return this.known.has(id) || this.nodes.some((n) => n.id === id) ? this.uid(prefix) : id;
  }

  input(name: string, shape: number[], dtype: DType = 'float32'): T {
    const v = { name, shape: shape.slice(), dtype };
    this.inputs.push(v);
    this.known.set(name, { shape: v.shape, dtype });
    return v;
  }

  output(t: T): void {
    this.outputs.push({ name: t.name, shape: t.shape, dtype: t.dtype });
  }

  /** Adds an initializer (weights, constants); values are generated from `role` unless given. */
  param(name: string, shape: number[], role: InitRole, opts: { trainable?: boolean; data?: Float32Array | BigInt64Array; dtype?: DType } = {}): T {
    if (this.known.has(name)) throw new GraphError(`initializer '${name}' is defined twice`, `graph '${this.name}'`);
    const trainable = opts.trainable ?? (role !== 'mean' && role !== 'var' && role !== 'const');
    const dtype = opts.dtype ?? (opts.data instanceof BigInt64Array ? 'int64' : 'float32');
    const init: Initializer = { name, shape: shape.slice(), dtype, trainable, role, ...(opts.data ? { data: opts.data } : {}) };
    this.inits.push(init);
    this.known.set(name, { shape: init.shape, dtype, init });
    return { name, shape: init.shape, dtype };
  }

  /** A scalar (or small) float constant, e.g. the 1/sqrt(d) of attention. */
  constant(value: number | number[], shape?: number[], name?: string): T {
    const vals = typeof value === 'number' ? [value] : value;
    return this.param(name ?? this.uid('const'), shape ?? [vals.length], 'const', { data: Float32Array.from(vals) });
  }

  /** Adds a node of any op type; returns its outputs. The generic entry point every helper uses. */
  op(op: OpType, inputs: T[], attrs: Attrs = {}, opts: { name?: string; outputs?: number } = {}): T[] {
    const id = opts.name ?? this.uid(op.toLowerCase());
    const nOut = opts.outputs ?? 1;
    const outputs = nOut === 1 ? [id] : Array.from({ length: nOut }, (_, k) => `${id}:${k}`);
    const node: Node = { id, op, inputs: inputs.map((t) => t.name), outputs, attrs, outShapes: [], outDtypes: [], macs: 0, flops: 0, bytes: 0, params: 0 };
    const ins = inputs.map((t) => {
      const v = this.known.get(t.name);
      if (!v) throw new GraphError(`reads unknown tensor '${t.name}'`, `node '${id}' (${op})`);
      return v;
    });
    const res = OP_RULES[op](node, ins);
    this.nodes.push(node);
    return outputs.map((name, k) => {
      this.known.set(name, { shape: res.shapes[k], dtype: res.dtypes[k] });
      return { name, shape: res.shapes[k], dtype: res.dtypes[k] };
    });
  }

  private one(op: OpType, inputs: T[], attrs: Attrs = {}, name?: string): T {
    return this.op(op, inputs, attrs, { name })[0];
  }

  conv(x: T, o: ConvOptions): T {
    const id = o.name ?? this.uid('conv');
    const [kh, kw] = pair(o.kernel);
    const group = o.group ?? 1;
    const w = this.param(`${id}.weight`, [o.out, x.shape[1] / group, kh, kw], 'weight');
    const ins = [x, w];
    if (o.bias) ins.push(this.param(`${id}.bias`, [o.out], 'bias'));
    const d = o.dilation ?? 1;
    return this.one('Conv', ins, { kernel_shape: [kh, kw], strides: pair(o.stride ?? 1), pads: pads4(o.pad), dilations: [d, d], group }, id);
  }

  convTranspose(x: T, o: ConvOptions & { outputPadding?: number }): T {
    const id = o.name ?? this.uid('convtranspose');
    const [kh, kw] = pair(o.kernel);
    const group = o.group ?? 1;
    const w = this.param(`${id}.weight`, [x.shape[1], o.out / group, kh, kw], 'weight');
    const ins = [x, w];
    if (o.bias) ins.push(this.param(`${id}.bias`, [o.out], 'bias'));
    const op = o.outputPadding ?? 0;
    return this.one('ConvTranspose', ins, { kernel_shape: [kh, kw], strides: pair(o.stride ?? 1), pads: pads4(o.pad), group, output_padding: [op, op] }, id);
  }

  batchNorm(x: T, o: { epsilon?: number; name?: string } = {}): T {
    const id = o.name ?? this.uid('bn');
    const c = x.shape[1];
    const ins = [
      x,
      this.param(`${id}.weight`, [c], 'gamma'),
      this.param(`${id}.bias`, [c], 'beta'),
      this.param(`${id}.running_mean`, [c], 'mean'),
      this.param(`${id}.running_var`, [c], 'var'),
    ];
    return this.one('BatchNormalization', ins, { epsilon: o.epsilon ?? 1e-5 }, id);
  }

  /** Fully connected layer on a 2-D input (ONNX Gemm with transB=1, PyTorch's Linear layout). */
  linear(x: T, out: number, o: { bias?: boolean; name?: string } = {}): T {
    const id = o.name ?? this.uid('fc');
    const ins = [x, this.param(`${id}.weight`, [out, x.shape[1]], 'weight')];
    if (o.bias ?? true) ins.push(this.param(`${id}.bias`, [out], 'bias'));
    return this.one('Gemm', ins, { transB: 1 }, id);
  }

  /** x[..., k] × W[k, n] as MatMul (+ Add bias): the transformer projection over any leading dims. */
  dense(x: T, out: number, o: { bias?: boolean; name?: string } = {}): T {
    const id = o.name ?? this.uid('dense');
    const k = x.shape[x.shape.length - 1];
    const y = this.one('MatMul', [x, this.param(`${id}.weight`, [k, out], 'weight')], {}, id);
    if (!(o.bias ?? true)) return y;
    return this.one('Add', [y, this.param(`${id}.bias`, [out], 'bias')], {}, `${id}.add_bias`);
  }

  matmul(a: T, b: T, name?: string): T {
    return this.one('MatMul', [a, b], {}, name);
  }

  relu(x: T, name?: string): T {
    return this.one('Relu', [x], {}, name);
  }
  relu6(x: T, name?: string): T {
    return this.one('Clip', [x], { min: 0, max: 6 }, name);
  }
  clip(x: T, min: number, max: number, name?: string): T {
    return this.one('Clip', [x], { min, max }, name);
  }
  sigmoid(x: T, name?: string): T {
    return this.one('Sigmoid', [x], {}, name);
  }
  hardSigmoid(x: T, alpha = 0.2, beta = 0.5, name?: string): T {
    return this.one('HardSigmoid', [x], { alpha, beta }, name);
  }
  gelu(x: T, name?: string): T {
    return this.one('Gelu', [x], {}, name);
  }
  tanh(x: T, name?: string): T {
    return this.one('Tanh', [x], {}, name);
  }
  identity(x: T, name?: string): T {
    return this.one('Identity', [x], {}, name);
  }

  add(a: T, b: T, name?: string): T {
    return this.one('Add', [a, b], {}, name);
  }
  mul(a: T, b: T, name?: string): T {
    return this.one('Mul', [a, b], {}, name);
  }
  sub(a: T, b: T, name?: string): T {
    return this.one('Sub', [a, b], {}, name);
  }
  div(a: T, b: T, name?: string): T {
    return this.one('Div', [a, b], {}, name);
  }

  concat(xs: T[], axis = 1, name?: string): T {
    return this.one('Concat', xs, { axis }, name);
  }
  split(x: T, sizes: number[], axis = 1, name?: string): T[] {
    return this.op('Split', [x], { axis, split: sizes }, { name, outputs: sizes.length });
  }
  /** Target shape in ONNX terms: 0 copies the input dim, -1 is inferred (use them for the batch). */
  reshape(x: T, shape: number[], name?: string): T {
    return this.one('Reshape', [x], { shape }, name);
  }
  flatten(x: T, axis = 1, name?: string): T {
    return this.one('Flatten', [x], { axis }, name);
  }
  transpose(x: T, perm: number[], name?: string): T {
    return this.one('Transpose', [x], { perm }, name);
  }
  expand(x: T, shape: number[], name?: string): T {
    return this.one('Expand', [x], { shape }, name);
  }

  maxPool(x: T, o: PoolOptions): T {
    return this.one(
      'MaxPool',
      [x],
      { kernel_shape: pair(o.kernel), strides: pair(o.stride ?? o.kernel), pads: pads4(o.pad), ceil_mode: o.ceil ? 1 : 0 },
      o.name,
    );
  }
  avgPool(x: T, o: PoolOptions): T {
    return this.one(
      'AveragePool',
      [x],
      {
        kernel_shape: pair(o.kernel),
        strides: pair(o.stride ?? o.kernel),
        pads: pads4(o.pad),
        ceil_mode: o.ceil ? 1 : 0,
        count_include_pad: (o.countIncludePad ?? true) ? 1 : 0,
      },
      o.name,
    );
  }
  globalAvgPool(x: T, name?: string): T {
    return this.one('GlobalAveragePool', [x], {}, name);
  }
  resize(x: T, scales: number[], mode: 'nearest' | 'linear' = 'nearest', name?: string): T {
    return this.one('Resize', [x], { scales, mode }, name);
  }
  softmax(x: T, axis = -1, name?: string): T {
    return this.one('Softmax', [x], { axis }, name);
  }
  layerNorm(x: T, o: { epsilon?: number; name?: string } = {}): T {
    const id = o.name ?? this.uid('ln');
    const c = x.shape[x.shape.length - 1];
    return this.one(
      'LayerNormalization',
      [x, this.param(`${id}.weight`, [c], 'gamma'), this.param(`${id}.bias`, [c], 'beta')],
      { axis: -1, epsilon: o.epsilon ?? 1e-5 },
      id,
    );
  }
  pad(x: T, pads: number[], value = 0, name?: string): T {
    return this.one('Pad', [x], { pads, mode: 'constant', value }, name);
  }
  /** Embedding look-up: a [vocab, dim] table gathered by int64 indices. */
  embedding(indices: T, vocab: number, dim: number, name?: string): T {
    const id = name ?? this.uid('embedding');
    const table = this.param(`${id}.weight`, [vocab, dim], 'embedding');
    return this.one('Gather', [table, indices], { axis: 0 }, id);
  }
  reduceSum(x: T, axes: number[], keepdims = true, name?: string): T {
    return this.one('ReduceSum', [x], { axes, keepdims: keepdims ? 1 : 0 }, name);
  }
  reduceMean(x: T, axes: number[], keepdims = true, name?: string): T {
    return this.one('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 }, name);
  }

  /** Finishes the graph: validates it and fills every node's costs. */
  build(): Graph {
    if (!this.outputs.length) throw new GraphError('has no outputs; call output()', `graph '${this.name}'`);
    return inferGraph({
      name: this.name,
      batch: this.inputs[0]?.shape[0] ?? 1,
      inputs: this.inputs,
      outputs: this.outputs,
      nodes: this.nodes,
      initializers: this.inits,
    });
  }
}
