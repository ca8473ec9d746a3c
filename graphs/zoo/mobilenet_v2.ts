/**
 * torchvision MobileNetV2 (mobilenet_v2): inverted residual blocks (1x1 expand + ReLU6, 3x3
 * depthwise as a grouped conv + ReLU6, 1x1 linear projection), conv without bias + BatchNorm,
 * ReLU6 as Clip(0, 6). `width` is torchvision's width_mult, channels rounded with _make_divisible(·, 8).
 * Node ids follow the torchvision module paths (`features.2.conv.1.0` is block 2's depthwise conv).
 * torchvision (width 1.0): 3,504,872 parameters, 0.30 G MACs at 224².
 */
import { GraphBuilder, type T } from '../builder.js';
import { type Graph, GraphError } from '../ir.js';
import { positiveInt } from './common.js';

export interface MobileNetV2Options {
  batch?: number;
  resolution?: number;
  /** Width multiplier (torchvision width_mult). */
  width?: number;
}

/** [expand ratio t, channels c, repeats n, first stride s], from the paper and torchvision. */
const SETTING: [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** torchvision's _make_divisible: round to a multiple of 8, never dropping more than 10 %. */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** Conv2dNormActivation: ids `${p}.0` conv, `${p}.1` BN, `${p}.2` ReLU6. */
function cna(b: GraphBuilder, x: T, p: string, out: number, kernel: number, stride = 1, group = 1): T {
  const y = b.conv(x, { out, kernel, stride, pad: (kernel - 1) >> 1, group, name: `${p}.0` });
  return b.relu6(b.batchNorm(y, { name: `${p}.1` }), `${p}.2`);
}

function invertedResidual(b: GraphBuilder, x: T, p: string, out: number, stride: number, t: number): T {
  const inp = x.shape[1];
  // Python's round() is banker's rounding, but inp × t is an integer for every t used here.
  const hidden = Math.round(inp * t);
  let k = 0;
  let y = x;
  if (t !== 1) y = cna(b, y, `${p}.conv.${k++}`, hidden, 1);
  y = cna(b, y, `${p}.conv.${k++}`, hidden, 3, stride, hidden);
  y = b.conv(y, { out, kernel: 1, name: `${p}.conv.${k++}` });
  y = b.batchNorm(y, { name: `${p}.conv.${k++}` });
  return stride === 1 && inp === out ? b.add(x, y, `${p}.add`) : y;
}

export function mobilenetV2({ batch = 1, resolution = 224, width = 1.0 }: MobileNetV2Options = {}): Graph {
  positiveInt('mobilenet_v2', 'batch', batch);
  positiveInt('mobilenet_v2', 'resolution', resolution);
  if (!(width > 0) || !Number.isFinite(width)) throw new GraphError(`option 'width' must be a positive number, got ${width}`, `zoo model 'mobilenet_v2'`);
  const b = new GraphBuilder('mobilenet_v2');
  let x = b.input('input', [batch, 3, resolution, resolution]);
  let f = 0;
  x = cna(b, x, `features.${f++}`, makeDivisible(32 * width), 3, 2);
  for (const [t, c, n, s] of SETTING) {
    const out = makeDivisible(c * width);
    for (let i = 0; i < n; i++) x = invertedResidual(b, x, `features.${f++}`, out, i === 0 ? s : 1, t);
  }
  x = cna(b, x, `features.${f++}`, makeDivisible(1280 * Math.max(1.0, width)), 1);
  x = b.flatten(b.globalAvgPool(x, 'avgpool'), 1, 'flatten');
  // classifier.0 is Dropout(0.2): the identity at inference, left out.
  b.output(b.linear(x, 1000, { name: 'classifier.1' }));
  return b.build();
}
