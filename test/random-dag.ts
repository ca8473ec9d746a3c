/**
 * Seeded random CNN-like DAGs for partitioner and memory-planner tests: Conv / Add / Concat / Relu
 * nodes wired to earlier tensors. The number of open branches (tensors nobody reads yet) is capped
 * at `width`, which keeps the number of DP states manageable for an exact search, and Convs often
 * read the same tensor as an earlier Conv, so merge stages occur.
 */
import seedrandom from 'seedrandom';
import { GraphBuilder, type T } from '../graphs/builder.js';
import type { Graph } from '../graphs/ir.js';

export interface RandomDagOptions {
  /** Number of operator nodes. */
  nodes: number;
  seed: number | string;
  /** Probability that a Conv reads the same tensor as an earlier Conv. Default 0.35. */
  sibling?: number;
  /** Most open branches (tensors without a reader) at any time; at the cap, ops join branches. Default 4. */
  width?: number;
  /** Spatial side of every tensor. Default 8. */
  side?: number;
}

export function randomDag(opts: RandomDagOptions): Graph {
  const rng = seedrandom(`dag:${opts.seed}`);
  const side = opts.side ?? 8;
  const sibling = opts.sibling ?? 0.35;
  const width = Math.max(2, opts.width ?? 4);
  const b = new GraphBuilder(`rand_${opts.seed}_${opts.nodes}`);
  const x = b.input('x', [1, 4, side, side]);
  const tensors: T[] = [x];
  const open: T[] = [x];
  const convInputs: T[] = [];
  const int = (n: number) => Math.floor(rng() * n);
  const read = (t: T) => {
    const i = open.indexOf(t);
    if (i >= 0) open.splice(i, 1);
  };
  /** An open tensor (extends a branch), or — while below the width cap — any recent tensor (a new branch). */
  const pick = (): T => {
    if (open.length >= width || rng() < 0.6) return open[Math.max(0, open.length - 1 - int(3))];
    return tensors[Math.max(0, tensors.length - 1 - int(6))];
  };
  for (let i = 0; i < opts.nodes; i++) {
    const name = `n${i}`;
    const u = rng();
    let out: T;
    if (open.length >= 2 && (open.length >= width || u < 0.3)) {
      // Join two open branches.
      const a = open[open.length - 1 - int(Math.min(3, open.length))];
      const rest = open.filter((t) => t !== a);
      const c = rest[int(rest.length)];
      out = a.shape.join() === c.shape.join() && rng() < 0.5 ? b.add(a, c, name) : b.concat([a, c], 1, name);
      read(a);
      read(c);
    } else if (u < 0.75) {
      const src = convInputs.length && open.length < width && rng() < sibling ? convInputs[int(convInputs.length)] : pick();
      const k = rng() < 0.5 ? 1 : 3;
      out = b.conv(src, { out: rng() < 0.5 ? 4 : 8, kernel: k, pad: (k - 1) / 2, name });
      convInputs.push(src);
      read(src);
    } else {
      const src = pick();
      out = b.relu(src, name);
      read(src);
    }
    tensors.push(out);
    open.push(out);
  }
  for (const t of open) if (t !== x) b.output(t);
  return b.build();
}
