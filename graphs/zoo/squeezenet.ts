/**
 * torchvision SqueezeNet 1.1 (squeezenet1_1): convs with bias and no BatchNorm, MaxPool with
 * ceil_mode=True, and a conv classifier (1x1 conv to 1000 + Relu) followed by global average pooling.
 * Node ids follow the torchvision module paths (`features.3.expand3x3`, `classifier.1`, ...).
 * torchvision: 1,235,496 parameters, 0.35 G MACs at 224².
 */
import { GraphBuilder, type T } from '../builder.js';
import type { Graph } from '../ir.js';
import { positiveInt } from './common.js';

export interface SqueezeNetOptions {
  batch?: number;
  resolution?: number;
}

function fire(b: GraphBuilder, x: T, p: string, squeeze: number, e1: number, e3: number): T {
  const s = b.relu(b.conv(x, { out: squeeze, kernel: 1, bias: true, name: `${p}.squeeze` }), `${p}.squeeze_activation`);
  const a = b.relu(b.conv(s, { out: e1, kernel: 1, bias: true, name: `${p}.expand1x1` }), `${p}.expand1x1_activation`);
  const c = b.relu(b.conv(s, { out: e3, kernel: 3, pad: 1, bias: true, name: `${p}.expand3x3` }), `${p}.expand3x3_activation`);
  return b.concat([a, c], 1, `${p}.concat`);
}

export function squeezenet11({ batch = 1, resolution = 224 }: SqueezeNetOptions = {}): Graph {
  positiveInt('squeezenet1_1', 'batch', batch);
  positiveInt('squeezenet1_1', 'resolution', resolution);
  const b = new GraphBuilder('squeezenet1_1');
  let x = b.input('input', [batch, 3, resolution, resolution]);
  x = b.relu(b.conv(x, { out: 64, kernel: 3, stride: 2, bias: true, name: 'features.0' }), 'features.1');
  x = b.maxPool(x, { kernel: 3, stride: 2, ceil: true, name: 'features.2' });
  x = fire(b, x, 'features.3', 16, 64, 64);
  x = fire(b, x, 'features.4', 16, 64, 64);
  x = b.maxPool(x, { kernel: 3, stride: 2, ceil: true, name: 'features.5' });
  x = fire(b, x, 'features.6', 32, 128, 128);
  x = fire(b, x, 'features.7', 32, 128, 128);
  x = b.maxPool(x, { kernel: 3, stride: 2, ceil: true, name: 'features.8' });
  x = fire(b, x, 'features.9', 48, 192, 192);
  x = fire(b, x, 'features.10', 48, 192, 192);
  x = fire(b, x, 'features.11', 64, 256, 256);
  x = fire(b, x, 'features.12', 64, 256, 256);
  // classifier.0 is Dropout: the identity at inference, left out.
  x = b.relu(b.conv(x, { out: 1000, kernel: 1, bias: true, name: 'classifier.1' }), 'classifier.2');
  x = b.globalAvgPool(x, 'classifier.3');
  b.output(b.flatten(x, 1, 'flatten'));
  return b.build();
}
