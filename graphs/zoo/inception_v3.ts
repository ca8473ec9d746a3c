/**
 * torchvision Inception-v3 (inception_v3) in eval mode, without the auxiliary classifier (it only
 * runs in training) and without `transform_input` (a per-channel affine on the input that the
 * pretrained weights enable; it is 3 elementwise ops and changes no shape or MAC count).
 * BasicConv2d = Conv (no bias) + BatchNorm (eps 0.001) + Relu. The pool branches of Mixed_5x/6x/7b-c
 * use F.avg_pool2d(3, stride 1, pad 1), whose count_include_pad defaults to true, as here.
 * Node ids follow the torchvision module paths (`Mixed_5b.branch5x5_2.conv`, ...).
 * torchvision without AuxLogits: 23,834,568 parameters, 5.7 G MACs at 299².
 */
import { GraphBuilder, type T } from '../builder.js';
import type { Graph } from '../ir.js';
import { positiveInt } from './common.js';

export interface InceptionV3Options {
  batch?: number;
  resolution?: number;
}

type K = number | [number, number];

/** BasicConv2d: ids `${p}.conv`, `${p}.bn`, `${p}.relu` so weights read `${p}.conv.weight` as in torchvision. */
function basic(b: GraphBuilder, x: T, p: string, out: number, kernel: K, o: { stride?: number; pad?: K } = {}): T {
  const y = b.conv(x, { out, kernel, stride: o.stride, pad: o.pad, name: `${p}.conv` });
  return b.relu(b.batchNorm(y, { epsilon: 0.001, name: `${p}.bn` }), `${p}.relu`);
}

function avgPoolBranch(b: GraphBuilder, x: T, p: string, out: number): T {
  const pooled = b.avgPool(x, { kernel: 3, stride: 1, pad: 1, countIncludePad: true, name: `${p}.avgpool` });
  return basic(b, pooled, `${p}.branch_pool`, out, 1);
}

function inceptionA(b: GraphBuilder, x: T, p: string, poolFeatures: number): T {
  const b1 = basic(b, x, `${p}.branch1x1`, 64, 1);
  let b5 = basic(b, x, `${p}.branch5x5_1`, 48, 1);
  b5 = basic(b, b5, `${p}.branch5x5_2`, 64, 5, { pad: 2 });
  let b3 = basic(b, x, `${p}.branch3x3dbl_1`, 64, 1);
  b3 = basic(b, b3, `${p}.branch3x3dbl_2`, 96, 3, { pad: 1 });
  b3 = basic(b, b3, `${p}.branch3x3dbl_3`, 96, 3, { pad: 1 });
  return b.concat([b1, b5, b3, avgPoolBranch(b, x, p, poolFeatures)], 1, `${p}.concat`);
}

function inceptionB(b: GraphBuilder, x: T, p: string): T {
  const b3 = basic(b, x, `${p}.branch3x3`, 384, 3, { stride: 2 });
  let bd = basic(b, x, `${p}.branch3x3dbl_1`, 64, 1);
  bd = basic(b, bd, `${p}.branch3x3dbl_2`, 96, 3, { pad: 1 });
  bd = basic(b, bd, `${p}.branch3x3dbl_3`, 96, 3, { stride: 2 });
  const pool = b.maxPool(x, { kernel: 3, stride: 2, name: `${p}.maxpool` });
  return b.concat([b3, bd, pool], 1, `${p}.concat`);
}

function inceptionC(b: GraphBuilder, x: T, p: string, c7: number): T {
  const b1 = basic(b, x, `${p}.branch1x1`, 192, 1);
  let b7 = basic(b, x, `${p}.branch7x7_1`, c7, 1);
  b7 = basic(b, b7, `${p}.branch7x7_2`, c7, [1, 7], { pad: [0, 3] });
  b7 = basic(b, b7, `${p}.branch7x7_3`, 192, [7, 1], { pad: [3, 0] });
  let bd = basic(b, x, `${p}.branch7x7dbl_1`, c7, 1);
  bd = basic(b, bd, `${p}.branch7x7dbl_2`, c7, [7, 1], { pad: [3, 0] });
  bd = basic(b, bd, `${p}.branch7x7dbl_3`, c7, [1, 7], { pad: [0, 3] });
  bd = basic(b, bd, `${p}.branch7x7dbl_4`, c7, [7, 1], { pad: [3, 0] });
  bd = basic(b, bd, `${p}.branch7x7dbl_5`, 192, [1, 7], { pad: [0, 3] });
  return b.concat([b1, b7, bd, avgPoolBranch(b, x, p, 192)], 1, `${p}.concat`);
}

function inceptionD(b: GraphBuilder, x: T, p: string): T {
  let b3 = basic(b, x, `${p}.branch3x3_1`, 192, 1);
  b3 = basic(b, b3, `${p}.branch3x3_2`, 320, 3, { stride: 2 });
  let b7 = basic(b, x, `${p}.branch7x7x3_1`, 192, 1);
  b7 = basic(b, b7, `${p}.branch7x7x3_2`, 192, [1, 7], { pad: [0, 3] });
  b7 = basic(b, b7, `${p}.branch7x7x3_3`, 192, [7, 1], { pad: [3, 0] });
  b7 = basic(b, b7, `${p}.branch7x7x3_4`, 192, 3, { stride: 2 });
  const pool = b.maxPool(x, { kernel: 3, stride: 2, name: `${p}.maxpool` });
  return b.concat([b3, b7, pool], 1, `${p}.concat`);
}

function inceptionE(b: GraphBuilder, x: T, p: string): T {
  const b1 = basic(b, x, `${p}.branch1x1`, 320, 1);
  const b3 = basic(b, x, `${p}.branch3x3_1`, 384, 1);
  // torchvision concatenates the 1x3 / 3x1 pairs first, then all branches: two Concat levels.
  const b3cat = b.concat(
    [basic(b, b3, `${p}.branch3x3_2a`, 384, [1, 3], { pad: [0, 1] }), basic(b, b3, `${p}.branch3x3_2b`, 384, [3, 1], { pad: [1, 0] })],
    1,
    `${p}.branch3x3.concat`,
  );
  let bd = basic(b, x, `${p}.branch3x3dbl_1`, 448, 1);
  bd = basic(b, bd, `${p}.branch3x3dbl_2`, 384, 3, { pad: 1 });
  const bdcat = b.concat(
    [basic(b, bd, `${p}.branch3x3dbl_3a`, 384, [1, 3], { pad: [0, 1] }), basic(b, bd, `${p}.branch3x3dbl_3b`, 384, [3, 1], { pad: [1, 0] })],
    1,
    `${p}.branch3x3dbl.concat`,
  );
  return b.concat([b1, b3cat, bdcat, avgPoolBranch(b, x, p, 192)], 1, `${p}.concat`);
}

export function inceptionV3({ batch = 1, resolution = 299 }: InceptionV3Options = {}): Graph {
  positiveInt('inception_v3', 'batch', batch);
  positiveInt('inception_v3', 'resolution', resolution);
  const b = new GraphBuilder('inception_v3');
  let x = b.input('input', [batch, 3, resolution, resolution]);
  x = basic(b, x, 'Conv2d_1a_3x3', 32, 3, { stride: 2 });
  x = basic(b, x, 'Conv2d_2a_3x3', 32, 3);
  x = basic(b, x, 'Conv2d_2b_3x3', 64, 3, { pad: 1 });
  x = b.maxPool(x, { kernel: 3, stride: 2, name: 'maxpool1' });
  x = basic(b, x, 'Conv2d_3b_1x1', 80, 1);
  x = basic(b, x, 'Conv2d_4a_3x3', 192, 3);
  x = b.maxPool(x, { kernel: 3, stride: 2, name: 'maxpool2' });
  x = inceptionA(b, x, 'Mixed_5b', 32);
  x = inceptionA(b, x, 'Mixed_5c', 64);
  x = inceptionA(b, x, 'Mixed_5d', 64);
  x = inceptionB(b, x, 'Mixed_6a');
  x = inceptionC(b, x, 'Mixed_6b', 128);
  x = inceptionC(b, x, 'Mixed_6c', 160);
  x = inceptionC(b, x, 'Mixed_6d', 160);
  x = inceptionC(b, x, 'Mixed_6e', 192);
  x = inceptionD(b, x, 'Mixed_7a');
  x = inceptionE(b, x, 'Mixed_7b');
  x = inceptionE(b, x, 'Mixed_7c');
  // Dropout is the identity at inference and is left out.
  x = b.flatten(b.globalAvgPool(x, 'avgpool'), 1, 'flatten');
  b.output(b.linear(x, 1000, { name: 'fc' }));
  return b.build();
}
