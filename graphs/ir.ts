/**
 * The graph IR: a DNN as a DAG of operators.
 *
 * Op names and attributes follow ONNX (Conv, Gemm, MatMul, ...) so import/export is a rename-free
 * walk, with one difference: inputs that ONNX passes as constant tensors (Reshape's shape, Split's
 * sizes, Pad's pads, Clip's bounds, Resize's scales, Expand's shape, Slice's ranges, Reduce axes) are folded into
 * attributes.
 * Tensors are float32 NCHW unless said otherwise; the batch is the first dimension of every graph
 * input and `withBatch` re-infers every shape for another batch.
 *
 * Every node carries its inferred output shapes and its costs (MACs, FLOPs, bytes moved, trainable
 * parameters), filled by `inferGraph`. A graph survives `graphToJSON` → `graphFromJSON` exactly.
 */

export type DType = 'float32' | 'int64';

/** ONNX operator types the IR understands (see ops.ts for their shape and cost rules). */
export const OP_TYPES = [
  'Conv',
  'ConvTranspose',
  'Gemm',
  'MatMul',
  'BatchNormalization',
  'Relu',
  'Clip',
  'Sigmoid',
  'HardSigmoid',
  'Gelu',
  'Tanh',
  'Add',
  'Mul',
  'Sub',
  'Div',
  'Concat',
  'Split',
  'Reshape',
  'Flatten',
  'Transpose',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Resize',
  'Softmax',
  'LayerNormalization',
  'Pad',
  'Gather',
  'Expand',
  'ReduceSum',
  'ReduceMean',
  'ReduceMax',
  'Identity',
  'Pow',
  'Sqrt',
  'Reciprocal',
  'Exp',
  'Log',
  'Erf',
  'Neg',
  'Abs',
  'Max',
  'Min',
  'LeakyRelu',
  'PRelu',
  'HardSwish',
  'Slice',
  'InstanceNormalization',
  'LSTM',
  'GRU',
] as const;
export type OpType = (typeof OP_TYPES)[number];

export type AttrValue = number | number[] | string | boolean;
export type Attrs = Record<string, AttrValue>;

/** A named tensor with a static shape. */
export interface ValueInfo {
  name: string;
  shape: number[];
  dtype: DType;
}

/**
 * How to make an initializer's values when the graph does not carry them (zoo models carry none).
 * Roles pick a sane distribution so deep random-weight networks neither explode nor vanish.
 */
export type InitRole = 'weight' | 'bias' | 'gamma' | 'beta' | 'mean' | 'var' | 'embedding' | 'const';

export interface Initializer {
  name: string;
  shape: number[];
  dtype: DType;
  /** Counted as a model parameter (BatchNorm running mean/var are buffers, not parameters). */
  trainable: boolean;
  role: InitRole;
  /** Values, row-major. Absent: generated from `role` with a seeded RNG (see weights.ts). */
  data?: Float32Array | BigInt64Array;
}

export interface Node {
  /** Unique within the graph; schedules refer to nodes by id. */
  id: string;
  op: OpType;
  /** Tensor names: graph inputs, initializers or other nodes' outputs. */
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
  /** Inferred shape of each output. */
  outShapes: number[][];
  outDtypes: DType[];
  /** Multiply-accumulates of conv / gemm / matmul (0 for other ops). */
  macs: number;
  /** Floating-point operations: 2 per MAC plus the arithmetic of every other op. */
  flops: number;
  /** Bytes read (activations and weights) plus bytes written. */
  bytes: number;
  /** Trainable parameters this node owns. */
  params: number;
}

export interface Graph {
  name: string;
  /** Batch size the shapes were inferred for (first dim of the first input). */
  batch: number;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  initializers: Initializer[];
}

/** An error about a graph, naming the place (node, tensor, file) where it was found. */
export class GraphError extends Error {
  constructor(
    message: string,
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
    this.name = 'GraphError';
  }
}

export function dtypeBytes(dtype: DType): number {
  return dtype === 'int64' ? 8 : 4;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Sum of trainable initializer elements: the model's parameter count. */
export function paramCount(graph: Graph): number {
  let n = 0;
  for (const init of graph.initializers) if (init.trainable) n += numel(init.shape);
  return n;
}

/** Sum of node MACs. */
export function macCount(graph: Graph): number {
  let n = 0;
  for (const node of graph.nodes) n += node.macs;
  return n;
}

export function flopCount(graph: Graph): number {
  let n = 0;
  for (const node of graph.nodes) n += node.flops;
  return n;
}

export interface GraphSummary {
  name: string;
  batch: number;
  nodes: number;
  params: number;
  macs: number;
  flops: number;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export function summarize(graph: Graph): GraphSummary {
  return {
    name: graph.name,
    batch: graph.batch,
    nodes: graph.nodes.length,
    params: paramCount(graph),
    macs: macCount(graph),
    flops: flopCount(graph),
    inputs: graph.inputs,
    outputs: graph.outputs,
  };
}

/** Look-up tables over a graph's tensors, built once per use site. */
export interface TensorIndex {
  /** Tensor name → producing node (absent for graph inputs and initializers). */
  producer: Map<string, Node>;
  /** Tensor name → shape and dtype of every tensor in the graph. */
  info: Map<string, ValueInfo>;
  initializer: Map<string, Initializer>;
  node: Map<string, Node>;
}

export function indexTensors(graph: Graph): TensorIndex {
  const producer = new Map<string, Node>();
  const info = new Map<string, ValueInfo>();
  const initializer = new Map<string, Initializer>();
  const node = new Map<string, Node>();
  for (const v of graph.inputs) info.set(v.name, v);
  for (const init of graph.initializers) {
    initializer.set(init.name, init);
    info.set(init.name, { name: init.name, shape: init.shape, dtype: init.dtype });
  }
  for (const n of graph.nodes) {
    node.set(n.id, n);
    n.outputs.forEach((t, k) => {
      producer.set(t, n);
      if (n.outShapes[k]) info.set(t, { name: t, shape: n.outShapes[k], dtype: n.outDtypes[k] ?? 'float32' });
    });
  }
  return { producer, info, initializer, node };
}
