/**
 * The model zoo registry: every built-in model by name, with the published size figures the tests
 * hold the builders to. `buildModel(name, opts)` is the single entry point tools use.
 */
import { type Graph, GraphError } from '../ir.js';
import { bertEncoderLayer } from './bert.js';
import { din } from './din.js';
import { inceptionV3 } from './inception_v3.js';
import { mobilenetV2 } from './mobilenet_v2.js';
import { nasnetALarge, nasnetAMobile } from './nasnet.js';
import { randwire } from './randwire.js';
import { resnet50 } from './resnet50.js';
import { squeezenet11 } from './squeezenet.js';

export interface ZooBuildOptions {
  batch?: number;
  /** Input side for image models (ignored by sequence / tabular models). */
  resolution?: number;
  /** RNG seed for models with random structure (RandWire); ignored by the others. */
  seed?: number;
}

export interface ZooEntry {
  name: string;
  description: string;
  build(opts: ZooBuildOptions): Graph;
  /** Published size at batch 1: parameters and multiply-accumulates, at `resolution` where it applies. */
  published?: { params?: number; macs?: number; resolution?: number; source: string };
}

const TV = 'torchvision model card (https://pytorch.org/vision/stable/models.html)';

export const ZOO: Record<string, ZooEntry> = {
  resnet50: {
    name: 'resnet50',
    description: 'ResNet-50 (torchvision, Bottleneck v1.5), 224x224 ImageNet classifier',
    build: ({ batch, resolution }) => resnet50({ batch, resolution }),
    published: { params: 25_557_032, macs: 4.1e9, resolution: 224, source: TV },
  },
  inception_v3: {
    name: 'inception_v3',
    description: 'Inception-v3 (torchvision, no aux head), 299x299 ImageNet classifier',
    build: ({ batch, resolution }) => inceptionV3({ batch, resolution }),
    published: { params: 23_834_568, macs: 5.7e9, resolution: 299, source: `${TV}; 27,161,264 with AuxLogits minus its 3,326,696` },
  },
  squeezenet1_1: {
    name: 'squeezenet1_1',
    description: 'SqueezeNet 1.1 (torchvision), 224x224 ImageNet classifier',
    build: ({ batch, resolution }) => squeezenet11({ batch, resolution }),
    published: { params: 1_235_496, macs: 0.35e9, resolution: 224, source: TV },
  },
  mobilenet_v2: {
    name: 'mobilenet_v2',
    description: 'MobileNetV2 width 1.0 (torchvision), 224x224 ImageNet classifier',
    build: ({ batch, resolution }) => mobilenetV2({ batch, resolution }),
    published: { params: 3_504_872, macs: 0.3e9, resolution: 224, source: TV },
  },
  bert_layer: {
    name: 'bert_layer',
    description: 'One BERT-base encoder layer (hidden 768, 12 heads, FFN 3072) on a 128-token sequence, with additive attention mask',
    build: ({ batch }) => bertEncoderLayer({ batch }),
    published: { params: 7_087_872, source: 'BERT-base (Devlin et al. 2019): 4·(768²+768) attention + 2·768·3072+3072+768 FFN + 2·1536 LayerNorm' },
  },
  din: {
    name: 'din',
    description: 'Deep Interest Network CTR model (Zhou et al. 2018), Amazon Electronics sizes, 50 behaviours',
    build: ({ batch }) => din({ batch }),
  },
  nasnet_mobile: {
    name: 'nasnet_mobile',
    description: 'NASNet-A Mobile (4 @ 1056), 224x224 ImageNet classifier',
    build: ({ batch, resolution }) => nasnetAMobile({ batch, resolution }),
    published: { params: 5.3e6, macs: 564e6, resolution: 224, source: 'Zoph et al. 2018, Learning Transferable Architectures, Table 3' },
  },
  nasnet_large: {
    name: 'nasnet_large',
    description: 'NASNet-A Large (6 @ 4032), 331x331 ImageNet classifier',
    build: ({ batch, resolution }) => nasnetALarge({ batch, resolution }),
    published: { params: 88.9e6, macs: 23.8e9, resolution: 331, source: 'Zoph et al. 2018, Learning Transferable Architectures, Table 2' },
  },
  randwire: {
    name: 'randwire',
    description: 'RandWire-WS network (Xie et al. 2019) with seeded random wiring',
    build: ({ batch, resolution, seed }) => randwire({ batch, resolution, seed }),
    // The paper reports the mean over random graphs (5.6 ± 0.1 M, 583 ± 6.2 M), so one seed sits near, not on, it.
    published: {
      params: 5.6e6,
      macs: 583e6,
      resolution: 224,
      source: 'Xie et al. 2019, Exploring Randomly Wired Neural Networks, Table 2 (small regime, C = 78)',
    },
  },
};

export function zooNames(): string[] {
  return Object.keys(ZOO);
}

/** Builds a registered model; an unknown name is an error that lists the known ones. */
export function buildModel(name: string, opts: ZooBuildOptions = {}): Graph {
  const entry = Object.hasOwn(ZOO, name) ? ZOO[name] : undefined;
  if (!entry) throw new GraphError(`unknown model '${name}'; known models: ${zooNames().join(', ')}`, 'zoo');
  return entry.build(opts);
}
