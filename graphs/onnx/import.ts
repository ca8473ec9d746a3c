/**
 * ONNX -> IR. Reads a ModelProto, binds the input shapes, folds every computation on constants and
 * shapes (Shape → Gather → Concat → Reshape, ConstantOfShape, Equal/Where, Cast, ...; see fold.ts)
 * and inlines each If whose condition folds, turns Squeeze/Unsqueeze on data into Reshape, folds
 * constant inputs (Reshape shape, Split sizes, Pad pads and value, Clip bounds, Resize
 * scales/sizes, Expand shape, Reduce axes, Slice ranges) into attributes, turns opset-specific
 * forms into the IR's single form (see normalize.ts), and re-infers every shape.
 *
 * Anything the IR cannot represent is an error naming the file and the node: ops outside OP_TYPES
 * that do not fold (all listed in one error), a non-default domain, a shape input or If condition
 * computed from the data, a used optional output (Dropout mask, MaxPool indices, ...), a graph
 * input other than float32/int64, or a dynamic dim that neither the batch nor an `inputShapes`
 * entry binds. Nothing is skipped silently.
 */

import { inferGraph } from '../infer.js';
import { type Attrs, type AttrValue, type Graph, GraphError, type Initializer, type Node, type OpType, type ValueInfo } from '../ir.js';
import { readFileBounded } from '../limits.js';
import { isOpType, OP_RULES, type OpInput } from '../ops.js';
import { FOLDABLE, type Folded, foldedFromProto, foldNode, squeezeShape, toFolded, toTensorValue } from './fold.js';
import { parseInputShape, parseInputValue, valueInfos } from './inputs.js';
import { type NormalizeContext, normalizeNode } from './normalize.js';
import {
  type AttributeProto,
  DT,
  irDtype,
  type ModelProto,
  type NodeProto,
  onnx,
  shortFloat,
  type TensorProto,
  type TensorValue,
  tensorFromProto,
  toNum,
} from './proto.js';
import { normalizeRecurrent } from './recurrent.js';
import { docRole, roleOf } from './roles.js';

export { parseInputShape, parseInputValue };

export interface ImportOptions {
  /** Value for a symbolic (dim_param) or zero first dimension of the graph inputs. Default 1. */
  batch?: number;
  /**
   * Full shapes of named graph inputs (`--input-shape name=d0,d1,…`). They must agree with the
   * model's fixed dims; the symbolic dims (dim_param) they bind apply to every input that shares
   * the symbol. A dynamic dim left unbound (other than dim 0, which `batch` fills) is an error naming
   * the input and the option.
   */
  inputShapes?: Record<string, number[]>;
  /**
   * Values of named graph inputs that are fixed for this deployment (`--input-value name=v0,v1,…`,
   * e.g. a sample rate): the input becomes a constant, so computations and If conditions that read
   * it fold. Its shape is the model's (bound by `inputShapes` where dynamic); the count must match.
   */
  inputValues?: Record<string, number[]>;
}

const utf8 = new TextDecoder();

/** One attribute as an IR value; graph/tensor/sparse attributes are refused (none of our ops use them). */
function attrValue(a: AttributeProto, where: string): AttrValue {
  const t = a.type ?? 0;
  switch (t) {
    case 1:
      return shortFloat(a.f ?? 0);
    case 2:
      return toNum(a.i as number);
    case 3:
      return utf8.decode(a.s ?? new Uint8Array());
    case 6:
      return (a.floats ?? []).map(shortFloat);
    case 7:
      return (a.ints ?? []).map((v) => toNum(v as number));
    case 8:
      return (a.strings ?? []).map((s) => utf8.decode(s)).join(',');
    default:
      throw new GraphError(`attribute '${a.name}' has type ${t}, which the IR cannot hold`, where);
  }
}

/** Constant node -> tensor value (value, value_float(s), value_int(s)). */
function constantValue(node: NodeProto, where: string): Folded {
  const a = node.attribute?.[0];
  if (!a || (node.attribute?.length ?? 0) !== 1) throw new GraphError('Constant must have exactly one value attribute', where);
  switch (a.name) {
    case 'value':
      if (!a.t) throw new GraphError("Constant 'value' holds no tensor", where);
      return foldedFromProto({ ...a.t, name: node.output?.[0] }, where);
    case 'value_float':
      return { shape: [], dtype: 'float32', data: Float64Array.of(Math.fround(a.f ?? 0)) };
    case 'value_floats':
      return { shape: [a.floats?.length ?? 0], dtype: 'float32', data: Float64Array.from(a.floats ?? [], Math.fround) };
    case 'value_int':
      return { shape: [], dtype: 'int64', data: Float64Array.of(toNum(a.i as number)) };
    case 'value_ints':
      return { shape: [a.ints?.length ?? 0], dtype: 'int64', data: Float64Array.from(a.ints ?? [], (v) => toNum(v as number)) };
    default:
      throw new GraphError(`Constant attribute '${a.name}' is not supported (value, value_float(s), value_int(s))`, where);
  }
}

/** Tensors a node reads, including those its subgraphs (If branches) read from outer scopes. */
function nodeReads(n: NodeProto): string[] {
  const out = (n.input ?? []).filter((t) => t);
  for (const a of n.attribute ?? []) if (a.g) for (const m of a.g.node ?? []) out.push(...nodeReads(m));
  return out;
}

/** A copy of a node with tensor names renamed (inside its subgraphs too). */
function renameNode(n: NodeProto, map: Map<string, string>): NodeProto {
  if (!map.size) return n;
  const r = (t: string) => map.get(t) ?? t;
  return {
    ...n,
    input: (n.input ?? []).map(r),
    output: (n.output ?? []).map(r),
    attribute: (n.attribute ?? []).map((a) => (a.g ? { ...a, g: { ...a.g, node: (a.g.node ?? []).map((m) => renameNode(m, map)) } } : a)),
  };
}

/** Stable topological order of the proto nodes (ONNX requires it, but not every writer complies). */
function sortNodes(nodes: NodeProto[], defined: Set<string>, where: string): NodeProto[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const t of n.output ?? []) if (t) producer.set(t, i);
  });
  const done = new Array(nodes.length).fill(false);
  const order: NodeProto[] = [];
  const state = new Array(nodes.length).fill(0);
  const visit = (i: number) => {
    if (done[i]) return;
    if (state[i] === 1) throw new GraphError(`cycle through node '${nodes[i].name || nodes[i].opType}'`, where);
    state[i] = 1;
    for (const t of nodeReads(nodes[i])) {
      if (defined.has(t)) continue;
      const p = producer.get(t);
      if (p !== undefined) visit(p);
    }
    done[i] = true;
    order.push(nodes[i]);
  };
  // Iterative outer loop, recursive only along dependency chains that are out of order.
  for (let i = 0; i < nodes.length; i++) visit(i);
  return order;
}

export function importOnnx(bytes: Uint8Array, where = '<buffer>', opts: ImportOptions = {}): Graph {
  const batch = opts.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new GraphError(`batch must be a positive integer, got ${batch}`, where);
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new GraphError(`not a valid ONNX model (protobuf decoding failed: ${(e as Error).message})`, where);
  }
  const g = model.graph;
  if (!g || !(g.node?.length || g.output?.length)) throw new GraphError('not a valid ONNX model (no graph, or a graph with no nodes and no outputs)', where);
  const opsetEntry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!opsetEntry) throw new GraphError('model imports no opset for the default ONNX domain', where);
  const opset = toNum(opsetEntry.version as number);

  // Constants by name: IR-able ones (float32/int64) in `consts`, every one as the folder sees it in
  // `folded` (initializers are converted for the folder only when a fold reads them).
  const consts = new Map<string, TensorValue>();
  const folded = new Map<string, Folded>();
  const docs = new Map<string, string>();
  const known = new Map<string, OpInput>();
  const setConst = (name: string, f: Folded) => {
    folded.set(name, f);
    const tv = toTensorValue(f);
    if (tv) consts.set(name, tv);
    else consts.delete(name);
    known.set(name, { shape: f.shape, dtype: tv?.dtype ?? 'float32' });
  };
  const foldedOf = (t: string): Folded | undefined => {
    let f = folded.get(t);
    const c = consts.get(t);
    if (!f && c) folded.set(t, (f = toFolded(c)));
    return f;
  };
  const addInitializer = (t: TensorProto, scope: string) => {
    if (!t.name) throw new GraphError(`an initializer${scope} has no name`, where);
    if (known.has(t.name)) throw new GraphError(`initializer '${t.name}'${scope} is defined twice`, where);
    if (irDtype(t.dataType ?? 0)) {
      const c = tensorFromProto(t, where);
      consts.set(t.name, c);
      known.set(t.name, { shape: c.shape, dtype: c.dtype });
    } else setConst(t.name, foldedFromProto(t, where));
    if (t.docString) docs.set(t.name, t.docString);
  };
  for (const t of g.initializer ?? []) addInitializer(t, '');
  const weights = new Set((g.initializer ?? []).filter((t) => t.dataType === DT.FLOAT).map((t) => t.name ?? ''));
  // Before IR version 4 initializers were also listed as inputs; those are not real inputs.
  const inputs = valueInfos(
    (g.input ?? []).filter((v) => !consts.has(v.name ?? '') && !folded.has(v.name ?? '')),
    batch,
    opts.batch !== undefined,
    opts.inputShapes ?? {},
    where,
  );
  for (const [name, values] of Object.entries(opts.inputValues ?? {})) {
    const v = inputs.find((i) => i.name === name);
    if (!v) throw new GraphError(`--input-value names '${name}', which is not a graph input (inputs: ${inputs.map((i) => i.name).join(', ')})`, where);
    const n = v.shape.reduce((a, b) => a * b, 1);
    if (values.length !== n) throw new GraphError(`--input-value ${name} gives ${values.length} values; the input [${v.shape}] holds ${n}`, where);
    if (v.dtype === 'int64' && values.some((x) => !Number.isSafeInteger(x)))
      throw new GraphError(`--input-value ${name}: an int64 input takes integers, got ${values}`, where);
    setConst(name, { shape: v.shape, dtype: v.dtype, data: Float64Array.from(values, (x) => (v.dtype === 'float32' ? Math.fround(x) : x)) });
    inputs.splice(inputs.indexOf(v), 1);
  }
  for (const v of inputs) known.set(v.name, { shape: v.shape, dtype: v.dtype });

  const protoNodes = sortNodes(g.node ?? [], new Set(known.keys()), where);
  // Every tensor something reads (subgraphs included), so unused optional outputs can be dropped.
  const read = new Set<string>((g.output ?? []).map((o) => o.name ?? ''));
  for (const t of protoNodes.flatMap(nodeReads)) read.add(t);

  const ids = new Set<string>();
  const counters = new Map<string, number>();
  const uniqueId = (name: string | null | undefined, op: string): string => {
    let id = name || '';
    if (!id || ids.has(id)) {
      const base = name || op.toLowerCase();
      let k = counters.get(base) ?? 0;
      do id = `${base}_${++k}`;
      while (ids.has(id));
      counters.set(base, k);
    }
    ids.add(id);
    return id;
  };

  // Every unsupported op at once (count and first node of each, If branches included).
  const missing = new Map<string, { count: number; first: string }>();
  const survey = (list: NodeProto[]) => {
    for (const pn of list) {
      for (const a of pn.attribute ?? []) if (a.g) survey(a.g.node ?? []);
      const op = pn.opType ?? '';
      const domain = pn.domain ?? '';
      const foreign = domain && domain !== 'ai.onnx';
      if (!foreign && (op === 'Constant' || op === 'If' || FOLDABLE.has(op) || isOpType(op === 'Dropout' ? 'Identity' : op))) continue;
      const key = foreign ? `${domain}::${op}` : op;
      const m = missing.get(key);
      if (m) m.count++;
      else missing.set(key, { count: 1, first: pn.name || pn.output?.[0] || '?' });
    }
  };
  survey(protoNodes);
  if (missing.size) {
    const list = [...missing.entries()].map(([op, m]) => `${op} ×${m.count} (first: node '${m.first}')`);
    throw new GraphError(`unsupported ops: ${list.join(', ')}`, where);
  }

  const nodes: Node[] = [];
  /** Adds an IR node whose inputs and attributes are already in IR form, and infers its shapes. */
  const emit = (irOp: OpType, name: string | null | undefined, ins: string[], outs: string[], attrs: Attrs, nodeWhere: string) => {
    const node: Node = {
      id: uniqueId(name, irOp),
      op: irOp,
      inputs: ins,
      outputs: outs,
      attrs,
      outShapes: [],
      outDtypes: [],
      macs: 0,
      flops: 0,
      bytes: 0,
      params: 0,
    };
    const opIns = node.inputs.map((t) => {
      const v = known.get(t);
      if (!v) throw new GraphError(`reads tensor '${t}' that no input, initializer or node defines`, nodeWhere);
      if (folded.has(t) && !consts.has(t))
        throw new GraphError(`reads '${t}', a ${folded.get(t)?.dtype} constant; the IR computes with float32 and int64 only`, nodeWhere);
      return consts.has(t) ? { ...v, init: { name: t, shape: v.shape, dtype: v.dtype, trainable: false, role: 'const' as const } } : v;
    });
    // Shapes now, so later nodes can resolve auto_pad, sizes, default axes and fold Shape.
    let res: ReturnType<(typeof OP_RULES)[typeof irOp]>;
    try {
      res = OP_RULES[irOp](node, opIns);
    } catch (e) {
      throw new GraphError((e as Error).message, where);
    }
    node.outputs.forEach((t, k) => {
      known.set(t, { shape: res.shapes[k], dtype: res.dtypes[k] });
    });
    nodes.push(node);
  };

  /** A tensor's shape, or an error naming the node that reads an undefined one. */
  const shapeKnown = (t: string, nodeWhere: string): number[] => {
    const v = known.get(t);
    if (!v) throw new GraphError(`reads tensor '${t}' that nothing defines`, nodeWhere);
    return v.shape;
  };
  /** A tensor name no tensor has yet (nor any node reads), derived from `base`. */
  const freshName = (base: string) => {
    let name = base;
    for (let k = 1; known.has(name) || read.has(name); k++) name = `${base}_${k}`;
    return name;
  };

  const lower = (pn: NodeProto, attrOverride?: Attrs) => {
    const op = pn.opType ?? '';
    const label = `node '${pn.name || pn.output?.[0] || '?'}' (${op})`;
    const nodeWhere = `${where}: ${label}`;
    const fail = (m: string): never => {
      throw new GraphError(m, nodeWhere);
    };
    const inputs = [...(pn.input ?? [])];
    const outputs = [...(pn.output ?? [])];
    if (op === 'Constant') {
      if (!outputs[0]) fail('Constant has no output');
      setConst(outputs[0], constantValue(pn, nodeWhere));
      return;
    }
    if (op === 'If') {
      inlineIf(pn, nodeWhere);
      return;
    }
    const rawAttrs: Attrs = {};
    // Tensor attributes (ConstantOfShape's value) are read by the folder from the proto itself.
    for (const a of pn.attribute ?? []) rawAttrs[a.name ?? ''] = a.t && FOLDABLE.has(op) ? 0 : attrValue(a, nodeWhere);
    if (attrOverride) Object.assign(rawAttrs, attrOverride);
    // Compute ops on the file's float initializers (weights) stay nodes: they are the model's
    // parameters, and the IR counts and schedules them; derived and integer constants fold.
    if (FOLDABLE.has(op) && !(isOpType(op) && inputs.some((t) => weights.has(t)))) {
      const ins = inputs.map((t) => (t ? foldedOf(t) : undefined));
      const outs = foldNode(op, inputs, ins, rawAttrs, pn.attribute ?? [], { opset, where: nodeWhere, shape: (t) => known.get(t)?.shape });
      if (outs) {
        outputs.forEach((t, k) => {
          if (t && outs[k]) setConst(t, outs[k]);
        });
        return;
      }
    }
    const shapeOf = (t: string) => shapeKnown(t, nodeWhere);
    if (op === 'Squeeze' || op === 'Unsqueeze') {
      // On computed data both are reshapes; their axes must be constant.
      let axes = (rawAttrs.axes as number[] | undefined) ?? [];
      if (inputs[1]) {
        const c = foldedOf(inputs[1]);
        if (!c) fail(`axes ('${inputs[1]}') must fold to a constant`);
        axes = Array.from((c as Folded).data);
      }
      const shape = squeezeShape(op, shapeOf(inputs[0]), axes, fail);
      emit('Reshape', pn.name, [inputs[0]], [outputs[0]], { shape }, nodeWhere);
      return;
    }
    if (op === 'Cast' && known.get(inputs[0])?.dtype === 'float32' && rawAttrs.to === DT.FLOAT) {
      emit('Identity', pn.name, [inputs[0]], [outputs[0]], {}, nodeWhere);
      return;
    }
    if ((op === 'Conv' || op === 'MaxPool' || op === 'AveragePool') && shapeOf(inputs[0]).length === 3) {
      lowerOneDimensional(pn, inputs, outputs, rawAttrs, nodeWhere);
      return;
    }
    if (op === 'LSTM' || op === 'GRU') {
      const form = normalizeRecurrent(op, inputs, outputs, rawAttrs, {
        where: nodeWhere,
        shape: shapeOf,
        constant: foldedOf,
        fresh: freshName,
      });
      for (const c of form.constants) setConst(c.name, c.value);
      emit(op, pn.name, form.inputs, form.outputs, form.attrs, nodeWhere);
      return;
    }
    const irOp = op === 'Dropout' ? 'Identity' : op;
    if (!isOpType(irOp)) {
      const computed = inputs.filter((t) => t && !foldedOf(t));
      return fail(
        `'${op}' reads computed tensors (${computed.map((t) => `'${t}'`).join(', ')}); the importer folds it only when every input is a constant, given the input shapes`,
      );
    }
    const ctx: NormalizeContext = { opset, where: nodeWhere, shape: shapeOf, constant: (t) => consts.get(t) };
    const norm = normalizeNode(op, inputs, rawAttrs, ctx);
    while (outputs.length && !outputs[outputs.length - 1]) outputs.pop();
    if (outputs.some((t) => !t) && irOp !== 'Split') fail('has an empty output name before a used one');
    const keep = irOp === 'Split' ? outputs.length : 1;
    outputs.slice(keep).forEach((t, k) => {
      if (read.has(t)) fail(`optional output ${keep + k} ('${t}') is used, which the IR cannot represent`);
    });
    emit(irOp, pn.name, norm.inputs, outputs.slice(0, keep), norm.attrs, nodeWhere);
  };

  /**
   * A 1-D Conv / pool (input [N, C, L]) as its 2-D form on a height-1 view: reshape to [N, C, 1, L],
   * the window attributes with a leading 1 (pads [0, begin, 0, end]), a [O, I, 1, k] view of a
   * constant weight, and a reshape of the result back to 3-D under the original name.
   */
  const lowerOneDimensional = (pn: NodeProto, inputs: string[], outputs: string[], attrs: Attrs, nodeWhere: string) => {
    const [n, c, l] = shapeKnown(inputs[0], nodeWhere);
    const x4 = freshName(`${inputs[0]}.as2d`);
    emit('Reshape', `${pn.name || outputs[0]}/to2d`, [inputs[0]], [x4], { shape: [n, c, 1, l] }, nodeWhere);
    const a: Attrs = { ...attrs };
    const lead = (k: string, v: number) => {
      if (Array.isArray(a[k])) a[k] = [v, ...(a[k] as number[])];
    };
    lead('kernel_shape', 1);
    lead('strides', 1);
    lead('dilations', 1);
    if (Array.isArray(a.pads)) {
      const [b, e] = a.pads as number[];
      a.pads = [0, b, 0, e];
    }
    const ins = [x4, ...inputs.slice(1)];
    if (pn.opType === 'Conv') {
      const w = foldedOf(inputs[1]);
      if (!w) throw new GraphError(`a 1-D Conv needs a constant weight ('${inputs[1]}')`, nodeWhere);
      const w4 = freshName(`${inputs[1]}.as2d`);
      setConst(w4, { ...w, shape: [w.shape[0], w.shape[1], 1, w.shape[2]] });
      if (weights.has(inputs[1])) weights.add(w4);
      ins[1] = w4;
    }
    const y4 = freshName(`${outputs[0]}.as2d`);
    lower(
      {
        ...pn,
        input: ins,
        output: [y4, ...outputs.slice(1)],
        attribute: (pn.attribute ?? []).filter((x) => !['kernel_shape', 'strides', 'dilations', 'pads'].includes(x.name ?? '')),
      },
      a,
    );
    const y = shapeKnown(y4, nodeWhere);
    emit('Reshape', `${pn.name || outputs[0]}/to1d`, [y4], [outputs[0]], { shape: [y[0], y[1], y[3]] }, nodeWhere);
  };

  /** An If whose condition folds: the taken branch's nodes join the graph, its outputs renamed. */
  const inlineIf = (pn: NodeProto, nodeWhere: string) => {
    const condName = pn.input?.[0] ?? '';
    const cond = foldedOf(condName);
    if (!cond)
      throw new GraphError(
        `the condition '${condName}' is computed from the graph's inputs; only an If whose condition folds to a constant (once the input shapes are known) can be imported`,
        nodeWhere,
      );
    if (cond.data.length !== 1) throw new GraphError(`the condition has ${cond.data.length} values, expected one`, nodeWhere);
    const branchName = cond.data[0] ? 'then_branch' : 'else_branch';
    const branch = pn.attribute?.find((a) => a.name === branchName)?.g;
    if (!branch) throw new GraphError(`has no '${branchName}' graph`, nodeWhere);
    for (const t of branch.initializer ?? []) addInitializer(t, ` of ${branchName}`);
    const outs = (branch.output ?? []).map((o) => o.name ?? '');
    const ifOuts = pn.output ?? [];
    if (outs.length !== ifOuts.length) throw new GraphError(`${branchName} has ${outs.length} outputs, the If ${ifOuts.length}`, nodeWhere);
    const produced = new Set((branch.node ?? []).flatMap((n) => n.output ?? []));
    const rename = new Map<string, string>();
    outs.forEach((o, k) => {
      if (produced.has(o) && ifOuts[k] && !rename.has(o)) rename.set(o, ifOuts[k]);
    });
    const branchNodes = (branch.node ?? []).map((n) => renameNode(n, rename));
    for (const n of sortNodes(branchNodes, new Set(known.keys()), nodeWhere)) lower(n);
    outs.forEach((o, k) => {
      const target = ifOuts[k];
      if (!target || rename.get(o) === target) return;
      const c = foldedOf(rename.get(o) ?? o);
      if (c) setConst(target, c);
      else emit('Identity', `${pn.name || 'if'}/${branchName}/${k}`, [rename.get(o) ?? o], [target], {}, nodeWhere);
    });
  };

  for (const pn of protoNodes) lower(pn);

  // Initializers that nodes still read (folded ones drop out), with roles from their first use.
  const used = new Set<string>((g.output ?? []).map((o) => o.name ?? ''));
  for (const n of nodes) for (const t of n.inputs) used.add(t);
  const initializers: Initializer[] = [];
  const byName = new Map<string, Initializer>();
  for (const [name, c] of consts) {
    if (!used.has(name)) continue;
    const init: Initializer = { name, shape: c.shape, dtype: c.dtype, trainable: false, role: 'const', data: c.data };
    initializers.push(init);
    byName.set(name, init);
  }
  const assigned = new Set<string>();
  for (const [name, doc] of docs) {
    const r = docRole(doc);
    const init = byName.get(name);
    if (r && init) {
      Object.assign(init, r);
      assigned.add(name);
    }
  }
  for (const n of nodes) {
    n.inputs.forEach((t, pos) => {
      const init = byName.get(t);
      if (!init || assigned.has(t)) return;
      assigned.add(t);
      const r = roleOf(n.op, pos, init);
      if (r) Object.assign(init, r);
    });
  }

  const outputs: ValueInfo[] = (g.output ?? []).map((o) => {
    const v = known.get(o.name ?? '');
    if (!v) throw new GraphError(`graph output '${o.name}' is not produced by any node`, where);
    return { name: o.name ?? '', shape: v.shape, dtype: v.dtype };
  });
  // A shape given for the first input sets the graph's batch (unless --batch says otherwise).
  const first = inputs[0];
  const graphBatch = opts.batch === undefined && first && opts.inputShapes?.[first.name] && first.shape.length ? first.shape[0] : batch;
  const graph: Graph = { name: g.name || where, batch: graphBatch, inputs, outputs, nodes, initializers };
  try {
    return inferGraph(graph);
  } catch (e) {
    throw new GraphError((e as Error).message, where);
  }
}

/** Reads and imports an .onnx file; every error names the file. */
export function loadOnnxFile(path: string, opts: ImportOptions = {}): Graph {
  return importOnnx(readFileBounded(path, 'ONNX model'), path, opts);
}
