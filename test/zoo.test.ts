import { describe, expect, it } from 'vitest';
import { withBatch } from '../graphs/infer.js';
import { type Graph, GraphError, macCount, paramCount } from '../graphs/ir.js';
import { graphFromString, graphToString } from '../graphs/json.js';
import { bertEncoderLayer } from '../graphs/zoo/bert.js';
import { din } from '../graphs/zoo/din.js';
import { buildModel, ZOO, zooNames } from '../graphs/zoo/index.js';
import { makeDivisible, mobilenetV2 } from '../graphs/zoo/mobilenet_v2.js';
import { resnet50 } from '../graphs/zoo/resnet50.js';

/** Each model is built once at batch 1 and shared by the checks below (NASNet-Large takes ~50 ms). */
const cache = new Map<string, Graph>();
function model(name: string): Graph {
  let g = cache.get(name);
  if (!g) {
    g = buildModel(name, { seed: 1 });
    cache.set(name, g);
  }
  return g;
}

const node = (g: Graph, id: string) => {
  const n = g.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node '${id}' in ${g.name}`);
  return n;
};

const within = (value: number, target: number, tol = 0.02) => Math.abs(value / target - 1) <= tol;

/** Exact trainable-parameter counts of the reference implementations (torchvision / BERT-base). */
const EXACT_PARAMS: Record<string, number> = {
  resnet50: 25_557_032,
  inception_v3: 23_834_568,
  squeezenet1_1: 1_235_496,
  mobilenet_v2: 3_504_872,
  bert_layer: 7_087_872,
};

/** Output shapes at batch 1. */
const OUT_SHAPES: Record<string, number[][]> = {
  resnet50: [[1, 1000]],
  inception_v3: [[1, 1000]],
  squeezenet1_1: [[1, 1000]],
  mobilenet_v2: [[1, 1000]],
  bert_layer: [[1, 128, 768]],
  din: [[1, 2]],
  nasnet_mobile: [[1, 1000]],
  nasnet_large: [[1, 1000]],
};

describe.each(zooNames())('zoo model %s', (name) => {
  const entry = ZOO[name];

  it('is registered under its graph name with unique node ids', () => {
    const g = model(name);
    expect(entry.name).toBe(name);
    expect(g.name).toBe(name);
    expect(g.batch).toBe(1);
    expect(new Set(g.nodes.map((n) => n.id)).size).toBe(g.nodes.length);
    if (OUT_SHAPES[name]) expect(g.outputs.map((o) => o.shape)).toEqual(OUT_SHAPES[name]);
  });

  it('matches the published parameter and MAC counts within 2 %', () => {
    const g = model(name);
    const pub = entry.published;
    if (name in EXACT_PARAMS) expect(paramCount(g)).toBe(EXACT_PARAMS[name]);
    if (pub?.params !== undefined) expect(within(paramCount(g), pub.params), `params ${paramCount(g)} vs ${pub.params}`).toBe(true);
    if (pub?.macs !== undefined) expect(within(macCount(g), pub.macs), `MACs ${macCount(g)} vs ${pub.macs}`).toBe(true);
    if (pub?.resolution !== undefined) expect(g.inputs[0].shape.slice(2)).toEqual([pub.resolution, pub.resolution]);
  });

  it('re-infers for batch 4: every tensor 4x along dim 0, 4x MACs, same params', () => {
    const g = model(name);
    const g4 = withBatch(g, 4);
    expect(g4.batch).toBe(4);
    expect(g4.outputs.map((o) => o.shape)).toEqual(g.outputs.map((o) => [4, ...o.shape.slice(1)]));
    expect(macCount(g4)).toBe(4 * macCount(g));
    expect(paramCount(g4)).toBe(paramCount(g));
    // The batch is the leading dim of every activation, so each node's shapes scale the same way.
    const byId = new Map(g4.nodes.map((n) => [n.id, n]));
    for (const n of g.nodes) {
      expect(byId.get(n.id)?.outShapes, n.id).toEqual(n.outShapes.map((s) => [4 * s[0], ...s.slice(1)]));
    }
    // Building at batch 4 directly gives the same graph as re-inferring.
    expect(buildModel(name, { batch: 4, seed: 1 }).nodes.map((n) => n.outShapes)).toEqual(g4.nodes.map((n) => n.outShapes));
  });

  it('survives a JSON round trip exactly', () => {
    const g = model(name);
    expect(graphFromString(graphToString(g))).toEqual(g);
  });
});

describe('zoo registry', () => {
  it('lists the models of this task', () => {
    for (const n of ['resnet50', 'inception_v3', 'squeezenet1_1', 'mobilenet_v2', 'bert_layer', 'din', 'nasnet_mobile', 'nasnet_large', 'randwire']) {
      expect(zooNames()).toContain(n);
    }
  });

  it('names the known models when asked for an unknown one', () => {
    expect(() => buildModel('resnet51')).toThrow(GraphError);
    expect(() => buildModel('resnet51')).toThrow(/unknown model 'resnet51'; known models: .*resnet50.*inception_v3/);
    expect(() => buildModel('toString')).toThrow(/unknown model/);
  });

  it('rejects a bad batch or resolution naming the model and option', () => {
    expect(() => buildModel('resnet50', { batch: 0 })).toThrow(/zoo model 'resnet50': option 'batch'/);
    expect(() => buildModel('squeezenet1_1', { resolution: 2.5 })).toThrow(/option 'resolution'/);
    expect(() => bertEncoderLayer({ hidden: 100, heads: 12 })).toThrow(/divisible by 'heads'/);
  });
});

describe('architecture details', () => {
  it('ResNet-50 puts the stride on the 3x3 conv (v1.5) and ends at 7x7', () => {
    const g = model('resnet50');
    expect(node(g, 'layer2.0.conv1').attrs.strides).toEqual([1, 1]);
    expect(node(g, 'layer2.0.conv2').attrs.strides).toEqual([2, 2]);
    expect(node(g, 'layer2.0.downsample.0').attrs.strides).toEqual([2, 2]);
    expect(node(g, 'layer4.2.relu3').outShapes[0]).toEqual([1, 2048, 7, 7]);
    expect(g.initializers.some((i) => i.name === 'layer1.0.bn1.running_var' && !i.trainable)).toBe(true);
    // At 448² every conv does 4x the work; only the fc stays.
    expect(macCount(resnet50({ resolution: 448 })) - 2048 * 1000).toBe(4 * (macCount(g) - 2048 * 1000));
  });

  it('Inception-v3 has the torchvision grid sizes and count_include_pad pools', () => {
    const g = model('inception_v3');
    expect(node(g, 'Mixed_5b.concat').outShapes[0]).toEqual([1, 256, 35, 35]);
    expect(node(g, 'Mixed_6e.concat').outShapes[0]).toEqual([1, 768, 17, 17]);
    expect(node(g, 'Mixed_7c.concat').outShapes[0]).toEqual([1, 2048, 8, 8]);
    expect(node(g, 'Mixed_6b.branch7x7_2.conv').attrs.pads).toEqual([0, 3, 0, 3]);
    expect(node(g, 'Mixed_5b.branch1x1.bn').attrs.epsilon).toBe(0.001);
    expect(node(g, 'Mixed_5b.avgpool').attrs.count_include_pad).toBe(1);
  });

  it('SqueezeNet 1.1 pools with ceil_mode (13x13 before the classifier)', () => {
    const g = model('squeezenet1_1');
    expect(node(g, 'features.2').outShapes[0]).toEqual([1, 64, 55, 55]);
    expect(node(g, 'features.12.concat').outShapes[0]).toEqual([1, 512, 13, 13]);
    expect(g.nodes.some((n) => n.op === 'BatchNormalization')).toBe(false);
    // At 224² ceil and floor agree; at 225² the first pool sees 112 columns and ceil keeps a 56th window.
    expect(node(buildModel('squeezenet1_1', { resolution: 225 }), 'features.2').outShapes[0]).toEqual([1, 64, 56, 56]);
  });

  it('MobileNetV2 uses depthwise groups, ReLU6 clips and residual adds', () => {
    const g = model('mobilenet_v2');
    const dw = node(g, 'features.2.conv.1.0');
    expect(dw.attrs.group).toBe(96);
    expect(node(g, 'features.2.conv.1.2').attrs).toEqual({ min: 0, max: 6 });
    expect(g.nodes.filter((n) => n.op === 'Add').length).toBe(10);
    expect(node(g, 'features.18.2').outShapes[0]).toEqual([1, 1280, 7, 7]);
    expect([makeDivisible(32 * 0.5), makeDivisible(24 * 0.35), makeDivisible(1280)]).toEqual([16, 8, 1280]);
    const half = mobilenetV2({ width: 0.5 });
    expect(node(half, 'features.0.0').outShapes[0][1]).toBe(16);
    expect(node(half, 'features.18.0').outShapes[0][1]).toBe(1280);
  });

  it('BERT layer: multi-head shapes, scaling constant, optional mask', () => {
    const g = model('bert_layer');
    expect(g.inputs.map((i) => i.name)).toEqual(['hidden_states', 'attention_mask']);
    expect(node(g, 'attention.self.scores').outShapes[0]).toEqual([1, 12, 128, 128]);
    expect(Array.from(g.initializers.find((i) => i.name === 'attention.self.sqrt_dh')?.data ?? [])).toEqual([8]);
    expect(node(g, 'output.LayerNorm').attrs.epsilon).toBe(1e-12);
    // Q/K/V/O projections + FFN + attention matmuls.
    expect(macCount(g)).toBe(128 * (4 * 768 * 768 + 2 * 768 * 3072) + 2 * 12 * 128 * 128 * 64);
    const noMask = bertEncoderLayer({ mask: false, seq: 64 });
    expect(noMask.inputs.length).toBe(1);
    expect(noMask.nodes.some((n) => n.id === 'attention.self.mask')).toBe(false);
    expect(paramCount(noMask)).toBe(7_087_872);
  });

  it('DIN: shared embedding tables, activation unit over the history, sizes as documented', () => {
    const g = model('din');
    expect(g.inputs.filter((i) => i.dtype === 'int64').map((i) => i.name)).toEqual(['user_id', 'hist_item', 'hist_cate', 'cand_item', 'cand_cate']);
    expect(node(g, 'att.input').outShapes[0]).toEqual([1, 50, 144]);
    expect(node(g, 'att.pool').outShapes[0]).toEqual([1, 1, 36]);
    // The candidate and the behaviours gather from one item table.
    expect(node(g, 'item_emb.hist').inputs[0]).toBe('item_emb.weight');
    expect(node(g, 'item_emb.cand').inputs[0]).toBe('item_emb.weight');
    const e = 18;
    const emb = (192_403 + 63_001 + 801) * e;
    const att = 8 * e * 80 + 80 + 80 * 40 + 40 + 40 + 1;
    const top = 5 * e * 200 + 200 + 200 * 80 + 80 + 80 * 2 + 2;
    expect(paramCount(g)).toBe(emb + att + top);
    expect(macCount(g)).toBe(50 * (8 * e * 80 + 80 * 40 + 40) + 50 * 2 * e + 5 * e * 200 + 200 * 80 + 80 * 2);
    const small = din({ history: 20, items: 1000, categories: 10, users: 100, embDim: 8, mlp: [64] });
    expect(small.outputs[0].shape).toEqual([1, 2]);
    expect(node(small, 'att.input').outShapes[0]).toEqual([1, 20, 64]);
  });
});
