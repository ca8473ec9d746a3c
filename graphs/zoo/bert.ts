/**
 * One BERT-base encoder layer (Devlin et al. 2019; HuggingFace BertLayer) on hidden states
 * [batch, seq, hidden], post-LayerNorm as in the original:
 *   Q/K/V = x·W + b  → Reshape [0, 0, heads, dh] → Transpose to [b, heads, seq, dh] (K to [b, heads, dh, seq])
 *   scores = Q·Kᵀ / sqrt(dh)  (Div by a constant, as HuggingFace writes it)  + attention_mask
 *   ctx = Softmax(scores)·V → Transpose → Reshape [0, 0, hidden] → dense → + x → LayerNorm (eps 1e-12)
 *   FFN: dense(ffn) → Gelu → dense(hidden) → + residual → LayerNorm (eps 1e-12)
 * Attention mask: by default the graph takes a second float input `attention_mask` [batch, 1, 1, seq],
 * HuggingFace's "extended" additive mask (0 for real tokens, a large negative number for padding),
 * because served BERT always pads to a fixed seq and masks; `mask: false` drops it (no Add node).
 * Reshape targets use 0 (copy the batch) so `withBatch` re-infers the graph for any batch.
 * Node ids follow the HuggingFace module paths (`attention.self.query`, `output.LayerNorm`, ...);
 * dense weights are stored [in, out] (MatMul layout), the transpose of PyTorch's Linear.
 * BERT-base sizes: 7,087,872 parameters per layer.
 */
import { GraphBuilder, type T } from '../builder.js';
import { type Graph, GraphError } from '../ir.js';
import { positiveInt } from './common.js';

export interface BertLayerOptions {
  batch?: number;
  seq?: number;
  hidden?: number;
  heads?: number;
  ffn?: number;
  /** Whether the layer takes the additive attention mask input (default true). */
  mask?: boolean;
}

export function bertEncoderLayer({ batch = 1, seq = 128, hidden = 768, heads = 12, ffn = 3072, mask = true }: BertLayerOptions = {}): Graph {
  const name = 'bert_layer';
  for (const [k, v] of Object.entries({ batch, seq, hidden, heads, ffn })) positiveInt(name, k, v);
  if (hidden % heads !== 0) throw new GraphError(`option 'hidden' (${hidden}) must be divisible by 'heads' (${heads})`, `zoo model '${name}'`);
  const dh = hidden / heads;
  const b = new GraphBuilder(name);
  const x = b.input('hidden_states', [batch, seq, hidden]);
  const m = mask ? b.input('attention_mask', [batch, 1, 1, seq]) : undefined;

  // Projection to [b, heads, seq, dh] (perm [0, 2, 1, 3]) or, for K, straight to [b, heads, dh, seq].
  const project = (id: string, perm: number[]): T => {
    const y = b.dense(x, hidden, { name: `attention.self.${id}` });
    return b.transpose(b.reshape(y, [0, 0, heads, dh], `attention.self.${id}.reshape`), perm, `attention.self.${id}.transpose`);
  };
  const q = project('query', [0, 2, 1, 3]);
  const k = project('key', [0, 2, 3, 1]);
  const v = project('value', [0, 2, 1, 3]);
  let scores = b.matmul(q, k, 'attention.self.scores');
  scores = b.div(scores, b.constant(Math.sqrt(dh), [], 'attention.self.sqrt_dh'), 'attention.self.scale');
  if (m) scores = b.add(scores, m, 'attention.self.mask');
  const probs = b.softmax(scores, -1, 'attention.self.softmax');
  // Dropout on the probabilities and after each dense is the identity at inference, left out.
  let ctx = b.matmul(probs, v, 'attention.self.context');
  ctx = b.reshape(b.transpose(ctx, [0, 2, 1, 3], 'attention.self.context.transpose'), [0, 0, hidden], 'attention.self.context.reshape');

  let h = b.dense(ctx, hidden, { name: 'attention.output.dense' });
  h = b.layerNorm(b.add(h, x, 'attention.output.residual'), { epsilon: 1e-12, name: 'attention.output.LayerNorm' });

  let f = b.gelu(b.dense(h, ffn, { name: 'intermediate.dense' }), 'intermediate.gelu');
  f = b.dense(f, hidden, { name: 'output.dense' });
  b.output(b.layerNorm(b.add(f, h, 'output.residual'), { epsilon: 1e-12, name: 'output.LayerNorm' }));
  return b.build();
}
