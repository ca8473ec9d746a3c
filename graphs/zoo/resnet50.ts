/**
 * torchvision ResNet-50 (resnet50): Bottleneck v1.5, i.e. the stride of a down-sampling block sits on
 * its 3x3 conv (conv2), not on the first 1x1. Convs carry no bias; each is followed by BatchNorm.
 * Node ids and initializer names follow the torchvision state dict (`layer1.0.conv1.weight`, ...).
 * torchvision: 25,557,032 parameters, 4.09 G MACs at 224².
 */
import { GraphBuilder, type T } from '../builder.js';
import type { Graph } from '../ir.js';
import { positiveInt } from './common.js';

export interface ResNet50Options {
  batch?: number;
  resolution?: number;
}

/** [blocks, width] per stage; the stage output has 4 × width channels (Bottleneck.expansion). */
const STAGES: [number, number][] = [
  [3, 64],
  [4, 128],
  [6, 256],
  [3, 512],
];

function bottleneck(b: GraphBuilder, x: T, p: string, width: number, stride: number): T {
  const out = width * 4;
  let y = b.relu(b.batchNorm(b.conv(x, { out: width, kernel: 1, name: `${p}.conv1` }), { name: `${p}.bn1` }), `${p}.relu1`);
  y = b.relu(b.batchNorm(b.conv(y, { out: width, kernel: 3, stride, pad: 1, name: `${p}.conv2` }), { name: `${p}.bn2` }), `${p}.relu2`);
  y = b.batchNorm(b.conv(y, { out, kernel: 1, name: `${p}.conv3` }), { name: `${p}.bn3` });
  // torchvision adds a projection whenever the shape changes: first block of every stage.
  const identity =
    stride !== 1 || x.shape[1] !== out ? b.batchNorm(b.conv(x, { out, kernel: 1, stride, name: `${p}.downsample.0` }), { name: `${p}.downsample.1` }) : x;
  return b.relu(b.add(y, identity, `${p}.add`), `${p}.relu3`);
}

export function resnet50({ batch = 1, resolution = 224 }: ResNet50Options = {}): Graph {
  positiveInt('resnet50', 'batch', batch);
  positiveInt('resnet50', 'resolution', resolution);
  const b = new GraphBuilder('resnet50');
  let x = b.input('input', [batch, 3, resolution, resolution]);
  x = b.relu(b.batchNorm(b.conv(x, { out: 64, kernel: 7, stride: 2, pad: 3, name: 'conv1' }), { name: 'bn1' }), 'relu');
  x = b.maxPool(x, { kernel: 3, stride: 2, pad: 1, name: 'maxpool' });
  STAGES.forEach(([blocks, width], s) => {
    for (let i = 0; i < blocks; i++) x = bottleneck(b, x, `layer${s + 1}.${i}`, width, i === 0 && s > 0 ? 2 : 1);
  });
  x = b.flatten(b.globalAvgPool(x, 'avgpool'), 1, 'flatten');
  b.output(b.linear(x, 1000, { name: 'fc' }));
  return b.build();
}
