import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../agents/backend.js';
import { decodePartition, NUM_DYNAMIC_FEATURES, rolloutSchedule } from '../agents/gpg/decode.js';
import { NODE_FEATURES, prepareGraph } from '../agents/gpg/features.js';
import { GpgImitation, withTeachers } from '../agents/gpg/imitate.js';
import { GpgPolicy } from '../agents/gpg/policy.js';
import { GpgTrainer, prepareTrainGraphs } from '../agents/gpg/train.js';
import { makeRng } from '../agents/rng.js';
import { devicePreset, RooflineCostModel, SyntheticCostModel } from '../graphs/cost/index.js';
import { scheduleLatency } from '../graphs/cost/model.js';
import { checkSchedule } from '../graphs/schedule.js';
import { buildDag } from '../graphs/topo.js';
import { randwire } from '../graphs/zoo/randwire.js';
import { squeezenet11 } from '../graphs/zoo/squeezenet.js';
import { randomDag } from './random-dag.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'topsched-gpg-'));
beforeAll(async () => {
  await initBackend('wasm', { log: () => {} });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const roofline = new RooflineCostModel(devicePreset('v100'));

describe('GPG features and network', () => {
  it('normalises node features and marks the critical path', () => {
    const g = prepareGraph(squeezenet11({}), roofline);
    const F = NODE_FEATURES.length;
    expect(g.x.length).toBe(g.n * F);
    for (let i = 0; i < g.x.length; i++)
      expect(g.x[i] >= 0 && g.x[i] <= 1.0001, `feature ${NODE_FEATURES[i % F]} of node ${Math.floor(i / F)} = ${g.x[i]}`).toBe(true);
    const slack = NODE_FEATURES.indexOf('slack');
    const onCritical = Array.from({ length: g.n }, (_, v) => g.x[v * F + slack]).filter((s) => Math.abs(s - 1) < 1e-6).length;
    expect(onCritical).toBeGreaterThan(10);
    // One category per node.
    for (let v = 0; v < g.n; v++) expect(g.x.slice(v * F + 10, v * F + 16).reduce((a, b) => a + b)).toBe(1);
  });

  it('host (sparse) and tfjs (dense) forward passes agree', () => {
    const policy = new GpgPolicy({ seed: 3, hidden: 16, rounds: 2 });
    const g = prepareGraph(randwire({ seed: 2, nodes: 6, channels: 16 }), roofline);
    const a = policy.scores(g, 'host');
    const b = policy.scores(g, 'tfjs');
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(worst).toBeLessThan(1e-4);
    policy.dispose();
  });
});

describe('GPG decoding', () => {
  it('produces valid schedules within r and s, greedily or sampled, on random DAGs and zoo graphs', () => {
    const policy = new GpgPolicy({ seed: 1, hidden: 8, rounds: 1 });
    const rng = makeRng('gpg-valid');
    const graphs = [
      ...[1, 2, 3, 4, 5].map((seed) => randomDag({ nodes: 40, seed, width: 5 })),
      squeezenet11({}),
      randwire({ seed: 7, nodes: 6, channels: 16 }),
    ];
    for (const graph of graphs) {
      const g = prepareGraph(graph, roofline);
      const scores = policy.scores(g);
      for (const [r, s] of [
        [3, 8],
        [1, 2],
        [2, 3],
      ]) {
        for (const mode of ['greedy', 'sample'] as const) {
          const w = Float32Array.from({ length: NUM_DYNAMIC_FEATURES }, () => 2 * rng() - 1);
          const roll = decodePartition(g, roofline, scores, w, { r, s, mode, rng, record: true });
          const schedule = rolloutSchedule(g, roll.stages);
          expect(checkSchedule(graph, schedule), `${graph.name} r=${r} s=${s} ${mode}`).toEqual([]);
          for (const st of schedule.stages) {
            expect(st.groups.length).toBeLessThanOrEqual(s);
            for (const grp of st.groups) expect(grp.length).toBeLessThanOrEqual(r);
          }
          expect(roll.latencyMs).toBeCloseTo(scheduleLatency(roofline, graph, schedule), 9);
          if (mode === 'sample') expect(roll.decisions.every((d) => d.p > 0 && d.p < 1)).toBe(true);
        }
      }
    }
    policy.dispose();
  });

  it('a policy that says yes to everything reaches the greedy heuristic; one that says no runs sequentially', () => {
    const graph = randomDag({ nodes: 30, seed: 9, width: 4 });
    const g = prepareGraph(graph, roofline);
    const zero = new Float32Array(g.n);
    const yes = new Float32Array(NUM_DYNAMIC_FEATURES);
    yes[0] = 50;
    const no = new Float32Array(NUM_DYNAMIC_FEATURES);
    no[0] = -50;
    const all = decodePartition(g, roofline, zero, yes, { r: 1, s: 100, mode: 'greedy' });
    // With r = 1 and unlimited s, "yes" puts every ready operator into the stage: stages = longest path + 1.
    const dag = buildDag(graph);
    const depth = new Array(g.n).fill(0);
    for (let v = 0; v < g.n; v++) for (const u of dag.preds[v]) depth[v] = Math.max(depth[v], depth[u] + 1);
    expect(all.stages.length).toBe(Math.max(...depth) + 1);
    const none = decodePartition(g, roofline, zero, no, { r: 3, s: 8, mode: 'greedy' });
    expect(none.stages.length).toBe(g.n);
  });
});

describe('GPG imitation', () => {
  it('teacher forcing replays an IOS-DP schedule exactly (the decoder can express it) and labels every decision', () => {
    const graph = randwire({ seed: 4, nodes: 6, channels: 16 });
    const policy = new GpgPolicy({ seed: 2, hidden: 8, rounds: 1 });
    const [tg] = withTeachers(prepareTrainGraphs([graph], roofline, { r: 3, s: 8 }), roofline);
    const roll = decodePartition(tg.input, roofline, policy.scores(tg.input), policy.head.host, {
      r: 3,
      s: 8,
      mode: 'greedy',
      record: true,
      teacher: tg.teacher,
    });
    expect(roll.latencyMs).toBeCloseTo(tg.teacherLatency, 9);
    expect(roll.stages.length).toBe(Math.max(...tg.teacher) + 1);
    roll.stages.forEach((groups, k) => {
      for (const grp of groups) for (const v of grp) expect(tg.teacher[v]).toBe(k);
    });
    expect(roll.rankings.length).toBe(roll.stages.length);
    expect(roll.rankings.every((x) => x.targets.length > 0 && x.targets.every((v) => x.ready.includes(v)))).toBe(true);
    // A few imitation steps run and lower the decision loss on this graph.
    const im = new GpgImitation(policy, [tg], roofline, { lr: 1e-2 });
    const first = im.step();
    let last = first;
    for (let i = 0; i < 20; i++) last = im.step();
    expect(last.bce).toBeLessThan(first.bce);
    policy.dispose();
  });
});

describe('GPG training', () => {
  it('keepBest restores the parameters with the best training-set evaluation, the untrained ones included', () => {
    const cost = new SyntheticCostModel({ seed: 1 });
    const graphs = [1, 2].map((seed) => randwire({ seed, nodes: 6, channels: 16 }));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // A learning rate far too large: the updates drift, and the best evaluation is an early one.
    const run = (keepBest: boolean) => {
      const policy = new GpgPolicy({ seed: 0, initBias: 0, hidden: 16, rounds: 2 });
      const trainer = new GpgTrainer(policy, prepareTrainGraphs(graphs, cost, { r: 3, s: 8 }), cost, {
        seed: 0,
        lr: 1,
        rollouts: 4,
        graphsPerIteration: 2,
        keepBest,
      });
      const before = mean(trainer.evaluate());
      const log = trainer.train(12, undefined, 3);
      const seen = [before, ...log.flatMap((l) => (l.greedyRatio === undefined ? [] : [l.greedyRatio]))];
      return { seen, final: mean(trainer.evaluate()), selected: trainer.selected, last: log[log.length - 1].greedyRatio as number };
    };
    const kept = run(true);
    expect(kept.final).toBeCloseTo(Math.min(...kept.seen), 10);
    expect(kept.selected?.greedyRatio).toBeCloseTo(kept.final, 10);
    const plain = run(false);
    expect(plain.selected).toBeUndefined();
    expect(plain.final).toBeCloseTo(plain.last, 10);
  });

  it('REINFORCE improves the greedy-decoded partitions over the untrained policy', () => {
    const cost = new SyntheticCostModel({ seed: 1 });
    const graphs = [1, 2, 3].map((seed) => randwire({ seed, nodes: 6, channels: 16 }));
    const policy = new GpgPolicy({ seed: 0, initBias: 0, hidden: 16, rounds: 2 });
    const trainer = new GpgTrainer(policy, prepareTrainGraphs(graphs, cost, { r: 3, s: 8 }), cost, { seed: 0, lr: 1e-2, rollouts: 8, graphsPerIteration: 3 });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const before = mean(trainer.evaluate());
    const tensors = tf.memory().numTensors;
    trainer.train(30, undefined, 0);
    expect(tf.memory().numTensors).toBe(tensors);
    const after = mean(trainer.evaluate());
    // Ratios are latency / IOS-greedy latency on the training graphs.
    expect(after).toBeLessThan(before - 0.05);
    expect(after).toBeLessThan(1.05);

    // The trained policy is a partitioner: valid schedules, and it survives save / load.
    const res = policy.partition(graphs[0], cost);
    expect(res.stats.method).toBe('gpg');
    expect(checkSchedule(graphs[0], res.schedule)).toEqual([]);
    policy.save(path.join(tmp, 'gpg'));
    const back = GpgPolicy.load(path.join(tmp, 'gpg'));
    expect(back.partition(graphs[0], cost).schedule).toEqual(res.schedule);
    back.dispose();
    policy.dispose();
  });
});
