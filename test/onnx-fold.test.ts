/**
 * Import-time folding of the shape computations exporters emit (Shape, Gather, Unsqueeze, Concat,
 * ConstantOfShape, Equal/Where, Range, Cast, Slice, ...) and inlining of If with a folded
 * condition: the imported graph holds only compute ops, and computes what onnxruntime computes on
 * the original file.
 */
import { describe, expect, it } from 'vitest';
import { benchImport, exporterStyleOnnx } from '../graphs/bench.js';
import { importOnnx } from '../graphs/onnx/import.js';
import { evaluate } from '../graphs/reference.js';
import { randomInputs } from '../graphs/weights.js';
import { A, ai, ais, expectGraphError, modelBytes, relErr, runOrt, tensorProto, uniform, vi } from './onnx-helpers.js';

const i64 = (name: string, values: number[], dims = [values.length]) => tensorProto(name, dims, values, true);
const tensorAttr = (name: string, t: ReturnType<typeof tensorProto>) => ({ name, type: A.TENSOR, t });
const graphAttr = (name: string, nodes: object[], outputs: ReturnType<typeof vi>[]) => ({
  name,
  type: A.GRAPH,
  g: { name, node: nodes, output: outputs },
});

/**
 * x [N, seq, 8] → reshape to [N·seq, 8] with a shape computed from Shape(x); a mask made by
 * ConstantOfShape / Range / Less / Where / Cast; a Slice whose end is Shape(x)[1] − 1 with an
 * INT64_MAX sentinel on another axis; Squeeze/Unsqueeze on data; an If on the static feature size.
 */
function shapeModel(opset = 13): Uint8Array {
  return modelBytes({
    opset,
    inputs: [vi('x', ['N', 'seq', 8])],
    outputs: [vi('y', ['M', 8]), vi('z', ['N', 'S', 4]), vi('w', ['N', 'seq', 8])],
    inits: [tensorProto('wt', [8, 8], uniform(64, 'wt')), i64('zero', [0]), i64('one', [1]), i64('minus1', [-1]), i64('big', [2 ** 53])],
    nodes: [
      { name: 'shape', opType: 'Shape', input: ['x'], output: ['s'] },
      { name: 'n', opType: 'Gather', input: ['s', 'zero'], output: ['n1'], attribute: [ai('axis', 0)] },
      { name: 'seq', opType: 'Gather', input: ['s', 'one'], output: ['q1'], attribute: [ai('axis', 0)] },
      { name: 'nq', opType: 'Mul', input: ['n1', 'q1'], output: ['nq'] },
      { name: 'eight', opType: 'Constant', input: [], output: ['c8'], attribute: [tensorAttr('value', i64('', [8]))] },
      { name: 'cat', opType: 'Concat', input: ['nq', 'c8'], output: ['target'], attribute: [ai('axis', 0)] },
      { name: 'flat', opType: 'Reshape', input: ['x', 'target'], output: ['f'] },
      { name: 'mm', opType: 'MatMul', input: ['f', 'wt'], output: ['mmo'] },
      // A mask over the 8 features: Range(0, 8) < 5, as float, multiplied in.
      { name: 'r0', opType: 'Constant', input: [], output: ['r0'], attribute: [tensorAttr('value', i64('', [0], []))] },
      { name: 'rd', opType: 'Constant', input: [], output: ['rd'], attribute: [tensorAttr('value', i64('', [1], []))] },
      { name: 'r8', opType: 'Squeeze', input: ['c8', ...(opset >= 13 ? ['zero'] : [])], output: ['r8'], attribute: opset >= 13 ? [] : [ais('axes', [0])] },
      { name: 'range', opType: 'Range', input: ['r0', 'r8', 'rd'], output: ['idx'] },
      { name: 'five', opType: 'ConstantOfShape', input: ['one'], output: ['five'], attribute: [tensorAttr('value', i64('', [5]))] },
      { name: 'less', opType: 'Less', input: ['idx', 'five'], output: ['keep'] },
      { name: 'ones', opType: 'ConstantOfShape', input: ['c8'], output: ['ones'], attribute: [tensorAttr('value', tensorProto('', [1], [1]))] },
      { name: 'zeros', opType: 'ConstantOfShape', input: ['c8'], output: ['zeros'] },
      { name: 'where', opType: 'Where', input: ['keep', 'ones', 'zeros'], output: ['maskf'] },
      { name: 'cast', opType: 'Cast', input: ['maskf'], output: ['mask'], attribute: [ai('to', 1)] },
      { name: 'masked', opType: 'Mul', input: ['mmo', 'mask'], output: ['y'] },
      // Slice: seq axis to Shape(x)[1] − 1, features 2..INT64_MAX by 2 (a sentinel end).
      { name: 'qm1', opType: 'Add', input: ['q1', 'minus1'], output: ['qm1'] },
      { name: 'st', opType: 'Concat', input: ['zero', 'one'], output: ['starts'], attribute: [ai('axis', 0)] },
      { name: 'two', opType: 'Constant', input: [], output: ['two'], attribute: [tensorAttr('value', i64('', [2]))] },
      { name: 'ax', opType: 'Concat', input: ['one', 'two'], output: ['axes'], attribute: [ai('axis', 0)] },
      { name: 'en', opType: 'Concat', input: ['qm1', 'big'], output: ['ends'], attribute: [ai('axis', 0)] },
      { name: 'steps', opType: 'Concat', input: ['one', 'two'], output: ['steps'], attribute: [ai('axis', 0)] },
      { name: 'slice', opType: 'Slice', input: ['x', 'starts', 'ends', 'axes', 'steps'], output: ['sl'] },
      { name: 'unsq', opType: 'Unsqueeze', input: ['sl', ...(opset >= 13 ? ['zero'] : [])], output: ['u'], attribute: opset >= 13 ? [] : [ais('axes', [0])] },
      { name: 'sq', opType: 'Squeeze', input: ['u', ...(opset >= 13 ? ['zero'] : [])], output: ['z'], attribute: opset >= 13 ? [] : [ais('axes', [0])] },
      // If the feature size is 8 (it is), Relu; else Neg.
      { name: 'feat', opType: 'Gather', input: ['s', 'two'], output: ['f8'], attribute: [ai('axis', 0)] },
      { name: 'is8', opType: 'Equal', input: ['f8', 'c8'], output: ['cond'] },
      {
        name: 'if',
        opType: 'If',
        input: ['cond'],
        output: ['w'],
        attribute: [
          graphAttr('then_branch', [{ name: 'relu', opType: 'Relu', input: ['x'], output: ['t_out'] }], [vi('t_out', ['N', 'seq', 8])]),
          graphAttr('else_branch', [{ name: 'neg', opType: 'Neg', input: ['x'], output: ['e_out'] }], [vi('e_out', ['N', 'seq', 8])]),
        ],
      },
    ],
  });
}

describe('shape computations fold away at import', () => {
  it('leaves only compute ops and agrees with onnxruntime on the original file (opsets 11 and 13)', async () => {
    for (const opset of [11, 13]) {
      const bytes = shapeModel(opset);
      const g = importOnnx(bytes, 'shape.onnx', { inputShapes: { x: [2, 5, 8] } });
      expect(g.nodes.map((n) => n.op)).toEqual(['Reshape', 'MatMul', 'Mul', 'Slice', 'Reshape', 'Reshape', 'Relu']);
      const byId = new Map(g.nodes.map((n) => [n.id, n]));
      expect(byId.get('flat')?.attrs).toEqual({ shape: [10, 8] });
      expect(byId.get('slice')?.attrs).toEqual({ starts: [0, 1], ends: [4, 8], axes: [1, 2], steps: [1, 2] });
      expect(byId.get('relu')?.outputs).toEqual(['w']);
      expect(g.outputs.map((o) => [o.name, o.shape])).toEqual([
        ['y', [10, 8]],
        ['z', [2, 4, 4]],
        ['w', [2, 5, 8]],
      ]);
      const inputs = randomInputs(g, 3);
      const orig = await runOrt(bytes, g, inputs);
      const ref = evaluate(g, inputs);
      for (const name of ['y', 'z', 'w'])
        expect(relErr(ref.get(name) as Float32Array, orig.get(name)?.data as Float32Array), `${name} at opset ${opset}`).toBeLessThan(1e-5);
    }
  });

  it('the import bench file (the dynamic-reshape idiom, repeated) folds to 4 IR nodes per 8 and computes what onnxruntime computes', async () => {
    const bytes = exporterStyleOnnx(80);
    const g = importOnnx(bytes, 'bench.onnx', { batch: 3 });
    expect(g.nodes.length).toBe(40);
    expect(new Set(g.nodes.map((n) => n.op))).toEqual(new Set(['Reshape', 'MatMul', 'Add', 'Relu']));
    const inputs = randomInputs(g, 1);
    const orig = await runOrt(bytes, g, inputs);
    const out = g.outputs[0].name;
    expect(relErr(evaluate(g, inputs).get(out) as Float32Array, orig.get(out)?.data as Float32Array)).toBeLessThan(1e-5);
    expect(benchImport(800)).toMatchObject({ onnxNodes: 800, irNodes: 400 });
  });

  it('another input shape folds to another graph', () => {
    const g = importOnnx(shapeModel(), 'shape.onnx', { inputShapes: { x: [1, 3, 8] } });
    expect(g.nodes.find((n) => n.id === 'flat')?.attrs).toEqual({ shape: [3, 8] });
    expect(g.outputs[1].shape).toEqual([1, 2, 4]);
  });

  it('an If whose condition depends on data, and a shape computed from data, are errors naming the node', () => {
    const x = vi('x', [1, 4]);
    const dataIf = modelBytes({
      opset: 13,
      inputs: [x],
      outputs: [vi('y', [1, 4])],
      inits: [tensorProto('zero', [], [0])],
      nodes: [
        { name: 'red', opType: 'ReduceSum', input: ['x'], output: ['s'], attribute: [ai('keepdims', 0)] },
        { name: 'gt', opType: 'Greater', input: ['s', 'zero'], output: ['c'] },
        {
          name: 'branchy',
          opType: 'If',
          input: ['c'],
          output: ['y'],
          attribute: [
            graphAttr('then_branch', [{ name: 'a', opType: 'Relu', input: ['x'], output: ['ta'] }], [vi('ta', [1, 4])]),
            graphAttr('else_branch', [{ name: 'b', opType: 'Neg', input: ['x'], output: ['tb'] }], [vi('tb', [1, 4])]),
          ],
        },
      ],
    });
    expectGraphError(() => importOnnx(dataIf, 'if.onnx'), 'if.onnx', "node 'gt' (Greater)", "reads computed tensors ('s')");
    const reshapeByData = modelBytes({
      opset: 13,
      inputs: [x, vi('shape', [2], 7)],
      outputs: [vi('y', [4, 1])],
      nodes: [{ name: 'rs', opType: 'Reshape', input: ['x', 'shape'], output: ['y'] }],
    });
    expectGraphError(() => importOnnx(reshapeByData, 'rs.onnx'), 'rs.onnx', "node 'rs' (Reshape)", "input 1 (shape, 'shape') must be a constant");
  });

  it('1-D Conv and pooling run as their 2-D forms; --input-value makes an input a constant that folds', async () => {
    const bytes = modelBytes({
      opset: 13,
      inputs: [vi('x', [1, 2, 16]), vi('sr', [], 7)],
      outputs: [vi('y', [1, 3, 4])],
      inits: [tensorProto('w', [3, 2, 3], uniform(18, 'w1d')), tensorProto('b', [3], uniform(3, 'b1d')), i64('k16', [16000], [])],
      nodes: [
        { name: 'conv1d', opType: 'Conv', input: ['x', 'w', 'b'], output: ['c'], attribute: [ais('pads', [1, 1]), ais('strides', [2]), ais('dilations', [1])] },
        { name: 'pool1d', opType: 'MaxPool', input: ['c'], output: ['p'], attribute: [ais('kernel_shape', [2]), ais('strides', [2])] },
        { name: 'is16k', opType: 'Equal', input: ['sr', 'k16'], output: ['cond'] },
        {
          name: 'by_rate',
          opType: 'If',
          input: ['cond'],
          output: ['y'],
          attribute: [
            graphAttr('then_branch', [{ name: 'relu', opType: 'Relu', input: ['p'], output: ['t'] }], [vi('t', [1, 3, 4])]),
            graphAttr('else_branch', [{ name: 'neg', opType: 'Neg', input: ['p'], output: ['e'] }], [vi('e', [1, 3, 4])]),
          ],
        },
      ],
    });
    expectGraphError(() => importOnnx(bytes, 'sr.onnx'), "reads computed tensors ('sr')");
    expectGraphError(() => importOnnx(bytes, 'sr.onnx', { inputValues: { rate: [1] } }), "--input-value names 'rate', which is not a graph input");
    expectGraphError(() => importOnnx(bytes, 'sr.onnx', { inputValues: { sr: [1, 2] } }), '--input-value sr gives 2 values; the input [] holds 1');
    for (const rate of [16000, 8000]) {
      const g = importOnnx(bytes, 'sr.onnx', { inputValues: { sr: [rate] } });
      expect(g.inputs.map((v) => v.name)).toEqual(['x']);
      expect(g.nodes.map((n) => n.op)).toEqual(['Reshape', 'Conv', 'Reshape', 'Reshape', 'MaxPool', 'Reshape', rate === 16000 ? 'Relu' : 'Neg']);
      const inputs = randomInputs(g, 2);
      const orig = await runOrt(
        bytes,
        { ...g, inputs: [...g.inputs, { name: 'sr', shape: [], dtype: 'int64' }] },
        new Map([...inputs, ['sr', BigInt64Array.of(BigInt(rate))]]),
      );
      expect(relErr(evaluate(g, inputs).get('y') as Float32Array, orig.get('y')?.data as Float32Array)).toBeLessThan(1e-5);
    }
  });

  it('a bool or int32 constant reaching a compute op is refused, naming the tensor', () => {
    const bytes = modelBytes({
      opset: 13,
      inputs: [vi('x', [1, 3])],
      outputs: [vi('y', [1, 3])],
      inits: [tensorProto('b', [3], [1, 2, 3])],
      nodes: [
        { name: 'eq', opType: 'Equal', input: ['b', 'b'], output: ['m'] },
        { name: 'add', opType: 'Add', input: ['x', 'm'], output: ['y'] },
      ],
    });
    expectGraphError(() => importOnnx(bytes, 'b.onnx'), "node 'add' (Add)", "reads 'm', a bool constant");
  });
});
