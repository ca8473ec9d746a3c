/**
 * Shape and cost inference over a whole graph: fills every node's outShapes, MACs, FLOPs, bytes
 * and parameters, checking that every tensor a node reads exists.
 */

import { type DType, dtypeBytes, type Graph, GraphError, type Initializer, type Node, numel, type ValueInfo } from './ir.js';
import { checkAllocation, LimitError } from './limits.js';
import { isOpType, OP_RULES, type OpInput } from './ops.js';
import { sortGraph } from './topo.js';

/**
 * A tensor must have a finite, whole size within the memory limit (graphs/limits.ts): checked on
 * every inferred shape, so nothing downstream (weights, arenas, the reference evaluator) allocates
 * a tensor no machine could hold.
 */
function checkTensor(shape: readonly number[], dtype: DType, what: string): void {
  const n = numel(shape);
  if (!Number.isSafeInteger(n) || n < 0) throw new LimitError(`${what} has shape [${shape}]: ${n} elements is not a valid size`);
  checkAllocation(n * dtypeBytes(dtype), `${what} [${shape}]`);
}

/** Attributes are a mapping of numbers (not NaN), lists of numbers, strings or booleans. */
function checkAttrs(node: Node): void {
  const where = `node '${node.id}' (${node.op})`;
  const a = node.attrs as unknown;
  if (a === null || typeof a !== 'object' || Array.isArray(a)) throw new GraphError(`attrs must be a mapping, got ${JSON.stringify(a)}`, where);
  for (const [k, v] of Object.entries(node.attrs)) {
    const ok = (x: unknown) => (typeof x === 'number' && !Number.isNaN(x)) || typeof x === 'string' || typeof x === 'boolean';
    if (Array.isArray(v) ? !v.every((x) => typeof x === 'number' && !Number.isNaN(x)) : !ok(v))
      throw new GraphError(
        `attribute '${k}' must be a number, a list of numbers, a string or a boolean, got ${Array.isArray(v) ? `[${v.map(String)}]` : String(v)}`,
        where,
      );
  }
}

/** Recomputes shapes and costs in place order; returns a new graph with nodes topologically sorted. */
export function inferGraph(input: Graph): Graph {
  const graph = sortGraph(input);
  const where = `graph '${graph.name}'`;
  const known = new Map<string, OpInput>();
  for (const v of graph.inputs) {
    if (known.has(v.name)) throw new GraphError(`duplicate input '${v.name}'`, where);
    if (!Array.isArray(v.shape) || v.shape.some((d) => !Number.isInteger(d) || d <= 0))
      throw new GraphError(`input '${v.name}' has a non-static shape [${v.shape}]`, where);
    checkTensor(v.shape, v.dtype, `${where}: input '${v.name}'`);
    known.set(v.name, { shape: v.shape, dtype: v.dtype });
  }
  const inits = new Map<string, Initializer>();
  for (const init of graph.initializers) {
    if (known.has(init.name) || inits.has(init.name)) throw new GraphError(`initializer '${init.name}' is defined twice`, where);
    if (init.data && init.data.length !== numel(init.shape)) {
      throw new GraphError(`initializer '${init.name}' holds ${init.data.length} values for shape [${init.shape}]`, where);
    }
    checkTensor(init.shape, init.dtype, `${where}: initializer '${init.name}'`);
    inits.set(init.name, init);
    known.set(init.name, { shape: init.shape, dtype: init.dtype, init });
  }
  const nodes = graph.nodes.map((node) => {
    if (!isOpType(node.op)) throw new GraphError(`unsupported op '${node.op}'`, `node '${node.id}'`);
    checkAttrs(node);
    const ins = node.inputs.map((t) => {
      const v = known.get(t);
      if (!v) throw new GraphError(`reads tensor '${t}' that no input, initializer or earlier node defines`, `node '${node.id}' (${node.op})`);
      return v;
    });
    const res = OP_RULES[node.op]({ ...node }, ins);
    if (res.shapes.length !== node.outputs.length) {
      throw new GraphError(`produces ${res.shapes.length} outputs but names ${node.outputs.length}`, `node '${node.id}' (${node.op})`);
    }
    node.outputs.forEach((t, k) => {
      checkTensor(res.shapes[k], res.dtypes[k], `node '${node.id}' (${node.op}): output '${t}'`);
      if (known.has(t)) throw new GraphError(`writes tensor '${t}' that is already defined`, `node '${node.id}' (${node.op})`);
      known.set(t, { shape: res.shapes[k], dtype: res.dtypes[k] });
    });
    let bytes = 0;
    for (const v of ins) bytes += numel(v.shape) * dtypeBytes(v.dtype);
    res.shapes.forEach((s, k) => {
      bytes += numel(s) * dtypeBytes(res.dtypes[k]);
    });
    let params = 0;
    const seen = new Set<string>();
    for (const v of ins) {
      if (v.init?.trainable && !seen.has(v.init.name)) {
        seen.add(v.init.name);
        params += numel(v.init.shape);
      }
    }
    return { ...node, outShapes: res.shapes, outDtypes: res.dtypes, macs: res.macs, flops: 2 * res.macs + res.extraFlops, bytes, params };
  });
  const outputs: ValueInfo[] = graph.outputs.map((o) => {
    const v = known.get(o.name);
    if (!v) throw new GraphError(`output '${o.name}' is not produced by any node`, where);
    return { name: o.name, shape: v.shape.slice(), dtype: v.dtype };
  });
  const batch = graph.inputs[0]?.shape[0] ?? 1;
  return { ...graph, batch, nodes, outputs };
}

/**
 * The same graph at another batch size: the first dimension of every float input becomes `batch`,
 * and every shape is re-inferred. Reshape targets written with 0 (copy) or -1 (infer) follow the batch;
 * a Reshape whose first target dimension is the old batch is rescaled too.
 */
export function withBatch(graph: Graph, batch: number): Graph {
  if (!Number.isInteger(batch) || batch < 1) throw new GraphError(`batch must be a positive integer, got ${batch}`, `graph '${graph.name}'`);
  const old = graph.batch;
  const inputs = graph.inputs.map((v) => ({ ...v, shape: [batch, ...v.shape.slice(1)] }));
  const nodes = graph.nodes.map((n) => {
    if (n.op !== 'Reshape' && n.op !== 'Expand') return n;
    const shape = n.attrs.shape as number[];
    if (shape[0] !== old || old === batch) return n;
    return { ...n, attrs: { ...n.attrs, shape: [batch, ...shape.slice(1)] } };
  });
  return inferGraph({ ...graph, inputs, nodes });
}
