/**
 * Graph optimisation passes: each a pure Graph → Graph function that leaves the numerics unchanged
 * (tests compare against onnxruntime-node), applied in order by `optimizeGraph`:
 *  - eliminateIdentities: Identity / Dropout removed, readers rewired;
 *  - fuseLayerNorms / fuseGelus: the decomposed LayerNorm and GELU (erf) patterns exporters write
 *    become LayerNormalization / Gelu;
 *  - foldConvBatchNorm: BatchNormalization after a Conv folded into its weights and bias;
 *  - fuseEpilogues: a residual Add and an activation after a Conv / Gemm / MatMul become its
 *    epilogue (oneDNN post-ops; graphs/epilogue.ts);
 *  - eliminateDeadCode: nodes that reach no output and initializers nobody reads removed.
 */
import type { Graph } from '../ir.js';
import { eliminateDeadCode } from './dead-code.js';
import { foldConvBatchNorm } from './fold-conv-bn.js';
import { fuseEpilogues } from './fuse-epilogue.js';
import { fuseGelus, fuseLayerNorms } from './fuse-norms.js';
import { eliminateIdentities } from './identity.js';

export { eliminateDeadCode, eliminateIdentities, foldConvBatchNorm, fuseEpilogues, fuseGelus, fuseLayerNorms };

export interface PassReport {
  pass: string;
  nodesBefore: number;
  nodesAfter: number;
}

/** Every pass in order; `seed` materialises generated weights where a pass needs values. */
export function optimizeGraph(graph: Graph, o: { seed?: number } = {}): { graph: Graph; passes: PassReport[] } {
  const passes: [string, (g: Graph) => Graph][] = [
    ['identity elimination', eliminateIdentities],
    ['layernorm and gelu pattern fusion', (g) => fuseGelus(fuseLayerNorms(g))],
    ['conv + batchnorm folding', (g) => foldConvBatchNorm(g, o.seed ?? 0)],
    ['epilogue fusion (residual add, activation)', fuseEpilogues],
    ['dead-code elimination', eliminateDeadCode],
  ];
  const report: PassReport[] = [];
  let g = graph;
  for (const [pass, fn] of passes) {
    const before = g.nodes.length;
    g = fn(g);
    report.push({ pass, nodesBefore: before, nodesAfter: g.nodes.length });
  }
  return { graph: g, passes: report };
}
