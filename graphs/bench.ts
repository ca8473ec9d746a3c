/**
 * Scaling of the graph pipeline on long graphs: inference, a greedy partition and arena planning of
 * a Relu chain and of a ladder (each node also reads the tensor two back, so every stage has a
 * long-lived neighbour), at two sizes. Time per node stays flat when the work is O(n log n);
 * a quadratic planner multiplies it by the size ratio.
 */
import { SyntheticCostModel } from './cost/index.js';
import { inferGraph } from './infer.js';
import type { Graph, Node } from './ir.js';
import { planMemory } from './memory/planner.js';
import { importOnnx } from './onnx/import.js';
import { type NodeProto, onnx } from './onnx/proto.js';
import { partition } from './partition/index.js';

function longGraph(kind: 'chain' | 'ladder', n: number): Graph {
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const prev = i ? `t${i - 1}` : 'x';
    const inputs = kind === 'ladder' && i >= 2 ? [prev, `t${i - 2}`] : [prev];
    nodes.push({
      id: `n${i}`,
      op: inputs.length > 1 ? 'Add' : 'Relu',
      inputs,
      outputs: [`t${i}`],
      attrs: {},
      outShapes: [],
      outDtypes: [],
      macs: 0,
      flops: 0,
      bytes: 0,
      params: 0,
    });
  }
  return inferGraph({
    name: `${kind}${n}`,
    batch: 1,
    inputs: [{ name: 'x', shape: [1, 16], dtype: 'float32' }],
    outputs: [{ name: `t${n - 1}`, shape: [], dtype: 'float32' }],
    nodes,
    initializers: [],
  });
}

export interface PlannerBenchRow {
  graph: string;
  nodes: number;
  inferMs: number;
  partitionMs: number;
  planMs: number;
  planUsPerNode: number;
  arenaOverLoad: number;
}

export function benchPlanner(sizes: readonly number[] = [5_000, 50_000]): PlannerBenchRow[] {
  const cost = new SyntheticCostModel({ seed: 0 });
  const rows: PlannerBenchRow[] = [];
  for (const kind of ['chain', 'ladder'] as const) {
    for (const n of sizes) {
      let t = performance.now();
      const g = longGraph(kind, n);
      const inferMs = performance.now() - t;
      t = performance.now();
      const { schedule } = partition(g, 'greedy', cost);
      const partitionMs = performance.now() - t;
      t = performance.now();
      const plan = planMemory(g, schedule);
      const planMs = performance.now() - t;
      rows.push({ graph: kind, nodes: n, inferMs, partitionMs, planMs, planUsPerNode: (planMs * 1000) / n, arenaOverLoad: plan.arenaBytes / plan.loadBytes });
    }
  }
  return rows;
}

/**
 * An exporter-style ONNX file of `n` nodes: blocks of Shape → Gather → Unsqueeze → Concat → Reshape
 * (the dynamic-reshape idiom PyTorch writes) then MatMul → Add → Relu on a [batch, 16] tensor with
 * shared weights. Import folds the first five of each block, leaving 4 IR nodes per 8.
 */
export function exporterStyleOnnx(n: number): Uint8Array {
  const A = onnx.AttributeProto.AttributeType;
  const blocks = Math.max(1, Math.floor(n / 8));
  const nodes: NodeProto[] = [];
  let h = 'x';
  for (let b = 0; b < blocks; b++) {
    const t = (s: string) => `b${b}.${s}`;
    nodes.push(
      { name: t('shape'), opType: 'Shape', input: [h], output: [t('s')] },
      { name: t('gather'), opType: 'Gather', input: [t('s'), 'zero'], output: [t('g')], attribute: [{ name: 'axis', type: A.INT, i: 0 }] },
      { name: t('unsqueeze'), opType: 'Unsqueeze', input: [t('g'), 'zero1'], output: [t('u')] },
      { name: t('concat'), opType: 'Concat', input: [t('u'), 'minus1'], output: [t('c')], attribute: [{ name: 'axis', type: A.INT, i: 0 }] },
      { name: t('reshape'), opType: 'Reshape', input: [h, t('c')], output: [t('r')] },
      { name: t('matmul'), opType: 'MatMul', input: [t('r'), 'w'], output: [t('m')] },
      { name: t('add'), opType: 'Add', input: [t('m'), 'bias'], output: [t('a')] },
      { name: t('relu'), opType: 'Relu', input: [t('a')], output: [t('h')] },
    );
    h = t('h');
  }
  const f32 = (name: string, dims: number[]) => ({
    name,
    dims,
    dataType: 1,
    floatData: Array.from({ length: dims.reduce((p, q) => p * q, 1) }, (_, i) => ((i % 7) - 3) / 16),
  });
  const i64 = (name: string, dims: number[], v: number[]) => ({ name, dims, dataType: 7, int64Data: v });
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 16 }] } } } });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: `exporter${blocks * 8}`,
      node: nodes,
      input: [vi('x')],
      output: [vi(h)],
      initializer: [f32('w', [16, 16]), f32('bias', [16]), i64('zero', [], [0]), i64('zero1', [1], [0]), i64('minus1', [1], [-1])],
    },
  }).finish();
}

export interface ImportBenchRow {
  onnxNodes: number;
  irNodes: number;
  bytes: number;
  importMs: number;
}

/** Import time of an exporter-style file of `n` ONNX nodes (shape folding included). */
export function benchImport(n = 50_000): ImportBenchRow {
  const bytes = exporterStyleOnnx(n);
  const t = performance.now();
  const g = importOnnx(bytes, 'bench.onnx');
  return { onnxNodes: Math.floor(n / 8) * 8, irNodes: g.nodes.length, bytes: bytes.length, importMs: performance.now() - t };
}
