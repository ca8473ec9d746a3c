/**
 * The evaluation harness: statistics, the new arrival kinds (piecewise, replay of a real log), the
 * workloads' character (burstiness, held-out replays), metrics of one episode (goodput, attainment,
 * warm-up exclusion, queue vs compute time), the heuristics, spec errors, and `reproduce adaptation
 * --scale tiny` end to end.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deadlineAwarePolicy, rateAdaptivePolicy, staticPolicy } from '../agents/heuristics.js';
import { PiecewiseArrivals, parseTimestampLog, ReplayArrivals } from '../env/arrivals.js';
import { AsyncInferenceEnv, LAUNCHER } from '../env/async-inference-env.js';
import { greedyReleasePolicy } from '../env/policies.js';
import { makeRng } from '../env/spaces.js';
import { meanInterval, pairedRatio } from '../env/stats.js';
import { loadWorkloadFile, makeArrivals } from '../env/workload.js';
import { runEpisode } from '../experiments/harness/episode.js';
import { atTotalRate, meanTotalRate, shares } from '../experiments/harness/load.js';
import { loadSpec } from '../experiments/harness/spec.js';
import { cli } from './cli-helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wl = (name: string) => join(root, 'experiments', 'workloads', 'adaptation', `${name}.yaml`);
const dir = mkdtempSync(join(tmpdir(), 'topsched-harness-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Inter-arrival CV of a workload's merged arrivals over `seconds`. */
function cv(file: string, totalRate: number, seconds: number, seed = 7): { rate: number; cv: number } {
  const w = atTotalRate(loadWorkloadFile(file), totalRate);
  const times: number[] = [];
  makeArrivals(w).forEach((p, m) => {
    p.reset(makeRng(`cv:${m}`), seed);
    for (let t = p.next(); t < seconds; t = p.next()) times.push(t);
  });
  times.sort((a, b) => a - b);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  const mu = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mu) ** 2, 0) / gaps.length);
  return { rate: times.length / seconds, cv: sd / mu };
}

describe('statistics', () => {
  it('bootstrap intervals hold the mean, shrink with samples, and are seeded', () => {
    const xs = Array.from({ length: 40 }, (_, i) => 100 + ((i * 37) % 11) - 5);
    const a = meanInterval(xs, 's');
    expect(a.ci95[0]).toBeLessThan(a.mean);
    expect(a.ci95[1]).toBeGreaterThan(a.mean);
    expect(meanInterval(xs, 's')).toEqual(a);
    const few = meanInterval(xs.slice(0, 5), 's');
    expect(few.ci95[1] - few.ci95[0]).toBeGreaterThan(a.ci95[1] - a.ci95[0]);
    // Pairing: b is a plus episode-level noise shared with a; the ratio's interval is tight around 1.1.
    const base = Array.from({ length: 20 }, (_, i) => 50 + 30 * Math.sin(i));
    const r = pairedRatio(
      base.map((x) => 1.1 * x),
      base,
    );
    expect(r.mean).toBeCloseTo(1.1, 9);
    expect(r.ci95[0]).toBeCloseTo(1.1, 9);
    expect(() => pairedRatio([1], [1, 2])).toThrow(/1 vs 2/);
  });
});

describe('arrival kinds and workloads', () => {
  it('piecewise: rates per segment, exactly (no thinning bias)', () => {
    const p = new PiecewiseArrivals([
      { durationS: 10, rate: 100 },
      { durationS: 5, rate: 1000 },
    ]);
    p.reset(makeRng('pw'));
    const counts = [0, 0, 0];
    for (let t = p.next(); t < 20; t = p.next()) counts[t < 10 ? 0 : t < 15 ? 1 : 2]++;
    expect(counts[0] / 10).toBeGreaterThan(85);
    expect(counts[0] / 10).toBeLessThan(115);
    expect(counts[1] / 5).toBeGreaterThan(950);
    expect(counts[2] / 5).toBeGreaterThan(950); // the last rate holds
    expect(p.meanRate()).toBeCloseTo((100 * 10 + 1000 * 5) / 15, 9);
  });

  it('replay: a real log rescaled to a target rate, split by share, the same stretch for every model of an episode', () => {
    const times = parseTimestampLog(readFileSync(join(root, '..', 'shared', 'traces', 'azure-llm-2023', 'conv.csv'), 'utf8'), 'conv.csv');
    expect(times.length).toBe(19_366);
    const a = new ReplayArrivals(times, 300, 0.6, 'conv');
    const b = new ReplayArrivals(times, 200, 0.4, 'conv');
    a.reset(makeRng('a'), 'ep1');
    b.reset(makeRng('b'), 'ep1');
    let na = 0;
    let nb = 0;
    for (let t = a.next(); t < 200; t = a.next()) na++;
    for (let t = b.next(); t < 200; t = b.next()) nb++;
    // Within 25 %: a 200-s stretch of a log whose rate varies 14× across minutes.
    expect(na / 200).toBeGreaterThan(300 * 0.5);
    expect(na / nb).toBeGreaterThan(1.2);
    a.reset(makeRng('a'), 'ep1');
    const first = a.next();
    a.reset(makeRng('a'), 'ep2');
    expect(a.next()).not.toBe(first);
    expect(() => parseTimestampLog('TIMESTAMP,x\n2023-11-16 18:17:03.97,1\nyesterday,2\n', 'bad.csv')).toThrow(/bad\.csv:3: TIMESTAMP must look like/);
    expect(() => parseTimestampLog('time,x\n', 'bad.csv')).toThrow(/bad\.csv:1: the header must have a TIMESTAMP column/);
  });

  it('the workload matrix has the character it claims: CV ≥ 4 for the bursty ones, near 1 for Poisson', () => {
    expect(cv(wl('poisson-steady'), 1000, 60).cv).toBeGreaterThan(0.9);
    expect(cv(wl('poisson-steady'), 1000, 60).cv).toBeLessThan(1.1);
    expect(cv(wl('mmpp-bursty'), 1000, 120).cv).toBeGreaterThanOrEqual(4);
    expect(cv(wl('azure-code'), 1000, 120).cv).toBeGreaterThanOrEqual(4);
    // Rescaling keeps the shares and hits the target mean.
    const w = loadWorkloadFile(wl('flash-crowd'));
    expect(meanTotalRate(atTotalRate(w, 1234))).toBeCloseTo(1234, 6);
    expect(shares(w).map((x) => +x.toFixed(2))).toEqual([0.5, 0.3, 0.2]);
  });
});

describe('one episode through the harness', () => {
  const env = new AsyncInferenceEnv({
    workload: atTotalRate(loadWorkloadFile(wl('flash-crowd')), 1200),
    maxSteps: 400,
    streams: 4,
    levels: [0, 1, 2, 4, 8, 16, 32],
  });
  afterAll(() => env.close());

  it('goodput ≤ throughput, attainment ≤ 1, queue + compute = mean latency, warm-up excluded', async () => {
    const p = greedyReleasePolicy(env);
    const r = await runEpisode(env, p, { seed: 5, warmupS: 1, seriesEveryMs: 500 });
    expect(r.warmupS).toBe(1);
    expect(r.seconds).toBeCloseTo(3, 1);
    expect(r.goodput).toBeLessThanOrEqual(r.throughput + 1e-9);
    expect(r.attainment).toBeGreaterThan(0);
    expect(r.attainment).toBeLessThanOrEqual(1);
    expect(r.models.map((m) => m.name)).toEqual(['squeezenet1_1', 'resnet50', 'bert_layer']);
    const m = env.metrics();
    expect(r.meanQueueMs + r.meanComputeMs).toBeCloseTo(m.meanLatencyMs, 6);
    expect(r.series.length).toBeGreaterThanOrEqual(5);
    expect(r.decisionUsMean).toBeGreaterThan(0);
    // The same seed gives the same episode (the simulator is deterministic).
    expect((await runEpisode(env, p, { seed: 5, warmupS: 1, seriesEveryMs: 500 })).goodput).toBe(r.goodput);
    const noWarm = await runEpisode(env, p, { seed: 5 });
    expect(noWarm.arrived).toBeGreaterThan(r.arrived);
  });

  it('the heuristics act within the action spaces; rate-adaptive switches with the measured rate', () => {
    const v = env.view();
    const low = { level: [1, 1, 1], schedule: [0, 0, 0], batch: [0, 0, 0] };
    const high = { level: [6, 6, 6], schedule: [2, 2, 2], batch: [3, 3, 3] };
    const ra = rateAdaptivePolicy(env, [
      { rate: 100, config: low },
      { rate: 1200, config: high },
    ]);
    env.reset({ seed: 1 });
    ra.reset?.();
    let a = ra.act({});
    for (let i = 0; i < 120; i++) {
      env.step(a as never);
      a = ra.act({});
    }
    expect(Array.from(a[LAUNCHER] as Int32Array)).toEqual([6, 6, 6]);
    for (const p of [deadlineAwarePolicy(env), staticPolicy(env, high)]) {
      env.reset({ seed: 2 });
      for (let i = 0; i < 50; i++) {
        const act = p.act({});
        for (const ag of env.agents) expect(env.actionSpace(ag).contains(act[ag] as Int32Array)).toBe(true);
        env.step(act as never);
      }
    }
    expect(() => staticPolicy(env, { level: [9, 0, 0], schedule: [0, 0, 0], batch: [0, 0, 0] })).toThrow(/'level' needs 3 indices in 0\.\.6/);
    expect(v.models.length).toBe(3);
  });
});

describe('specs', () => {
  it('errors name the file and the field; tuning and evaluation seeds must be disjoint', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(
      f,
      'name: x\nloads: [0.5]\nworkloads: [{ file: a.yaml }]\npolicies: [best-static, magic]\nseeds: { eval: { from: 0, count: 2 }, tuning: { from: 1, count: 2 }, train: [0] }\n',
    );
    expect(() => loadSpec(f)).toThrow(/bad\.yaml: policies: 'magic' is neither a baseline \(best-static, .*\), 'maddpg', nor a name under learners \(none\)/);
    expect(() => loadSpec(join(root, 'experiments', 'specs', 'adaptation.yaml'), 'huge')).toThrow(/--scale 'huge': no such scale \(scales: default, tiny\)/);
  });

  it('reproduce adaptation --scale tiny writes the report, the JSON in the fixed schema and the plots', async () => {
    const out = join(dir, 'results');
    await cli('reproduce', 'adaptation', '--scale', 'tiny', '--out-dir', out, '--quiet');
    for (const f of ['adaptation.md', 'adaptation.json', 'adaptation-vs-static.png', 'adaptation-series.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    const j = JSON.parse(readFileSync(join(out, 'adaptation.json'), 'utf8'));
    expect(j).toMatchObject({ scale: 'tiny', executor: 'sim' });
    for (const k of ['machine', 'date', 'commit', 'command']) expect(typeof j[k]).toBe('string');
    expect(j.rows.length).toBe(2 * 12);
    expect(j.tfjsBackend).toBe('wasm');
    expect(j.bar.map((b: { learner: string }) => b.learner)).toEqual([
      'maddpg',
      'maddpg-coord',
      'mappo',
      'mappo-residual',
      'mappo-residual-launcher',
      'mappo-residual-scheduler',
    ]);
    for (const row of j.rows) {
      expect(row).toMatchObject({ kind: expect.stringMatching(/learned|baseline/) });
      for (const k of ['goodput', 'sloAttainment', 'throughput', 'p99Ms']) {
        expect(row[k].ci95[0]).toBeLessThanOrEqual(row[k].mean + 1e-9);
        expect(row[k].ci95[1]).toBeGreaterThanOrEqual(row[k].mean - 1e-9);
      }
      expect(row.vsBestStatic.goodputRatio).toBeGreaterThanOrEqual(0);
    }
    const learned = j.rows.filter((r: { kind: string }) => r.kind === 'learned');
    expect(learned.map((r: { seeds: number[] }) => r.seeds)).toEqual(new Array(12).fill([0, 1]));
    // Each learned row says what it used.
    const setup = (p: string) => learned.find((r: { policy: string }) => r.policy === p).setup;
    expect(setup('maddpg')).toMatch(/^TOP-faithful MADDPG/);
    expect(setup('maddpg-coord')).toMatch(/^MADDPG \(others: current\)/);
    expect(setup('mappo')).toMatch(/^MAPPO, load-change observations/);
    expect(setup('mappo-residual')).toMatch(
      /^MAPPO, residual \(±1\) over triton \{"instances":\d,"maxBatch":\d,"maxQueueDelayMs":\d+\} \(tuned on the training mixture\), BC warm start \(300 teacher steps\), load-change observations, goodput reward/,
    );
    expect(j.rows.find((r: { workload: string }) => r.workload === 'azure-code').heldOut).toBe(true);
    const bestStatic = j.rows.find((r: { policy: string }) => r.policy === 'best-static');
    expect(bestStatic.budgetSteps).toBeGreaterThanOrEqual(learned[0].budgetSteps);
    expect(setup('mappo-residual-launcher')).toMatch(/^MAPPO, launcher only \(the other agent keeps the base's choice\), residual \(±1\) over triton/);
    const md = readFileSync(join(out, 'adaptation.md'), 'utf8');
    expect(md).toMatch(/Patel et al\., "Splitwise/);
    expect(md).toMatch(/## Ablation: which agent of mappo-residual pays/);
    expect(md).toMatch(/The bar \(≥ 10 % over the best static policy/);
  }, 120_000);
});

describe('learners', () => {
  it('a training job that fails in its worker thread is an error naming the learner and seed; a frozen agent needs a residual base', async () => {
    const { trainLearners, checkLearner } = await import('../experiments/harness/learners.js');
    const workload = loadWorkloadFile(wl('flash-crowd'));
    const learner = { algorithm: 'mappo' as const, steps: 100, envs: 1, agent: { lr: -1 }, learn: 'both' as const, residualRange: 1 };
    await expect(
      trainLearners([{ name: 'broken', learner, seed: 3, base: { maxSteps: 50 }, train: [{ workload, capacity: 1000 }], trainLoads: [0.5] }], 1, 'cpu'),
    ).rejects.toThrow(/training broken seed 3: .*mappo config 'lr' must be > 0, got -1/);
    expect(() => checkLearner('half', { ...learner, learn: 'launcher' })).toThrow(
      /learner 'half': learn: launcher freezes the other agent to a residual base; set residual/,
    );
  }, 60_000);
});

describe('malformed inputs of the harness', () => {
  it('a missing workload file or a bad row of a replayed log is one error naming the place, and nothing is written', async () => {
    const { runSpec } = await import('../experiments/harness/run.js');
    const out = join(dir, 'bad-out');
    const spec = (workload: string) => {
      const f = join(dir, `spec-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(
        f,
        `name: x\nloads: [0.5]\nworkloads: [{ file: ${workload} }]\npolicies: [pos]\nseeds: { eval: { from: 10, count: 1 }, tuning: { from: 20, count: 1 }, train: [0] }\n`,
      );
      return loadSpec(f);
    };
    await expect(runSpec(spec(join(dir, 'nope.yaml')))).rejects.toThrow(/nope\.yaml: cannot read workload: ENOENT/);
    writeFileSync(join(dir, 'log.csv'), 'TIMESTAMP,ContextTokens\n2023-11-16 18:17:03.9799600,1\n2023-11-16 18:17:04,2\n2023-11-16 25:99:04,3\n');
    writeFileSync(join(dir, 'replay.yaml'), `name: r\nmodels:\n  - { name: squeezenet1_1, arrival: { kind: replay, path: log.csv, rate: 100 } }\n`);
    await expect(runSpec(spec(join(dir, 'replay.yaml')))).rejects.toThrow(/log\.csv:4: TIMESTAMP/);
    expect(existsSync(out)).toBe(false);
  });
});
