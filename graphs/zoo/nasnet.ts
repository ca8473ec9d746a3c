/**
 * NASNet-A (Zoph et al. 2018, "Learning Transferable Architectures for Scalable Image Recognition"),
 * mirroring the Keras application (keras/applications/nasnet.py), which follows TF-slim's nasnet.py:
 *
 *   stem conv 3x3 s2 (valid) + BN → reduction cells stem_1, stem_2 → N normal cells → reduce_N →
 *   N normal cells → reduce_2N → N normal cells → relu → global average pool → fc 1000.
 *
 * Mobile: penultimate filters 1056, N = 4, stem 32 (Keras: 5,326,716 params in total, 5,289,978
 * of them trainable, 564 M MACs at 224²). Large: 4032, N = 6, stem 96, and the cell after a
 * reduction takes as its "previous" input the state *before* the reduction (Keras skip_reduction)
 * (Keras: 88,949,818 in total, 88,753,150 trainable, 23.8 G MACs at 331²).
 *
 * Keras' total counts the BatchNorm moving mean/variance; here those are non-trainable buffers, so
 * `paramCount` gives the trainable figure and trainable + buffers gives Keras' total.
 *
 * Padding follows TF: stride-1 'same' is symmetric; a stride-2 window gets Keras' correct_pad
 * (one less at top/left when the input size is even), written as the conv's asymmetric pads or as
 * an explicit zero Pad where Keras pads before a pool (those zeros then enter max and mean).
 * Node ids mirror the module path: `normal_3.left_1.sep1.depthwise`, `reduce_4.adjust.path2.conv`.
 */
import { GraphBuilder, type T } from '../builder.js';
import { type Graph, GraphError } from '../ir.js';
import { positiveInt } from './common.js';

export interface NasNetOptions {
  batch?: number;
  resolution?: number;
}

interface NasNetConfig {
  name: string;
  penultimateFilters: number;
  /** Normal cells per block (N). */
  blocks: number;
  stemFilters: number;
  /** After a reduction cell, keep the pre-reduction "previous" input (NASNet-A Large). */
  skipReduction: boolean;
}

/** Keras BatchNormalization(epsilon=1e-3) everywhere in NASNet. */
const BN_EPS = 1e-3;
/** Channel growth per reduction (filter_multiplier). */
const MULT = 2;

/** Keras correct_pad for a stride-2 window of size k: [top, left, bottom, right]. */
function correctPad(x: T, k: number): [number, number, number, number] {
  const h = x.shape[2];
  const w = x.shape[3];
  const c = Math.floor(k / 2);
  return [c - (1 - (h % 2)), c - (1 - (w % 2)), c, c];
}

class NasNetBuilder {
  constructor(readonly b: GraphBuilder) {}

  bn(x: T, name: string): T {
    return this.b.batchNorm(x, { epsilon: BN_EPS, name });
  }

  /** One Relu → SeparableConv (depthwise k×k, then pointwise 1×1, no bias) → BN. */
  private sepConv(x: T, p: string, filters: number, k: number, stride: number): T {
    const { b } = this;
    let y = b.relu(x, `${p}.relu`);
    const pad = stride === 2 ? correctPad(y, k) : Math.floor(k / 2);
    y = b.conv(y, { out: y.shape[1], kernel: k, stride, pad, group: y.shape[1], name: `${p}.depthwise` });
    y = b.conv(y, { out: filters, kernel: 1, name: `${p}.pointwise` });
    return this.bn(y, `${p}.bn`);
  }

  /** Keras _separable_conv_block: two Relu-SepConv-BN, only the first strided. */
  sepBlock(x: T, p: string, filters: number, k: number, stride = 1): T {
    return this.sepConv(this.sepConv(x, `${p}.sep1`, filters, k, stride), `${p}.sep2`, filters, k, 1);
  }

  /** 3×3 'same' pool at stride 1; TF averages over the valid pixels only. */
  avgSame(x: T, name: string): T {
    return this.b.avgPool(x, { kernel: 3, stride: 1, pad: 1, countIncludePad: false, name });
  }

  /**
   * Keras _adjust_block: brings the previous hidden state `p` to the spatial size of `ip` and to
   * `filters` channels. When the spatial sizes differ it is the factorized reduction: two 1×1
   * stride-2 samplings (the second shifted by one pixel) each projected to filters/2, concatenated.
   */
  adjust(p: T | undefined, ip: T, filters: number, c: string): T {
    const { b } = this;
    if (!p) return ip;
    if (p.shape[2] !== ip.shape[2] || p.shape[3] !== ip.shape[3]) {
      const r = b.relu(p, `${c}.adjust.relu`);
      const p1 = b.avgPool(r, { kernel: 1, stride: 2, name: `${c}.adjust.path1.pool` });
      const c1 = b.conv(p1, { out: Math.floor(filters / 2), kernel: 1, name: `${c}.adjust.path1.conv` });
      // Keras' ZeroPadding2D((0,1),(0,1)) + Cropping2D((1,0),(1,0)) as one Pad whose negative
      // top/left entries crop (ONNX allows negative pads): the second path samples odd pixels.
      const shifted = b.pad(r, [0, 0, -1, -1, 0, 0, 1, 1], 0, `${c}.adjust.path2.shift`);
      const p2 = b.avgPool(shifted, { kernel: 1, stride: 2, name: `${c}.adjust.path2.pool` });
      const c2 = b.conv(p2, { out: Math.floor(filters / 2), kernel: 1, name: `${c}.adjust.path2.conv` });
      return this.bn(b.concat([c1, c2], 1, `${c}.adjust.concat`), `${c}.adjust.bn`);
    }
    if (p.shape[1] !== filters) {
      const r = b.relu(p, `${c}.adjust.relu`);
      return this.bn(b.conv(r, { out: filters, kernel: 1, name: `${c}.adjust.conv` }), `${c}.adjust.bn`);
    }
    return p;
  }

  /** Relu → 1×1 conv → BN that squeezes the cell input `ip` to `filters` channels. */
  squeeze(ip: T, filters: number, c: string): T {
    const { b } = this;
    return this.bn(b.conv(b.relu(ip, `${c}.squeeze.relu`), { out: filters, kernel: 1, name: `${c}.squeeze.conv` }), `${c}.squeeze.bn`);
  }

  /** Normal cell (paper Fig. 4 left): output 6 × filters channels at the input's resolution. */
  normalCell(ip: T, prev: T | undefined, filters: number, c: string): T {
    const { b } = this;
    const p = this.adjust(prev, ip, filters, c);
    const h = this.squeeze(ip, filters, c);
    const x1 = b.add(this.sepBlock(h, `${c}.left_1`, filters, 5), this.sepBlock(p, `${c}.right_1`, filters, 3), `${c}.add_1`);
    const x2 = b.add(this.sepBlock(p, `${c}.left_2`, filters, 5), this.sepBlock(p, `${c}.right_2`, filters, 3), `${c}.add_2`);
    const x3 = b.add(this.avgSame(h, `${c}.left_3`), p, `${c}.add_3`);
    const x4 = b.add(this.avgSame(p, `${c}.left_4`), this.avgSame(p, `${c}.right_4`), `${c}.add_4`);
    const x5 = b.add(this.sepBlock(h, `${c}.left_5`, filters, 3), h, `${c}.add_5`);
    return b.concat([p, x1, x2, x3, x4, x5], 1, `${c}.concat`);
  }

  /** Reduction cell (paper Fig. 4 right): output 4 × filters channels at half the resolution. */
  reductionCell(ip: T, prev: T | undefined, filters: number, c: string): T {
    const { b } = this;
    const p = this.adjust(prev, ip, filters, c);
    const h = this.squeeze(ip, filters, c);
    // Keras zero-pads h once for the three stride-2 pools (so padded zeros enter max and mean).
    const h3 = b.pad(h, [0, 0, ...correctPad(h, 3).slice(0, 2), 0, 0, ...correctPad(h, 3).slice(2)], 0, `${c}.h_pad`);
    const pool = (kind: 'max' | 'avg', name: string) =>
      kind === 'max' ? b.maxPool(h3, { kernel: 3, stride: 2, name }) : b.avgPool(h3, { kernel: 3, stride: 2, name });
    const x1 = b.add(this.sepBlock(h, `${c}.left_1`, filters, 5, 2), this.sepBlock(p, `${c}.right_1`, filters, 7, 2), `${c}.add_1`);
    const x2 = b.add(pool('max', `${c}.left_2`), this.sepBlock(p, `${c}.right_2`, filters, 7, 2), `${c}.add_2`);
    const x3 = b.add(pool('avg', `${c}.left_3`), this.sepBlock(p, `${c}.right_3`, filters, 5, 2), `${c}.add_3`);
    const x4 = b.add(this.avgSame(x1, `${c}.left_4`), x2, `${c}.add_4`);
    const x5 = b.add(this.sepBlock(x1, `${c}.left_5`, filters, 3), pool('max', `${c}.right_5`), `${c}.add_5`);
    return b.concat([x2, x3, x4, x5], 1, `${c}.concat`);
  }
}

function nasnet(cfg: NasNetConfig, { batch, resolution }: Required<NasNetOptions>): Graph {
  positiveInt(cfg.name, 'batch', batch);
  positiveInt(cfg.name, 'resolution', resolution);
  // Three stride-2 reductions after the stem and stem cells need at least 32 pixels (as Keras).
  if (resolution < 32) throw new GraphError(`option 'resolution' must be at least 32, got ${resolution}`, `zoo model '${cfg.name}'`);
  const b = new GraphBuilder(cfg.name);
  const nb = new NasNetBuilder(b);
  const filters = cfg.penultimateFilters / 24;

  let x = b.input('input', [batch, 3, resolution, resolution]);
  x = nb.bn(b.conv(x, { out: cfg.stemFilters, kernel: 3, stride: 2, name: 'stem.conv' }), 'stem.bn');

  // (x, p): the current and previous hidden states; every cell returns its input as the next p.
  let p: T | undefined;
  [x, p] = [nb.reductionCell(x, p, Math.floor(filters / MULT ** 2), 'stem_1'), x];
  [x, p] = [nb.reductionCell(x, p, Math.floor(filters / MULT), 'stem_2'), x];
  const n = cfg.blocks;
  for (let i = 0; i < n; i++) [x, p] = [nb.normalCell(x, p, filters, `normal_${i}`), x];
  for (let stage = 1; stage <= 2; stage++) {
    const f = filters * MULT ** stage;
    const red = nb.reductionCell(x, p, f, `reduce_${stage * n}`);
    if (!cfg.skipReduction) p = x;
    x = red;
    for (let i = 0; i < n; i++) [x, p] = [nb.normalCell(x, p, f, `normal_${stage * n + i + 1}`), x];
  }

  x = b.relu(x, 'head.relu');
  x = b.flatten(b.globalAvgPool(x, 'head.pool'), 1, 'head.flatten');
  b.output(b.linear(x, 1000, { name: 'head.fc' }));
  return b.build();
}

/** NASNet-A Mobile (4 @ 1056), graph `nasnet_mobile`; input [batch, 3, resolution, resolution]. */
export function nasnetAMobile({ batch = 1, resolution = 224 }: NasNetOptions = {}): Graph {
  return nasnet({ name: 'nasnet_mobile', penultimateFilters: 1056, blocks: 4, stemFilters: 32, skipReduction: false }, { batch, resolution });
}

/** NASNet-A Large (6 @ 4032), graph `nasnet_large`; input [batch, 3, resolution, resolution]. */
export function nasnetALarge({ batch = 1, resolution = 331 }: NasNetOptions = {}): Graph {
  return nasnet({ name: 'nasnet_large', penultimateFilters: 4032, blocks: 6, stemFilters: 96, skipReduction: true }, { batch, resolution });
}
