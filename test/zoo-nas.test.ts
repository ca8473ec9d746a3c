import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { inferGraph, withBatch } from '../graphs/infer.js';
import { type Graph, GraphError, indexTensors, macCount, numel, paramCount } from '../graphs/ir.js';
import { graphToString } from '../graphs/json.js';
import { buildDag, topoOrder } from '../graphs/topo.js';
import { nasnetALarge, nasnetAMobile } from '../graphs/zoo/nasnet.js';
import { dagPredecessors, randwire, wattsStrogatz } from '../graphs/zoo/randwire.js';

const within = (got: number, want: number, tol: number) => Math.abs(got - want) / want <= tol;
const buffers = (g: Graph) => g.initializers.filter((i) => !i.trainable).reduce((s, i) => s + numel(i.shape), 0);
const shapeOf = (g: Graph, id: string) => {
  const node = g.nodes.find((n) => n.id === id);
  if (!node) throw new Error(`no node '${id}' in ${g.name}`);
  return node.outShapes[0];
};

function expectValidDag(g: Graph) {
  const order = topoOrder(buildDag(g));
  expect(order.length).toBe(g.nodes.length);
  expect(new Set(order).size).toBe(g.nodes.length);
  expect(new Set(g.nodes.map((n) => n.id)).size).toBe(g.nodes.length);
  expect(() => inferGraph(g)).not.toThrow();
}

/** Each node's inputs, by id: what "wiring" means when comparing two RandWire draws. */
const wiring = (g: Graph) => g.nodes.map((n) => `${n.id}<-${n.inputs.join(',')}`).join('\n');

describe('NASNet-A', () => {
  const mobile = nasnetAMobile();
  const large = nasnetALarge();

  it('matches the published parameter counts (Keras: total incl. BN statistics, and trainable)', () => {
    // Published (Keras application / paper): 5,326,716 and 88,949,818; tolerance 2 %.
    expect(within(paramCount(mobile), 5_326_716, 0.02)).toBe(true);
    expect(within(paramCount(large), 88_949_818, 0.02)).toBe(true);
    // Mirroring Keras exactly gives its split: trainable + moving mean/variance = total.
    expect(paramCount(mobile)).toBe(5_289_978);
    expect(paramCount(mobile) + buffers(mobile)).toBe(5_326_716);
    expect(paramCount(large)).toBe(88_753_150);
    expect(paramCount(large) + buffers(large)).toBe(88_949_818);
  });

  it('matches the published MACs within 2 % (564 M at 224², 23.8 G at 331²)', () => {
    expect(within(macCount(mobile), 564e6, 0.02)).toBe(true);
    expect(within(macCount(large), 23.8e9, 0.02)).toBe(true);
  });

  it('has the NASNet-A layout: names, feature sizes, penultimate width', () => {
    expect(mobile.name).toBe('nasnet_mobile');
    expect(large.name).toBe('nasnet_large');
    expect(mobile.outputs[0].shape).toEqual([1, 1000]);
    expect(large.outputs[0].shape).toEqual([1, 1000]);
    expect(shapeOf(mobile, 'stem.conv')).toEqual([1, 32, 111, 111]);
    expect(shapeOf(mobile, 'stem_1.concat')).toEqual([1, 44, 56, 56]);
    expect(shapeOf(mobile, 'stem_2.concat')).toEqual([1, 88, 28, 28]);
    expect(shapeOf(mobile, 'normal_3.concat')).toEqual([1, 264, 28, 28]);
    expect(shapeOf(mobile, 'reduce_4.concat')).toEqual([1, 352, 14, 14]);
    expect(shapeOf(mobile, 'reduce_8.concat')).toEqual([1, 704, 7, 7]);
    expect(shapeOf(mobile, 'head.relu')).toEqual([1, 1056, 7, 7]);
    expect(shapeOf(large, 'stem.conv')).toEqual([1, 96, 165, 165]);
    expect(shapeOf(large, 'head.relu')).toEqual([1, 4032, 11, 11]);
    // 3 blocks × N normal cells, 2 stem + 2 inner reduction cells.
    const cells = (g: Graph, kind: string) => g.nodes.filter((n) => n.id.startsWith(kind) && n.id.endsWith('.concat') && !n.id.includes('adjust')).length;
    expect(cells(mobile, 'normal_')).toBe(12);
    expect(cells(large, 'normal_')).toBe(18);
    expect(cells(mobile, 'reduce_') + cells(mobile, 'stem_')).toBe(4);
    // A separable conv is depthwise (group = channels) then pointwise.
    const dw = mobile.nodes.find((n) => n.id === 'normal_3.left_1.sep1.depthwise');
    expect(dw?.attrs.group).toBe(44);
    expect(dw?.attrs.kernel_shape).toEqual([5, 5]);
    expect(mobile.nodes.some((n) => n.id === 'normal_3.left_1.sep2.pointwise')).toBe(true);
    // Stride-1 average pools exclude the padding, as TF does.
    expect(mobile.nodes.find((n) => n.id === 'normal_3.left_3')?.attrs.count_include_pad).toBe(0);
  });

  it('wires the factorized reduction and skip_reduction as Keras does', () => {
    // normal_5 follows reduce_4; its "previous" input has twice the resolution, so it is reduced.
    const idx = indexTensors(mobile);
    expect(idx.producer.get(idx.node.get('normal_5.adjust.relu')?.inputs[0] ?? '')?.id).toBe('normal_3.concat');
    expect(shapeOf(mobile, 'normal_5.adjust.bn')).toEqual([1, 88, 14, 14]);
    // Large keeps the state before the last normal cell (skip_reduction = True).
    const lidx = indexTensors(large);
    expect(lidx.producer.get(lidx.node.get('normal_7.adjust.relu')?.inputs[0] ?? '')?.id).toBe('normal_4.concat');
    // The shifted path crops one row/column at the top-left and pads one at the bottom-right.
    expect(mobile.nodes.find((n) => n.id === 'normal_5.adjust.path2.shift')?.attrs.pads).toEqual([0, 0, -1, -1, 0, 0, 1, 1]);
  });

  it('forms valid DAGs and re-infers for another batch', () => {
    expectValidDag(mobile);
    expectValidDag(large);
    const m4 = withBatch(mobile, 4);
    expect(m4.outputs[0].shape).toEqual([4, 1000]);
    expect(m4.batch).toBe(4);
    expect(macCount(m4)).toBe(4 * macCount(mobile));
    expect(paramCount(m4)).toBe(paramCount(mobile));
    expect(nasnetALarge({ batch: 2 }).outputs[0].shape).toEqual([2, 1000]);
  });

  it('builds at other resolutions (odd and even feature sizes) and rejects bad options', () => {
    expect(nasnetAMobile({ resolution: 331 }).outputs[0].shape).toEqual([1, 1000]);
    expect(nasnetALarge({ resolution: 224 }).outputs[0].shape).toEqual([1, 1000]);
    expect(paramCount(nasnetAMobile({ resolution: 96 }))).toBe(paramCount(mobile));
    expect(() => nasnetAMobile({ resolution: 16 })).toThrow(/nasnet_mobile.*resolution/);
    expect(() => nasnetALarge({ batch: 0 })).toThrow(GraphError);
  });
});

describe('Watts–Strogatz generator', () => {
  it('keeps n·k/2 simple edges and is the ring lattice at p = 0', () => {
    for (const seed of [1, 2, 3]) {
      const edges = wattsStrogatz(32, 4, 0.75, seedrandom(String(seed)));
      expect(edges.length).toBe(64);
      expect(edges.every(([u, v]) => u < v && v < 32)).toBe(true);
      expect(new Set(edges.map((e) => e.join('-'))).size).toBe(64);
    }
    const ring = wattsStrogatz(8, 4, 0, seedrandom('x'));
    const want: [number, number][] = [];
    for (let u = 0; u < 8; u++) for (const j of [1, 2]) want.push([Math.min(u, (u + j) % 8), Math.max(u, (u + j) % 8)]);
    want.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(ring).toEqual(want);
    expect(() => wattsStrogatz(8, 3, 0.5, seedrandom('x'))).toThrow(/'k'/);
    expect(() => wattsStrogatz(8, 4, 1.5, seedrandom('x'))).toThrow(/'p'/);
  });

  it('orients edges from lower to higher index', () => {
    const preds = dagPredecessors(4, [
      [0, 1],
      [0, 3],
      [1, 2],
      [2, 3],
    ]);
    expect(preds).toEqual([[], [0], [1], [0, 2]]);
  });
});

describe('RandWire-WS (small regime)', () => {
  const g = randwire();

  it('is deterministic per seed and differs across seeds', () => {
    expect(graphToString(randwire())).toBe(graphToString(g));
    expect(graphToString(randwire({ seed: 7 }))).toBe(graphToString(randwire({ seed: 7 })));
    const others = [1, 2, 3].map((seed) => wiring(randwire({ seed })));
    for (const w of others) expect(w).not.toBe(wiring(g));
    expect(new Set(others).size).toBe(3);
  });

  it('has the paper-scale size (5.6 M params, 583 M MACs) and the stage layout', () => {
    expect(g.name).toBe('randwire');
    expect(g.outputs[0].shape).toEqual([1, 1000]);
    // Paper Table 2: 5.6 ± 0.1 M params, 583 ± 6.2 M FLOPs (MACs); hold each seed within 5 %.
    for (const seed of [0, 1, 2, 3]) {
      const r = seed === 0 ? g : randwire({ seed });
      expect(within(paramCount(r), 5.6e6, 0.05)).toBe(true);
      expect(within(macCount(r), 583e6, 0.05)).toBe(true);
    }
    expect(shapeOf(g, 'conv1.bn')).toEqual([1, 39, 112, 112]);
    expect(shapeOf(g, 'conv2.bn')).toEqual([1, 78, 56, 56]);
    for (const [s, c, hw] of [
      [3, 78, 28],
      [4, 156, 14],
      [5, 312, 7],
    ]) {
      expect(shapeOf(g, `conv${s}.node_31.bn`)).toEqual([1, c, hw, hw]);
      // Node 0 has no predecessor, so it reads the stage input with stride 2.
      expect(g.nodes.find((n) => n.id === `conv${s}.node_0.depthwise`)?.attrs.strides).toEqual([2, 2]);
    }
    expect(shapeOf(g, 'classifier.conv')).toEqual([1, 1280, 7, 7]);
  });

  it('wires each node from its DAG predecessors with one weight per input', () => {
    const preds = dagPredecessors(32, wattsStrogatz(32, 4, 0.75, seedrandom('randwire-ws:0')));
    const idx = indexTensors(g);
    for (let v = 0; v < 32; v++) {
      const relu = idx.node.get(`conv3.node_${v}.relu`);
      expect(relu).toBeDefined();
      const dw = idx.node.get(`conv3.node_${v}.depthwise`);
      expect(dw?.attrs.strides).toEqual(preds[v].length === 0 ? [2, 2] : [1, 1]);
      const scales = g.nodes.filter((n) => n.op === 'Mul' && n.id.startsWith(`conv3.node_${v}.scale_`));
      expect(scales.length).toBe(preds[v].length > 1 ? preds[v].length : 0);
      const sources = scales.map((n) => idx.producer.get(n.inputs[0])?.id).sort();
      expect(sources).toEqual(preds[v].length > 1 ? preds[v].map((u) => `conv3.node_${u}.bn`).sort() : []);
    }
  });

  it('forms a valid DAG, re-infers for another batch, and rejects bad options', () => {
    expectValidDag(g);
    const g3 = withBatch(g, 3);
    expect(g3.outputs[0].shape).toEqual([3, 1000]);
    expect(macCount(g3)).toBe(3 * macCount(g));
    expect(randwire({ batch: 2, nodes: 8, k: 2, p: 0.5, channels: 16, resolution: 64 }).outputs[0].shape).toEqual([2, 1000]);
    expect(() => randwire({ k: 5 })).toThrow(/randwire.*'k'/);
    expect(() => randwire({ resolution: 8 })).toThrow(GraphError);
  });
});
