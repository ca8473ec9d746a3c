import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graphs/builder.js';
import {
  assignThreads,
  type CostModel,
  costModelFromSpec,
  SyntheticCostModel,
  scheduleLatency,
  ThreadChoiceCostModel,
  threadAssignments,
} from '../graphs/cost/index.js';
import type { Graph } from '../graphs/ir.js';
import { countStates, cutOperators, splitBlocks } from '../graphs/partition/blocks.js';
import { brutePartition } from '../graphs/partition/brute.js';
import { greedyPartition, iosDpPartition, type PartitionMethod, partition, sequentialPartition } from '../graphs/partition/index.js';
import { checkSchedule, type Schedule, sequentialSchedule } from '../graphs/schedule.js';
import { buildDag } from '../graphs/topo.js';
import { buildModel } from '../graphs/zoo/index.js';
import { randomDag } from './random-dag.js';

const EPS = 1e-9;

function maxGroup(s: Schedule): number {
  return Math.max(0, ...s.stages.filter((st) => st.kind === 'parallel').flatMap((st) => st.groups.map((g) => g.length)));
}
function maxGroups(s: Schedule): number {
  return Math.max(0, ...s.stages.map((st) => st.groups.length));
}

function chain(n: number): Graph {
  const b = new GraphBuilder('chain');
  let x = b.input('x', [1, 4, 8, 8]);
  for (let i = 0; i < n; i++) x = b.relu(x, `r${i}`);
  b.output(x);
  return b.build();
}

/** Two independent chains from one input, each of its own length, joined by nothing. */
function twoChains(a: number, c: number): Graph {
  const b = new GraphBuilder('two');
  const x = b.input('x', [1, 4, 8, 8]);
  let p = x;
  let q = x;
  for (let i = 0; i < a; i++) p = b.relu(p, `p${i}`);
  for (let i = 0; i < c; i++) q = b.relu(q, `q${i}`);
  b.output(p);
  b.output(q);
  return b.build();
}

describe('IOS-DP against brute force', () => {
  it('finds the exhaustive optimum on 36 seeded small DAGs (≤ 9 nodes, synthetic costs, merges included)', () => {
    let merges = 0;
    let bruteMerges = 0;
    let sequences = 0;
    for (let k = 0; k < 36; k++) {
      const g = randomDag({ nodes: 3 + (k % 7), seed: k, sibling: 0.5 });
      const cost = new SyntheticCostModel({ seed: k });
      const dp = iosDpPartition(g, cost);
      const brute = brutePartition(g, cost);
      sequences += brute.sequences;
      expect(checkSchedule(g, dp.schedule)).toEqual([]);
      expect(checkSchedule(g, brute.schedule)).toEqual([]);
      expect(Math.abs(dp.latencyMs - brute.latencyMs), `${g.name}: dp ${dp.latencyMs} brute ${brute.latencyMs}`).toBeLessThan(EPS);
      expect(Math.abs(scheduleLatency(cost, g, dp.schedule) - dp.latencyMs)).toBeLessThan(EPS);
      expect(sequentialPartition(g, cost).latencyMs).toBeGreaterThanOrEqual(dp.latencyMs - EPS);
      expect(greedyPartition(g, cost).latencyMs).toBeGreaterThanOrEqual(dp.latencyMs - EPS);
      expect(greedyPartition(g, cost, { chains: false }).latencyMs).toBeGreaterThanOrEqual(dp.latencyMs - EPS);
      merges += dp.schedule.stages.filter((s) => s.kind === 'merge').length;
      bruteMerges += brute.schedule.stages.filter((s) => s.kind === 'merge').length;
    }
    // The space really contains merge stages, and the optimum uses them.
    expect(merges).toBeGreaterThan(0);
    expect(bruteMerges).toBeGreaterThan(0);
    expect(sequences).toBeGreaterThan(1000);
  });

  it('agrees with brute force under tight pruning (r, s) and without merges', () => {
    const settings = [
      { r: 1, s: 2 },
      { r: 2, s: 2 },
      { r: 2, s: 3, merge: false },
      { r: 4, s: 1 },
    ];
    for (let k = 0; k < 16; k++) {
      const g = randomDag({ nodes: 5 + (k % 4), seed: `p${k}`, sibling: 0.5 });
      const cost = new SyntheticCostModel({ seed: 100 + k, contention: 0.1 + 0.05 * (k % 5) });
      for (const o of settings) {
        const dp = iosDpPartition(g, cost, o);
        const brute = brutePartition(g, cost, o);
        expect(Math.abs(dp.latencyMs - brute.latencyMs), `${g.name} ${JSON.stringify(o)}`).toBeLessThan(EPS);
        expect(maxGroup(dp.schedule)).toBeLessThanOrEqual(o.r);
        expect(maxGroups(dp.schedule)).toBeLessThanOrEqual(o.s);
        if (o.merge === false) expect(dp.schedule.stages.every((s) => s.kind === 'parallel')).toBe(true);
      }
    }
  });
});

describe('partitioners on random DAGs (property)', () => {
  // One exact part (≤ 50 ops, no state cap): every greedy and sequential schedule lies in the DP's
  // space, so the DP must match or beat them. Width 3 keeps the exact search quick.
  it('every schedule is valid; IOS-DP is never slower than greedy or sequential', () => {
    const cost = new SyntheticCostModel({ seed: 7 });
    const roofline = costModelFromSpec('roofline:v100');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 1_000_000 }), fc.boolean(), (nodes, seed, useRoofline) => {
        const g = randomDag({ nodes, seed, width: 3 });
        const c = useRoofline ? roofline : cost;
        const results = (['sequential', 'greedy', 'ios-dp'] as PartitionMethod[]).map((m) => partition(g, m, c, { maxPartStates: Number.POSITIVE_INFINITY }));
        for (const r of results) expect(checkSchedule(g, r.schedule)).toEqual([]);
        const [seq, greedy, dp] = results;
        expect(dp.latencyMs).toBeLessThanOrEqual(seq.latencyMs + EPS);
        expect(dp.latencyMs).toBeLessThanOrEqual(greedy.latencyMs + EPS);
        expect(maxGroup(dp.schedule)).toBeLessThanOrEqual(3);
        expect(maxGroups(dp.schedule)).toBeLessThanOrEqual(8);
        expect(maxGroups(greedy.schedule)).toBeLessThanOrEqual(8);
      }),
      { numRuns: 60, seed: 20240611 },
    );
  });

  it('respects r and s on wider graphs', () => {
    for (let k = 0; k < 6; k++) {
      const g = randomDag({ nodes: 30, seed: `w${k}` });
      for (const o of [
        { r: 1, s: 2 },
        { r: 2, s: 4 },
      ]) {
        const dp = iosDpPartition(g, new SyntheticCostModel({ seed: k }), o);
        expect(checkSchedule(g, dp.schedule)).toEqual([]);
        expect(maxGroup(dp.schedule)).toBeLessThanOrEqual(o.r);
        expect(maxGroups(dp.schedule)).toBeLessThanOrEqual(o.s);
        const greedy = greedyPartition(g, new SyntheticCostModel({ seed: k }), o);
        expect(maxGroups(greedy.schedule)).toBeLessThanOrEqual(o.s);
        expect(maxGroup(greedy.schedule)).toBeLessThanOrEqual(o.r);
      }
    }
  });
});

describe('blocks and parts', () => {
  it('finds cut operators: every node of a chain, only the ends of a diamond', () => {
    const c = chain(5);
    expect(cutOperators(buildDag(c))).toEqual([true, true, true, true, true]);
    const b = new GraphBuilder('diamond');
    const x = b.input('x', [1, 4, 8, 8]);
    const top = b.relu(x, 'top');
    const l = b.relu(top, 'l');
    const r1 = b.relu(top, 'r1');
    const r2 = b.relu(r1, 'r2');
    b.output(b.add(l, r2, 'join'));
    const d = b.build();
    const dag = buildDag(d);
    const cut = cutOperators(dag);
    expect(d.nodes.filter((_, i) => cut[i]).map((n) => n.id)).toEqual(['top', 'join']);
    // Two outputs: no operator lies on every path.
    expect(cutOperators(buildDag(twoChains(2, 3))).some(Boolean)).toBe(false);
  });

  it('counts DP states exactly and caps the count', () => {
    expect(countStates(buildDag(twoChains(2, 3)), [0, 1, 2, 3, 4])).toBe(3 * 4);
    expect(countStates(buildDag(chain(6)), [0, 1, 2, 3, 4, 5])).toBe(7);
    expect(countStates(buildDag(twoChains(5, 5)), [...Array(10).keys()], 10)).toBe(11);
  });

  it('packs cut segments into blocks of ≤ maxPartOps and slices larger ones into ordered parts', () => {
    const c = chain(12);
    const blocks = splitBlocks(buildDag(c), 5);
    expect(blocks.map((b) => b.nodes.length)).toEqual([5, 5, 2]);
    const g = randomDag({ nodes: 40, seed: 'parts' });
    const dag = buildDag(g);
    for (const maxPartOps of [3, 7, 16]) {
      const seen = new Set<number>();
      for (const block of splitBlocks(dag, maxPartOps, 50)) {
        for (const part of block.parts) {
          expect(part.length).toBeLessThanOrEqual(maxPartOps);
          expect(countStates(dag, part, 50)).toBeLessThanOrEqual(50);
          // Every predecessor runs in an earlier part or earlier in this one.
          for (const v of part) for (const u of dag.preds[v]) expect(seen.has(u) || part.indexOf(u) < part.indexOf(v)).toBe(true);
          for (const v of part) seen.add(v);
        }
      }
      expect(seen.size).toBe(g.nodes.length);
      const dp = iosDpPartition(g, new SyntheticCostModel({ seed: 3 }), { maxPartOps, maxPartStates: 50 });
      expect(checkSchedule(g, dp.schedule)).toEqual([]);
      expect(dp.stats.blocks?.flatMap((b) => b.parts).every((p) => p.ops <= maxPartOps)).toBe(true);
    }
  });

  it('falls back per part, when the time budget runs out, to the cheaper of greedy and the sequential chain, still valid', () => {
    const g = randomDag({ nodes: 40, seed: 'budget' });
    const cost = new SyntheticCostModel({ seed: 1 });
    const r = iosDpPartition(g, cost, { timeBudgetMs: 1e-6 });
    expect(r.stats.budgetExceeded).toBe(true);
    expect(r.stats.blocks?.flatMap((b) => b.parts).some((p) => p.fallback)).toBe(true);
    expect(checkSchedule(g, r.schedule)).toEqual([]);
    // Never worse than running the ops one by one.
    expect(r.latencyMs).toBeLessThanOrEqual(scheduleLatency(cost, g, sequentialSchedule(g)) + 1e-9);
    // A cost model under which running ops side by side only hurts: the chain wins every fallback.
    const sideBySideHurts: CostModel = {
      name: 'serial-only',
      opLatency: (_g, n) => 1 + n.flops * 1e-9,
      stageLatency: (_g, st) => st.groups.flat().length + (st.groups.length > 1 ? 10 : 0),
    };
    const serial = iosDpPartition(g, sideBySideHurts, { timeBudgetMs: 1e-6 });
    expect(
      serial.stats.blocks
        ?.flatMap((b) => b.parts)
        .filter((p) => p.fallback)
        .every((p) => p.fallback === 'sequential'),
    ).toBe(true);
  });
});

describe('partition dispatcher', () => {
  it('runs each method by name and reports search statistics', () => {
    const g = randomDag({ nodes: 12, seed: 'dispatch' });
    const cost = new SyntheticCostModel({ seed: 2 });
    for (const m of ['sequential', 'greedy', 'ios-dp'] as const) {
      const r = partition(g, m, cost);
      expect(r.stats.method).toBe(m);
      expect(r.latencyMs).toBeCloseTo(scheduleLatency(cost, g, r.schedule), 12);
      expect(r.stats.wallMs).toBeGreaterThanOrEqual(0);
    }
    const dp = partition(g, 'ios-dp', cost).stats;
    expect(dp.states).toBeGreaterThan(1);
    expect(dp.transitions).toBeGreaterThanOrEqual(dp.states);
    expect(dp.stagesCosted).toBeGreaterThan(0);
  });

  it('rejects an unknown method and bad options with clear errors', () => {
    const g = chain(3);
    const cost = new SyntheticCostModel({ seed: 0 });
    expect(() => partition(g, 'gpg' as PartitionMethod, cost)).toThrow(/unknown partition method "gpg" \(known: sequential, greedy, ios-dp\)/);
    expect(() => partition(g, 'ios-dp', cost, { r: 0 })).toThrow(/option 'r' must be a positive integer/);
    expect(() => partition(g, 'greedy', cost, { s: 1.5 })).toThrow(/option 's'/);
    expect(() => brutePartition(randomDag({ nodes: 13, seed: 1 }), cost)).toThrow(/13 nodes/);
  });
});

describe('zoo models under roofline:v100', () => {
  it('IOS-DP beats sequential (and greedy) on squeezenet1_1 and inception_v3', async () => {
    const { buildModel } = await import('../graphs/zoo/index.js');
    const cost = costModelFromSpec('roofline:v100');
    const rows: Record<string, unknown>[] = [];
    for (const name of ['squeezenet1_1', 'inception_v3']) {
      const g = buildModel(name);
      const [seq, greedy, dp] = (['sequential', 'greedy', 'ios-dp'] as const).map((m) => partition(g, m, cost));
      expect(checkSchedule(g, dp.schedule)).toEqual([]);
      expect(dp.latencyMs).toBeLessThan(seq.latencyMs);
      expect(dp.latencyMs).toBeLessThanOrEqual(greedy.latencyMs + EPS);
      expect(maxGroup(dp.schedule)).toBeLessThanOrEqual(3);
      expect(maxGroups(dp.schedule)).toBeLessThanOrEqual(8);
      rows.push({
        model: name,
        ops: g.nodes.length,
        sequentialMs: +seq.latencyMs.toFixed(4),
        greedyMs: +greedy.latencyMs.toFixed(4),
        iosDpMs: +dp.latencyMs.toFixed(4),
        speedup: +(seq.latencyMs / dp.latencyMs).toFixed(3),
        stages: dp.schedule.stages.length,
        merges: dp.schedule.stages.filter((s) => s.kind === 'merge').length,
        states: dp.stats.states,
        transitions: dp.stats.transitions,
        stagesCosted: dp.stats.stagesCosted,
        searchMs: Math.round(dp.stats.wallMs),
      });
    }
    console.table(rows);
  });
});

describe('hybrid inter/intra-op thread search', () => {
  it('enumerates thread vectors with every group ≥ 1 and the sum ≤ cores', () => {
    expect(threadAssignments(1, 2)).toEqual([[1], [2]]);
    expect(threadAssignments(2, 2)).toEqual([[1, 1]]);
    expect(threadAssignments(3, 2)).toEqual([]);
    const four = threadAssignments(2, 4);
    expect(four).toContainEqual([1, 3]);
    expect(four).toContainEqual([2, 2]);
    expect(four.every((t) => t.length === 2 && t.reduce((a, b) => a + b, 0) <= 4 && t.every((k) => k >= 1))).toBe(true);
  });

  it('IOS-DP and greedy search thread counts with the stages; the schedule carries them and prices as reported', () => {
    const base = costModelFromSpec('roofline:cpu-2core');
    const hybrid = new ThreadChoiceCostModel(base, 2);
    for (const name of ['resnet50', 'squeezenet1_1']) {
      const g = buildModel(name, {});
      for (const method of ['greedy', 'ios-dp'] as PartitionMethod[]) {
        const plain = partition(g, method, base, {});
        const searched = partition(g, method, hybrid, {});
        // The plain schedule is one of the hybrid search's options: it never predicts worse.
        expect(searched.latencyMs, `${name} ${method}`).toBeLessThanOrEqual(plain.latencyMs + 1e-9);
        const s = assignThreads(g, searched.schedule, hybrid);
        expect(checkSchedule(g, s)).toEqual([]);
        expect(s.stages.some((st) => st.threads?.[0] === 2)).toBe(true);
        expect(scheduleLatency(base, g, s)).toBeCloseTo(searched.latencyMs, 9);
      }
    }
    // A model that ignores thread counts sees no difference, so nothing is written.
    const flat = new ThreadChoiceCostModel(new SyntheticCostModel({ seed: 1 }), 2);
    const g = buildModel('squeezenet1_1', {});
    expect(assignThreads(g, partition(g, 'greedy', flat, {}).schedule, flat).stages.every((st) => st.threads === undefined)).toBe(true);
  });
});
