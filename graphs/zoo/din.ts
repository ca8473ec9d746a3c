/**
 * DIN, the Deep Interest Network CTR model (Zhou et al., KDD 2018), at inference.
 *
 * Inputs (int64 ids unless said): `user_id` [b, 1]; the behaviour sequence `hist_item`, `hist_cate`
 * [b, history]; the candidate ad `cand_item`, `cand_cate` [b, 1]; and the float `hist_mask`
 * [b, 1, history] (1 for a real behaviour, 0 for padding: histories are padded to a fixed length).
 *
 * Sizes default to the paper's Amazon (Electronics) data set — 192,403 users, 63,001 goods, 801
 * categories (Table 1) — with 18-dim embeddings per id field (the DIN/DIEN reference code's
 * EMBEDDING_DIM), so an item is [goods ‖ category] = 36 dims. The item and category tables are
 * shared by the behaviours and the candidate, as in the paper.
 *
 * Local activation unit (per behaviour): MLP 80-40-1 over [q, k, q−k, q⊙k] with Sigmoid hidden
 * activations, as the reference code; the query (candidate) is broadcast over the history with
 * Expand. Following the paper (§4.3) the weights are not softmax-normalised; the padding mask
 * multiplies them, then a [b, 1, T]·[b, T, 36] MatMul does the weighted sum pooling.
 * Top MLP 200-80-2 over [user ‖ candidate ‖ pooled interest]; the paper's PReLU/Dice activations
 * are replaced by Relu (the IR has neither; at inference both are per-channel elementwise ops of the
 * same shape, so the substitution changes no shape and no MAC). Output: Softmax over 2 classes.
 */
import { GraphBuilder, type T } from '../builder.js';
import type { Graph } from '../ir.js';
import { positiveInt } from './common.js';

export interface DinOptions {
  batch?: number;
  /** Behaviours per user (padded length). */
  history?: number;
  users?: number;
  items?: number;
  categories?: number;
  /** Embedding width of each id field. */
  embDim?: number;
  /** Hidden widths of the local activation unit (a final width-1 layer is added). */
  attention?: number[];
  /** Hidden widths of the top MLP (a final width-2 layer is added). */
  mlp?: number[];
}

export function din({
  batch = 1,
  history = 50,
  users = 192_403,
  items = 63_001,
  categories = 801,
  embDim = 18,
  attention = [80, 40],
  mlp = [200, 80],
}: DinOptions = {}): Graph {
  const name = 'din';
  for (const [k, v] of Object.entries({ batch, history, users, items, categories, embDim })) positiveInt(name, k, v);
  for (const [i, w] of attention.entries()) positiveInt(name, `attention[${i}]`, w);
  for (const [i, w] of mlp.entries()) positiveInt(name, `mlp[${i}]`, w);
  const b = new GraphBuilder(name);
  const userId = b.input('user_id', [batch, 1], 'int64');
  const histItem = b.input('hist_item', [batch, history], 'int64');
  const histCate = b.input('hist_cate', [batch, history], 'int64');
  const candItem = b.input('cand_item', [batch, 1], 'int64');
  const candCate = b.input('cand_cate', [batch, 1], 'int64');
  const histMask = b.input('hist_mask', [batch, 1, history]);

  // Shared tables: b.embedding would make one table per call, so gather from explicit params.
  const itemTable = b.param('item_emb.weight', [items, embDim], 'embedding');
  const cateTable = b.param('cate_emb.weight', [categories, embDim], 'embedding');
  const gather = (table: T, idx: T, id: string): T => b.op('Gather', [table, idx], { axis: 0 }, { name: id })[0];
  const keys = b.concat([gather(itemTable, histItem, 'item_emb.hist'), gather(cateTable, histCate, 'cate_emb.hist')], 2, 'hist_emb'); // [b, T, 2e]
  const query = b.concat([gather(itemTable, candItem, 'item_emb.cand'), gather(cateTable, candCate, 'cate_emb.cand')], 2, 'cand_emb'); // [b, 1, 2e]
  const user = b.reshape(b.embedding(userId, users, embDim, 'user_emb'), [0, -1], 'user_emb.flatten'); // [b, e]

  // Local activation unit.
  const q = b.expand(query, [1, history, 1], 'att.query_expand');
  let a = b.concat([q, keys, b.sub(q, keys, 'att.diff'), b.mul(q, keys, 'att.prod')], 2, 'att.input'); // [b, T, 8e]
  attention.forEach((w, i) => {
    a = b.sigmoid(b.dense(a, w, { name: `att.fc${i + 1}` }), `att.sigmoid${i + 1}`);
  });
  a = b.dense(a, 1, { name: `att.fc${attention.length + 1}` }); // [b, T, 1]
  const weights = b.mul(b.transpose(a, [0, 2, 1], 'att.weights'), histMask, 'att.masked'); // [b, 1, T]
  const interest = b.reshape(b.matmul(weights, keys, 'att.pool'), [0, -1], 'att.pool.flatten'); // [b, 2e]

  let x = b.concat([user, b.reshape(query, [0, -1], 'cand_emb.flatten'), interest], 1, 'mlp.input');
  mlp.forEach((w, i) => {
    x = b.relu(b.linear(x, w, { name: `mlp.fc${i + 1}` }), `mlp.relu${i + 1}`);
  });
  x = b.linear(x, 2, { name: `mlp.fc${mlp.length + 1}` });
  b.output(b.softmax(x, -1, 'prob'));
  return b.build();
}
