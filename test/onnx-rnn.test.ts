/**
 * Recurrent ops as exporters write them: LSTM (bidirectional, peepholes, bias and initial states
 * missing or given, an unused Y_c) and GRU (both linear_before_reset forms, reverse) imported from
 * hand-built ONNX files, evaluated by the reference and run on the native CPU backend, against
 * onnxruntime on the original file. What the IR cannot express is an error naming it.
 */
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../graphs/onnx/import.js';
import type { NodeProto, TensorProto } from '../graphs/onnx/proto.js';
import { evaluate } from '../graphs/reference.js';
import { sequentialSchedule } from '../graphs/schedule.js';
import { randomInputs } from '../graphs/weights.js';
import { NativeExecutor, nativeAvailable } from '../native/index.js';
import { A, ai, astr, expectGraphError, modelBytes, relErr, runOrt, tensorProto, uniform, vi } from './onnx-helpers.js';

const SEQ = 5;
const BATCH = 2;
const IN = 3;
const H = 4;

function rnnModel(
  op: 'LSTM' | 'GRU',
  o: { dirs: 1 | 2; direction: string; bias: boolean; initial: boolean; peephole?: boolean; lbr?: number; outputs: string[] },
) {
  const g = op === 'LSTM' ? 4 : 3;
  const d = o.dirs;
  const inits: TensorProto[] = [
    tensorProto('W', [d, g * H, IN], uniform(d * g * H * IN, `${op}W`)),
    tensorProto('R', [d, g * H, H], uniform(d * g * H * H, `${op}R`)),
  ];
  const inputs = ['x', 'W', 'R', '', '', '', '', ''];
  if (o.bias) {
    inits.push(tensorProto('B', [d, 2 * g * H], uniform(d * 2 * g * H, `${op}B`)));
    inputs[3] = 'B';
  }
  if (o.initial) {
    inits.push(tensorProto('h0', [d, BATCH, H], uniform(d * BATCH * H, `${op}h`)));
    inputs[5] = 'h0';
    if (op === 'LSTM') {
      inits.push(tensorProto('c0', [d, BATCH, H], uniform(d * BATCH * H, `${op}c`)));
      inputs[6] = 'c0';
    }
  }
  if (o.peephole) {
    inits.push(tensorProto('P', [d, 3 * H], uniform(d * 3 * H, `${op}P`)));
    inputs[7] = 'P';
  }
  while (inputs.length && !inputs[inputs.length - 1]) inputs.pop();
  const attribute = [ai('hidden_size', H), astr('direction', o.direction), ...(o.lbr !== undefined ? [ai('linear_before_reset', o.lbr)] : [])];
  const node: NodeProto = { name: `${op.toLowerCase()}_0`, opType: op, input: inputs, output: o.outputs, attribute };
  // A consumer of Y, as an exporter writes one: Y [seq, dirs, batch, H] → Squeeze-free Transpose.
  const outs = o.outputs.filter(Boolean);
  return modelBytes({
    opset: 14,
    inputs: [vi('x', [SEQ, BATCH, IN])],
    outputs: outs.map((n, k) => vi(n, k === 0 ? [SEQ, d, BATCH, H] : [d, BATCH, H])),
    inits,
    nodes: [node],
  });
}

const CASES: [string, () => Uint8Array][] = [
  [
    'LSTM bidirectional, peepholes, bias, no initial state, Y_c unused',
    () => rnnModel('LSTM', { dirs: 2, direction: 'bidirectional', bias: true, initial: false, peephole: true, outputs: ['y', 'y_h'] }),
  ],
  [
    'LSTM reverse, initial states, no bias',
    () => rnnModel('LSTM', { dirs: 1, direction: 'reverse', bias: false, initial: true, outputs: ['y', 'y_h', 'y_c'] }),
  ],
  [
    'GRU forward, linear_before_reset 1, initial state',
    () => rnnModel('GRU', { dirs: 1, direction: 'forward', bias: true, initial: true, lbr: 1, outputs: ['y', 'y_h'] }),
  ],
  [
    'GRU bidirectional, linear_before_reset 0',
    () => rnnModel('GRU', { dirs: 2, direction: 'bidirectional', bias: true, initial: false, lbr: 0, outputs: ['y', 'y_h'] }),
  ],
];

describe('LSTM and GRU', () => {
  for (const [name, make] of CASES) {
    it(`${name}: reference and native CPU equal onnxruntime on the original file`, async () => {
      const bytes = make();
      const g = importOnnx(bytes, 'rnn.onnx');
      expect(g.nodes.map((n) => n.op)).toEqual([name.slice(0, name.indexOf(' '))]);
      const inputs = randomInputs(g, 5);
      const orig = await runOrt(bytes, g, inputs);
      const ref = evaluate(g, inputs);
      for (const o of g.outputs)
        expect(relErr(ref.get(o.name) as Float32Array, orig.get(o.name)?.data as Float32Array), `reference ${o.name}`).toBeLessThan(1e-5);
      if (!nativeAvailable()) return;
      const ex = new NativeExecutor({ streams: 1, opThreads: 2 });
      try {
        const model = await ex.loadModel(g);
        const r = await ex.run([{ model, schedule: sequentialSchedule(g), inputs: Object.fromEntries(inputs) }], { outputs: true });
        for (const o of g.outputs)
          expect(relErr(r.tasks[0].outputs?.[o.name] as Float32Array, orig.get(o.name)?.data as Float32Array), `native ${o.name}`).toBeLessThan(1e-5);
      } finally {
        ex.close();
      }
    });
  }

  it('what the IR cannot express is an error naming the node and the attribute', () => {
    const base = (extra: object[], inputs = ['x', 'W', 'R']) =>
      modelBytes({
        opset: 14,
        inputs: [vi('x', [SEQ, BATCH, IN])],
        outputs: [vi('y', [SEQ, 1, BATCH, H])],
        inits: [
          tensorProto('W', [1, 4 * H, IN], uniform(4 * H * IN, 'w')),
          tensorProto('R', [1, 4 * H, H], uniform(4 * H * H, 'r')),
          tensorProto('lens', [BATCH], [SEQ, 3], true),
        ],
        nodes: [{ name: 'rnn', opType: 'LSTM', input: inputs, output: ['y'], attribute: [ai('hidden_size', H), ...extra] }],
      });
    expectGraphError(() => importOnnx(base([ai('layout', 1)]), 'l.onnx'), "node 'rnn' (LSTM)", 'layout 1');
    expectGraphError(() => importOnnx(base([{ name: 'clip', type: A.FLOAT, f: 3 }]), 'c.onnx'), "attribute 'clip' is not supported");
    expectGraphError(() => importOnnx(base([], ['x', 'W', 'R', '', 'lens']), 's.onnx'), 'sequence_lens', 'shorter sequences are not supported');
    expect(
      importOnnx(base([{ name: 'activations', type: A.STRINGS, strings: ['Sigmoid', 'Tanh', 'Tanh'].map((v) => new TextEncoder().encode(v)) }]), 'a.onnx')
        .nodes[0].op,
    ).toBe('LSTM');
    expectGraphError(
      () => importOnnx(base([{ name: 'activations', type: A.STRINGS, strings: ['Relu', 'Tanh', 'Tanh'].map((v) => new TextEncoder().encode(v)) }]), 'a.onnx'),
      "activations 'Relu,Tanh,Tanh' are not supported",
    );
  });
});
