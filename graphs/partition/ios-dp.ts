/**
 * IOS's dynamic programme (Ding et al., MLSys 2021, §4), written from the paper and its reference
 * code's structure, with its own set enumeration.
 *
 * Formulation (IOS's, "backward"): a state S is a set of operators of the part that is closed under
 * predecessors — the operators still to be placed when the schedule is built from its last stage
 * backwards; cost[S] is the least latency of running exactly S. An *ending* of S is a non-empty
 * E ⊆ S closed under successors within S (nothing left in S − E reads E), so E can run last:
 *
 *     cost[∅] = 0,   cost[S] = min over endings E of  cost[S − E] + stage_latency(E).
 *
 * S − E is again closed under predecessors, so every state reached from the whole part is valid.
 *
 * Stage kinds for an ending E:
 *  - parallel: the groups are the weakly connected components of E, each run as one chain in
 *    topological order. Pruned as IOS prunes: every component has at most r operators and there are
 *    at most s components. (IOS's code takes each group as the successor closure of one operator;
 *    components are a superset of that space: a group may also join two branches, a → c ← b.)
 *  - merge: E is ≥ 2 sibling Convs fusable into one wider conv (`mergeableConvs`). Siblings read
 *    the same tensor, so none reads another and all are sinks of S; at most s of them.
 *
 * Enumeration (IOS's "extend from the sinks", made exact): an ending is the union of the successor
 * closures cl(v) = {v} ∪ desc_S(v) of its members, and a component holds ≤ r operators, so only
 * candidates with |cl(v)| ≤ r matter — the operators within r − 1 steps of S's sinks. *Atoms* are the
 * connected unions of candidate closures with ≤ r operators, generated once per state from their
 * smallest member; endings are then the sets of ≤ s pairwise disjoint, non-adjacent atoms, chosen in
 * increasing order, so each ending is produced exactly once with its components known.
 *
 * Large graphs: IOS-style blocks and parts (blocks.ts); each part is searched on its own and the
 * schedules concatenated. Sets are word bitsets keyed as numbers for parts of ≤ 53 operators.
 * Stage latencies are cached per part by (kind, node set): a stage's groups depend only on its set.
 */
import { type CostModel, scheduleLatency } from '../cost/model.js';
import type { Graph } from '../ir.js';
import { mergeableConvs, type Schedule, type Stage, type StageKind, validateSchedule } from '../schedule.js';
import { buildDag, type Dag } from '../topo.js';
import * as B from './bitset.js';
import { splitBlocks } from './blocks.js';
import { greedyStages } from './greedy.js';
import { type KeyMap, makeKeyMap } from './keymap.js';
import { type BlockStats, type PartitionOptions, type PartitionResult, type PartStats, type ResolvedOptions, resolveOptions } from './types.js';

class BudgetExceeded extends Error {}

interface Atom {
  set: Uint32Array;
  /** The atom and its neighbours in the part: no other atom of the same ending may touch this. */
  reach: Uint32Array;
}

/** The exact search over one part (≤ maxPartOps operators). */
export class PartSearch {
  readonly m: number;
  private readonly numeric: boolean;
  private readonly ids: string[];
  private readonly succL: number[][];
  private readonly predL: number[][];
  private readonly succB: Uint32Array[];
  private readonly nbrB: Uint32Array[];
  private readonly descB: Uint32Array[];
  /** Merge class of each local operator (Convs that fuse with each other), -1 when none. */
  private readonly mergeClass: Int32Array;
  private readonly memo: KeyMap;
  private readonly choice = new Map<B.SetKey, { set: Uint32Array; kind: StageKind }>();
  private readonly parallelCost: KeyMap;
  private readonly mergeCost: KeyMap;
  states = 0;
  transitions = 0;

  constructor(
    private readonly graph: Graph,
    dag: Dag,
    /** Global node indices of the part, topologically ordered. */
    nodes: readonly number[],
    private readonly cost: CostModel,
    private readonly o: ResolvedOptions,
    private readonly deadline = Number.POSITIVE_INFINITY,
  ) {
    const m = nodes.length;
    this.m = m;
    this.numeric = m <= B.NUMERIC_KEY_BITS;
    this.memo = makeKeyMap(this.numeric);
    this.parallelCost = makeKeyMap(this.numeric);
    this.mergeCost = makeKeyMap(this.numeric);
    const local = new Map<number, number>();
    nodes.forEach((v, i) => {
      local.set(v, i);
    });
    this.ids = nodes.map((v) => dag.nodes[v].id);
    this.succL = nodes.map((v) => dag.succs[v].filter((w) => local.has(w)).map((w) => local.get(w) as number));
    this.predL = nodes.map((v) => dag.preds[v].filter((u) => local.has(u)).map((u) => local.get(u) as number));
    for (let i = 0; i < m; i++)
      for (const j of this.succL[i]) if (j <= i) throw new Error(`part of '${graph.name}' is not topologically ordered at '${this.ids[i]}'`);
    this.succB = this.succL.map((s) => B.fromMembers(m, s));
    this.nbrB = this.succL.map((s, i) => B.fromMembers(m, [...s, ...this.predL[i]]));
    this.descB = new Array(m);
    for (let i = m - 1; i >= 0; i--) {
      const d = new Uint32Array(B.wordsFor(m));
      for (const j of this.succL[i]) {
        B.add(d, j);
        const dj = this.descB[j];
        for (let w = 0; w < d.length; w++) d[w] |= dj[w];
      }
      this.descB[i] = d;
    }
    this.mergeClass = new Int32Array(m).fill(-1);
    if (o.merge) this.classifyConvs(nodes.map((v) => dag.nodes[v]));
  }

  /** Groups Convs of the part into fusable classes (mergeableConvs is an equivalence relation). */
  private classifyConvs(nodes: Graph['nodes']): void {
    const reps: number[] = [];
    let next = 0;
    const classOf = new Map<number, number>();
    nodes.forEach((n, i) => {
      if (n.op !== 'Conv') return;
      for (const r of reps) {
        if (mergeableConvs([nodes[r], n]) === null) {
          classOf.set(i, classOf.get(r) as number);
          return;
        }
      }
      reps.push(i);
      classOf.set(i, next++);
    });
    const count = new Map<number, number>();
    for (const c of classOf.values()) count.set(c, (count.get(c) ?? 0) + 1);
    for (const [i, c] of classOf) if ((count.get(c) as number) > 1) this.mergeClass[i] = c;
  }

  /** Runs the DP over the whole part; returns its stages in execution order. */
  run(): Stage[] {
    const all = B.fromMembers(
      this.m,
      this.ids.map((_, i) => i),
    );
    this.memo.set(B.keyOf(new Uint32Array(all.length), this.numeric), 0);
    this.solve(all);
    const stages: Stage[] = [];
    let s = all;
    while (!B.isEmpty(s)) {
      const c = this.choice.get(B.keyOf(s, this.numeric));
      if (!c) throw new Error(`IOS-DP internal error: no choice recorded for a state of '${this.graph.name}'`);
      stages.push(this.stageOf(c.set, c.kind));
      s = B.diff(s, c.set);
    }
    return stages.reverse();
  }

  get stagesCosted(): number {
    return this.parallelCost.size + this.mergeCost.size;
  }

  private solve(S: Uint32Array): number {
    const key = B.keyOf(S, this.numeric);
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    if ((this.states & 15) === 0 && performance.now() > this.deadline) throw new BudgetExceeded();
    this.states++;
    const W = S.length;
    const mem = B.members(S);
    // A stage of S has at most |S| groups: a larger s (say 1e9) changes nothing but buffer sizes.
    const r = this.o.r;
    const s = Math.min(this.o.s, mem.length);

    // Candidates: operators whose successor closure within S fits in one group.
    const cand: number[] = [];
    const clos: Uint32Array[] = [];
    const closReach: Uint32Array[] = [];
    for (const v of mem) {
      if (1 + B.andCount(this.descB[v], S) > r) continue;
      const c = new Uint32Array(W);
      const dv = this.descB[v];
      for (let w = 0; w < W; w++) c[w] = dv[w] & S[w];
      B.add(c, v);
      const reach = c.slice();
      for (const u of B.members(c)) {
        const nb = this.nbrB[u];
        for (let w = 0; w < W; w++) reach[w] |= nb[w];
      }
      cand.push(v);
      clos.push(c);
      closReach.push(reach);
    }

    // Atoms: connected unions of candidate closures with ≤ r operators, grown from their smallest member.
    const atoms: Atom[] = [];
    for (let ci = 0; ci < cand.length; ci++) {
      const seen = new Set<B.SetKey>([B.keyOf(clos[ci], this.numeric)]);
      const grow = (set: Uint32Array, reach: Uint32Array) => {
        atoms.push({ set, reach });
        for (let cj = ci + 1; cj < cand.length; cj++) {
          if (B.has(set, cand[cj]) || !B.intersects(clos[cj], reach)) continue;
          const union = new Uint32Array(W);
          for (let w = 0; w < W; w++) union[w] = set[w] | clos[cj][w];
          if (B.size(union) > r) continue;
          const k = B.keyOf(union, this.numeric);
          if (seen.has(k)) continue;
          seen.add(k);
          const ur = new Uint32Array(W);
          for (let w = 0; w < W; w++) ur[w] = reach[w] | closReach[cj][w];
          grow(union, ur);
        }
      };
      grow(clos[ci], closReach[ci]);
    }

    let best = Number.POSITIVE_INFINITY;
    let bestSet: Uint32Array | null = null;
    let bestKind: StageKind = 'parallel';
    // `parts` lists the stage's groups, called only when the stage must be priced.
    const visit = (E: Uint32Array, kind: StageKind, parts: () => number[][]) => {
      this.transitions++;
      const restKey = B.keyOfDiff(S, E, this.numeric);
      let sub = this.memo.get(restKey);
      if (sub === undefined) sub = this.solve(B.diff(S, E));
      // Stage latencies are ≥ 0: a remainder that alone reaches the best total cannot win.
      if (sub >= best) return;
      const v = sub + this.stageCost(E, kind, parts);
      if (v < best) {
        best = v;
        bestSet = E.slice();
        bestKind = kind;
      }
    };

    // Parallel endings: ≤ s pairwise disjoint, non-adjacent atoms, in increasing atom order; the
    // chosen atoms are the stage's components (its groups).
    const Ebuf = Array.from({ length: s + 1 }, () => new Uint32Array(W));
    const Rbuf = Array.from({ length: s + 1 }, () => new Uint32Array(W));
    const chosen = new Array<number>(s).fill(0);
    let chosenCount = 0;
    const atomGroups = () => chosen.slice(0, chosenCount).map((a) => B.members(atoms[a].set));
    const pick = (depth: number, start: number) => {
      const E0 = Ebuf[depth];
      const R0 = Rbuf[depth];
      const E1 = Ebuf[depth + 1];
      const R1 = Rbuf[depth + 1];
      for (let a = start; a < atoms.length; a++) {
        const atom = atoms[a];
        if (B.intersects(atom.set, R0)) continue;
        for (let w = 0; w < W; w++) {
          E1[w] = E0[w] | atom.set[w];
          R1[w] = R0[w] | atom.reach[w];
        }
        chosen[depth] = a;
        chosenCount = depth + 1;
        visit(E1, 'parallel', atomGroups);
        if (depth + 1 < s) pick(depth + 1, a + 1);
      }
    };
    pick(0, 0);

    // Merge endings: ≥ 2 sinks of S from one merge class, at most s of them.
    if (this.o.merge) {
      const byClass = new Map<number, number[]>();
      for (const v of mem) {
        const c = this.mergeClass[v];
        if (c < 0 || B.intersects(this.succB[v], S)) continue;
        const list = byClass.get(c);
        if (list) list.push(v);
        else byClass.set(c, [v]);
      }
      for (const list of byClass.values()) {
        if (list.length < 2) continue;
        const E = new Uint32Array(W);
        const convs = () => B.members(E).map((v) => [v]);
        const subsets = (start: number, count: number) => {
          for (let i = start; i < list.length; i++) {
            B.add(E, list[i]);
            if (count + 1 >= 2) visit(E, 'merge', convs);
            if (count + 1 < s) subsets(i + 1, count + 1);
            E[list[i] >>> 5] &= ~(1 << (list[i] & 31));
          }
        };
        subsets(0, 0);
      }
    }

    if (bestSet === null) throw new Error(`IOS-DP internal error: a state of '${this.graph.name}' has no ending (r = ${r})`);
    this.memo.set(key, best);
    this.choice.set(key, { set: bestSet, kind: bestKind });
    return best;
  }

  private stageCost(E: Uint32Array, kind: StageKind, parts: () => number[][]): number {
    const cache = kind === 'merge' ? this.mergeCost : this.parallelCost;
    const k = B.keyOf(E, this.numeric);
    let c = cache.get(k);
    if (c === undefined) {
      const stage: Stage = { kind, groups: parts().map((g) => g.map((v) => this.ids[v])) };
      c = this.cost.stageLatency(this.graph, stage);
      if (!Number.isFinite(c) || c < 0) throw new Error(`cost model '${this.cost.name}' priced a stage of '${this.graph.name}' at ${c} ms`);
      cache.set(k, c);
    }
    return c;
  }

  /** The stage for a set: merge → one Conv per group; parallel → connected components as chains. */
  private stageOf(E: Uint32Array, kind: StageKind): Stage {
    const mem = B.members(E);
    if (kind === 'merge') return { kind, groups: mem.map((v) => [this.ids[v]]) };
    const label = new Map<number, number>();
    const groups: number[][] = [];
    for (const v of mem) {
      if (label.has(v)) continue;
      const g: number[] = [];
      const stack = [v];
      label.set(v, groups.length);
      while (stack.length) {
        const u = stack.pop() as number;
        g.push(u);
        for (const x of [...this.succL[u], ...this.predL[u]]) {
          if (!label.has(x) && B.has(E, x)) {
            label.set(x, groups.length);
            stack.push(x);
          }
        }
      }
      groups.push(g.sort((a, b) => a - b));
    }
    return { kind, groups: groups.map((g) => g.map((u) => this.ids[u])) };
  }
}

export function iosDpPartition(graph: Graph, cost: CostModel, opts: PartitionOptions = {}): PartitionResult {
  const t0 = performance.now();
  const o = resolveOptions(opts);
  const dag = buildDag(graph);
  const deadline = t0 + o.timeBudgetMs;
  const stages: Stage[] = [];
  const blocks: BlockStats[] = [];
  let states = 0;
  let transitions = 0;
  let stagesCosted = 0;
  let exceeded = false;
  const split = splitBlocks(dag, o.maxPartOps, o.maxPartStates);
  let partsLeft = split.reduce((n, b) => n + b.parts.length, 0);
  for (const block of split) {
    const parts: PartStats[] = [];
    for (const part of block.parts) {
      // Each part may use an equal share of what is left of the budget, so one hard part cannot
      // starve all the parts after it.
      const now = performance.now();
      const partDeadline = Number.isFinite(deadline) ? now + Math.max(0, deadline - now) / partsLeft : deadline;
      partsLeft--;
      const search = new PartSearch(graph, dag, part, cost, o, partDeadline);
      let found: Stage[] | null = null;
      try {
        found = search.run();
      } catch (e) {
        if (!(e instanceof BudgetExceeded)) throw e;
        exceeded = true;
      }
      states += search.states;
      transitions += search.transitions;
      stagesCosted += search.stagesCosted;
      if (found) {
        stages.push(...found);
        parts.push({ ops: part.length, states: search.states, transitions: search.transitions });
        continue;
      }
      // Out of time for this part: it runs the cheaper, under the same cost model, of the greedy
      // baseline and the sequential chain (graph order is topological) — the DP's own candidate set
      // holds the chain, so a budget never makes a part worse than running its ops one by one.
      const greedy: Stage[] = greedyStages(dag, part, o).map((groups) => ({ kind: 'parallel', groups: groups.map((g) => g.map((v) => dag.nodes[v].id)) }));
      const chain: Stage[] = [...part].sort((a, b) => a - b).map((v) => ({ kind: 'parallel', groups: [[dag.nodes[v].id]] }));
      const price = (ss: Stage[]) => ss.reduce((t, st) => t + cost.stageLatency(graph, st), 0);
      const useChain = price(chain) < price(greedy);
      stages.push(...(useChain ? chain : greedy));
      parts.push({ ops: part.length, states: search.states, transitions: search.transitions, fallback: useChain ? 'sequential' : 'greedy' });
    }
    blocks.push({ ops: block.nodes.length, parts });
  }
  const schedule: Schedule = { model: graph.name, batch: graph.batch, stages };
  validateSchedule(graph, schedule, `IOS-DP schedule for '${graph.name}'`);
  const latencyMs = scheduleLatency(cost, graph, schedule);
  return {
    schedule,
    latencyMs,
    stats: { method: 'ios-dp', states, transitions, stagesCosted, wallMs: performance.now() - t0, blocks, ...(exceeded ? { budgetExceeded: true } : {}) },
  };
}
