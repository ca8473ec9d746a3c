import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { AsyncInferenceEnv, LAUNCHER, SCHEDULER } from '../env/async-inference-env.js';
import { CheckError, checkParallelEnv, deepIdentical } from '../env/checker.js';
import type { ParallelEnv } from '../env/core.js';
import type { SimExecutor } from '../env/executor.js';
import type { EnvMetrics } from '../env/metrics.js';
import type { AsyncInferenceOptions } from '../env/options.js';
import { fixedFrequencyPolicy, greedyReleasePolicy, makePolicy, oneAtATimePolicy, randomPolicy } from '../env/policies.js';
import { make, register, registeredEnvs } from '../env/registry.js';
import { DEFAULT_REWARD } from '../env/reward.js';
import { Box, Dict, Discrete, GraphSpace, MultiDiscrete, makeRng } from '../env/spaces.js';
import { simVsNative } from '../env/validate.js';
import { loadWorkloadFile, parseWorkload, workloadFromYaml } from '../env/workload.js';
import { NormalizeObservation, RecordEpisodeStatistics, TimeLimit } from '../env/wrappers.js';
import { runEpisode } from '../experiments/harness/episode.js';
import { GraphBuilder } from '../graphs/builder.js';
import { devicePreset, RooflineCostModel } from '../graphs/cost/roofline.js';
import type { Graph } from '../graphs/ir.js';
import { partition } from '../graphs/partition/index.js';
import { NativeExecutor, nativeAvailable } from '../native/index.js';
import { profileModel } from '../native/profile.js';

function small(name: string, channels = 16): Graph {
  const b = new GraphBuilder(name);
  let x = b.input('input', [1, channels, 28, 28]);
  const a = b.relu(b.conv(x, { out: channels, kernel: 3, pad: 1 }));
  const c = b.relu(b.conv(x, { out: channels, kernel: 1 }));
  x = b.concat([a, c]);
  x = b.relu(b.conv(x, { out: 2 * channels, kernel: 3, pad: 1, stride: 2 }));
  b.output(b.linear(b.flatten(b.globalAvgPool(x)), 10));
  return b.build();
}

const graphs = { a: small('a'), b: small('b', 32) };
const twoModels = {
  models: [
    { name: 'a', sloMs: 5, arrival: { kind: 'poisson', rate: 3000 } },
    { name: 'b', sloMs: 8, arrival: { kind: 'mmpp', rates: [500, 4000], switching: [20, 20] } },
  ],
};
const smallEnv = (o: AsyncInferenceOptions = {}) => new AsyncInferenceEnv({ workload: twoModels, graphs, maxSteps: 60, ...o });

// ---------------------------------------------------------------- API conformance

describe('checkParallelEnv', () => {
  test.each(registeredEnvs())('passes on registered env %s', (id) => {
    const report = checkParallelEnv(() => make(id, { maxSteps: 25 }), { steps: 30 });
    expect(report.apiSteps).toBe(25);
    expect(report.episodeEnded).toBe(true);
  });

  test('passes on the small env, wrapped, and with micro-batching and skipIdle', () => {
    // Running observation moments carry over resets by design, so only fresh envs must agree.
    checkParallelEnv(() => new RecordEpisodeStatistics(new TimeLimit(new NormalizeObservation(smallEnv()), 20)), { resetReplay: false });
    checkParallelEnv(() => new RecordEpisodeStatistics(new TimeLimit(smallEnv(), 20)));
    checkParallelEnv(() => smallEnv({ microBatches: [1, 2, 4], skipIdle: true, maxSteps: 30 }));
  });

  test('catches a broken env: unstable spaces, out-of-space observations, nondeterminism', () => {
    class Unstable extends AsyncInferenceEnv {
      override observationSpace(agent: string): Box {
        const s = super.observationSpace(agent);
        return new Box(s.low, s.high);
      }
    }
    expect(() => checkParallelEnv(() => new Unstable({ workload: twoModels, graphs, maxSteps: 5 }))).toThrow(
      /observationSpace\('launcher'\) returns a new object per call/,
    );
    class Negative extends AsyncInferenceEnv {
      override reset(o = {}) {
        const r = super.reset(o);
        r.observations[LAUNCHER][0] = -1;
        return r;
      }
    }
    expect(() => checkParallelEnv(() => new Negative({ workload: twoModels, graphs, maxSteps: 5 }))).toThrow(
      /reset: observation of 'launcher' is not in Box.*element 0 = -1 is outside/,
    );
    let calls = 0;
    class Noisy extends AsyncInferenceEnv {
      override step(a: Parameters<AsyncInferenceEnv['step']>[0]) {
        const r = super.step(a);
        r.rewards[LAUNCHER] += calls++ * 1e-9;
        return r;
      }
    }
    try {
      checkParallelEnv(() => new Noisy({ workload: twoModels, graphs, maxSteps: 5 }));
      throw new Error('no CheckError');
    } catch (e) {
      expect(e).toBeInstanceOf(CheckError);
      expect((e as CheckError).failures.join('\n')).toMatch(/seed test, two envs with seed 42: first difference/);
    }
  });
});

// ---------------------------------------------------------------- determinism

function trajectory(env: AsyncInferenceEnv, seed: number, steps: number): unknown[] {
  const rng = makeRng(`traj:${seed}`);
  const out: unknown[] = [];
  const r = env.reset({ seed });
  out.push(r.observations, env.state());
  for (let i = 0; i < steps && env.agents.length; i++) {
    const acts = { [LAUNCHER]: env.actionSpace(LAUNCHER).sample(rng), [SCHEDULER]: env.actionSpace(SCHEDULER).sample(rng) };
    const s = env.step(acts);
    out.push(s.observations, s.rewards, s.terminations, s.truncations, s.infos, env.state());
  }
  return out;
}

describe('determinism', () => {
  test('same seed ⇒ bit-identical trajectories; another seed ⇒ a different one', () => {
    const a = trajectory(smallEnv({ maxSteps: 200, microBatches: [1, 2] }), 3, 200);
    const b = trajectory(smallEnv({ maxSteps: 200, microBatches: [1, 2] }), 3, 200);
    const c = trajectory(smallEnv({ maxSteps: 200, microBatches: [1, 2] }), 4, 200);
    expect(a.length).toBe(2 + 6 * 200);
    expect(deepIdentical(a, b)).toBe(true);
    expect(deepIdentical(a, c)).toBe(false);
    // The episodes did real work.
    const last = (a[a.length - 2] as Record<string, { metrics: EnvMetrics }>)[LAUNCHER].metrics;
    expect(last.completed).toBeGreaterThan(100);
  });

  test('every mode is deterministic too', () => {
    for (const mode of ['streams', 'contexts', 'mps'] as const) {
      const o = { mode, transfers: 'pageable' as const, maxSteps: 80 };
      expect(deepIdentical(trajectory(smallEnv(o), 9, 80), trajectory(smallEnv(o), 9, 80))).toBe(true);
    }
  });
});

// ---------------------------------------------------------------- errors

describe('errors name the field or the agent', () => {
  test('invalid workload fields by path', () => {
    const bad = {
      models: [
        { name: 'a', arrival: { kind: 'poisson', rate: 1 } },
        { name: 'b', arrival: { kind: 'poisson', rate: 'fast' } },
      ],
    };
    expect(() => parseWorkload(bad)).toThrow(/models\[1\]\.arrival\.rate: expected number, received string/);
    expect(() => parseWorkload({ models: [{ name: 'a', arrival: { kind: 'burst', rate: 1 } }] })).toThrow(
      /models\[0\]\.arrival\.kind: Invalid discriminator value/,
    );
    expect(() => parseWorkload({ models: [{ name: 'a', sloMs: -1, arrival: { kind: 'poisson', rate: 1 } }] })).toThrow(/models\[0\]\.sloMs: Too small/);
    expect(() => parseWorkload({ models: [] })).toThrow(/models: Too small/);
    expect(() =>
      parseWorkload({
        models: [
          { name: 'a', arrival: { kind: 'poisson', rate: 1 } },
          { name: 'a', arrival: { kind: 'poisson', rate: 2 } },
        ],
      }),
    ).toThrow(/models\[1\]\.name: duplicate model name 'a' \(also models\[0\]\)/);
    expect(() => parseWorkload({ models: [{ name: 'a', rate: 3, arrival: { kind: 'poisson', rate: 1 } }] })).toThrow(/models\[0\]: Unrecognized key: "rate"/);
    expect(() => workloadFromYaml('models: [a, b', 'w.yaml')).toThrow(/w\.yaml: invalid YAML/);
  });

  test('unknown model names the workload entry', () => {
    expect(() => new AsyncInferenceEnv({ workload: { models: [{ name: 'resnet51', arrival: { kind: 'poisson', rate: 1 } }] } })).toThrow(
      /models\[0\]\.name: .*unknown model 'resnet51'/,
    );
    expect(() => new AsyncInferenceEnv({ workload: { models: [{ name: 'x', source: 'nope.onnx', arrival: { kind: 'poisson', rate: 1 } }] } })).toThrow(
      /models\[0\]\.source: /,
    );
  });

  test('bad actions name the agent, the component and the value', () => {
    const env = smallEnv();
    env.reset({ seed: 0 });
    const ok = { [LAUNCHER]: [1, 1], [SCHEDULER]: [0, 0, 0, 0] };
    expect(() => env.step({ ...ok, [LAUNCHER]: [7, 0] })).toThrow(
      /agent 'launcher': action \[7,0\] is not in MultiDiscrete\(\[5, 5\]\): component \[0\] \(a\.level\) = 7 is out of range 0\.\.4/,
    );
    expect(() => env.step({ ...ok, [SCHEDULER]: [0, 9, 0, 0] })).toThrow(/agent 'scheduler': .*component \[1\] \(a\.batch\) = 9 is out of range 0\.\.3/);
    expect(() => env.step({ ...ok, [LAUNCHER]: [0.5, 0] })).toThrow(/agent 'launcher': .*component \[0\] \(a\.level\) = 0\.5 is not an integer/);
    expect(() => env.step({ [LAUNCHER]: [1, 1] })).toThrow(/agent 'scheduler': missing action/);
    expect(() => env.step({ ...ok, critic: [0] })).toThrow(/action given for "critic", which is not a live agent/);
    expect(() => env.actionSpace('critic')).toThrow(/unknown agent "critic" \(agents: launcher, scheduler\)/);
    // Nothing was committed by the refused steps.
    expect(env.step(ok).infos[LAUNCHER].timeMs).toBe(10);
  });

  test('bad options name the option', () => {
    expect(() => smallEnv({ levels: [0, -1] })).toThrow(/option 'levels\[1\]': must be an integer ≥ 0, got -1/);
    expect(() => smallEnv({ batchSizes: [] })).toThrow(/option 'batchSizes': must be a non-empty array/);
    expect(() => smallEnv({ epochMs: 0 })).toThrow(/option 'epochMs': must be a positive number, got 0/);
    expect(() => smallEnv({ mode: 'mig' as never })).toThrow(/option 'mode': must be one of streams \| contexts \| mps, got "mig"/);
    expect(() => smallEnv({ streams: 1.5 })).toThrow(/option 'streams': must be a positive integer, got 1.5/);
    expect(() => smallEnv({ cost: 'oracle' })).toThrow(/option 'cost': unknown cost model 'oracle'/);
    expect(() => smallEnv({ candidates: ['gpg' as never] })).toThrow(/option 'candidates\[0\]': unknown partition method "gpg"/);
    expect(() => smallEnv({ extraSchedules: { zzz: [] } })).toThrow(/option 'extraSchedules': model 'zzz' is not in the workload/);
    expect(() => smallEnv({ reward: { wSlo: Number.NaN } })).toThrow(/option 'reward.wSlo': must be a finite number/);
    expect(() => smallEnv({ epochsMs: 5 } as never)).toThrow(/option 'epochsMs': unknown option/);
    expect(() => smallEnv().reset({ seed: 1.5 })).toThrow(/reset: seed must be an integer, got 1.5/);
  });
});

// ---------------------------------------------------------------- workloads

describe('workload files', () => {
  test('YAML with a relative trace file replays the trace; a trace row for an unknown model is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'topsched-env-'));
    writeFileSync(join(dir, 'trace.csv'), 'time_s,model,batch\n0.001,a,3\n0.0105,b,1\n0.05,a,2\n');
    writeFileSync(
      join(dir, 'w.yaml'),
      'name: replay\nmodels:\n  - name: a\n    arrival: { kind: trace, path: trace.csv }\n  - name: b\n    arrival: { kind: trace, path: trace.csv }\n',
    );
    const w = loadWorkloadFile(join(dir, 'w.yaml'));
    expect(w.name).toBe('replay');
    const env = new AsyncInferenceEnv({ workload: w, graphs, maxSteps: 0 });
    env.reset({ seed: 0 });
    const hold = { [LAUNCHER]: [0, 0], [SCHEDULER]: [0, 0, 0, 0] };
    const r1 = env.step(hold);
    expect(r1.observations[LAUNCHER][0]).toBe(3);
    expect(r1.observations[LAUNCHER][6]).toBe(0);
    const r2 = env.step(hold);
    expect(r2.observations[LAUNCHER][6]).toBe(1);
    // Release everything; the trace then ends and the episode terminates once all is served.
    const go = { [LAUNCHER]: [4, 4], [SCHEDULER]: [0, 3, 0, 3] };
    let term = false;
    for (let i = 0; i < 50 && !term; i++) term = env.step(go).terminations[LAUNCHER];
    expect(term).toBe(true);
    expect(env.agents).toEqual([]);
    expect(env.metrics().completed).toBe(6);
    writeFileSync(join(dir, 'bad.csv'), '0.1,a,1\n0.2,c,1\n');
    writeFileSync(join(dir, 'w2.yaml'), 'models:\n  - name: a\n    arrival: { kind: trace, path: bad.csv }\n');
    expect(() => new AsyncInferenceEnv({ workload: join(dir, 'w2.yaml'), graphs })).toThrow(/bad\.csv:2: model 'c' is not in the workload \(models: a\)/);
    expect(() => loadWorkloadFile(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read workload/);
  });
});

// ---------------------------------------------------------------- semantics

describe('env semantics', () => {
  test('levels release requests, batches group them, info.dt is the epoch', () => {
    const env = smallEnv({ levels: [0, 3, 100], batchSizes: [1, 2] });
    env.reset({ seed: 1 });
    const hold = { [LAUNCHER]: [0, 0], [SCHEDULER]: [0, 0, 0, 0] };
    let r = env.step(hold);
    for (let i = 0; i < 4; i++) r = env.step(hold);
    expect(r.infos[LAUNCHER].dt).toBeCloseTo(0.01, 12);
    const qa = r.observations[LAUNCHER][0];
    expect(qa).toBeGreaterThan(20);
    expect(env.view().inFlight(0)).toBe(0);
    // Level 1 releases 3 requests of model a in batches of 2: two launches (2 + 1).
    const sim = (env.executor as SimExecutor).sim;
    env.step({ [LAUNCHER]: [1, 0], [SCHEDULER]: [0, 1, 0, 0] });
    expect(sim.stats.tasksSubmitted).toBe(2);
    expect(sim.planInfo(0).batch + sim.planInfo(1).batch).toBe(3);
    // Level 2 (100 requests) releases the whole queue of b in batches of 1.
    const qb = env.view().queueLength(1);
    env.step({ [LAUNCHER]: [0, 2], [SCHEDULER]: [0, 0, 0, 0] });
    expect(sim.stats.tasksSubmitted).toBe(2 + Math.min(100, qb));
    // Every request that arrived is waiting, in flight, done, or dropped.
    const m = env.metrics();
    expect(m.arrived).toBe(m.inSystem + m.completed + m.dropped);
  });

  test('reward = w_tp·completed − w_backlog·Δ(in system) − w_slo·violations, from the metrics', () => {
    const env = smallEnv({ maxSteps: 100 });
    env.reset({ seed: 5 });
    const policy = randomPolicy(env, 5);
    let prev = env.metrics();
    let total = 0;
    for (let i = 0; i < 100 && env.agents.length; i++) {
      const r = env.step(policy.act());
      const m = r.infos[LAUNCHER].metrics as EnvMetrics;
      const want =
        DEFAULT_REWARD.wThroughput * (m.completed - prev.completed) -
        DEFAULT_REWARD.wBacklog * (m.inSystem - prev.inSystem) -
        DEFAULT_REWARD.wSlo * (m.violations - prev.violations);
      expect(r.rewards[LAUNCHER]).toBeCloseTo(want, 9);
      expect(r.rewards[SCHEDULER]).toBe(r.rewards[LAUNCHER]);
      total += r.rewards[LAUNCHER];
      prev = m;
    }
    expect(Math.abs(total)).toBeGreaterThan(0);
    expect(prev.p50Ms).toBeLessThanOrEqual(prev.p95Ms);
    expect(prev.p95Ms).toBeLessThanOrEqual(prev.p99Ms);
    expect(prev.utilisation).toBeGreaterThan(0);
    expect(prev.utilisation).toBeLessThanOrEqual(1);
    expect(prev.sloAttainment).toBeGreaterThanOrEqual(0);
    expect(prev.sloAttainment).toBeLessThanOrEqual(1);
  });

  test('skipIdle jumps idle time: dt spans several epochs (semi-MDP)', () => {
    const sparse = { models: [{ name: 'a', arrival: { kind: 'poisson', rate: 5 } }] };
    const env = new AsyncInferenceEnv({ workload: sparse, graphs, skipIdle: true, maxSteps: 40 });
    env.reset({ seed: 2 });
    const dts: number[] = [];
    while (env.agents.length) dts.push(env.step({ [LAUNCHER]: [4], [SCHEDULER]: [0, 0] }).infos[LAUNCHER].dt);
    expect(Math.max(...dts)).toBeGreaterThan(0.05);
    for (const dt of dts) expect(Math.round(dt / 0.01) * 0.01).toBeCloseTo(dt, 9);
    const fixed = new AsyncInferenceEnv({ workload: sparse, graphs, maxSteps: 40 });
    fixed.reset({ seed: 2 });
    expect(fixed.step({ [LAUNCHER]: [4], [SCHEDULER]: [0, 0] }).infos[LAUNCHER].dt).toBeCloseTo(0.01, 12);
  });

  test('full queues drop arrivals and count them as SLO violations', () => {
    const w = { models: [{ name: 'a', maxQueue: 5, arrival: { kind: 'poisson', rate: 5000 } }] };
    const env = new AsyncInferenceEnv({ workload: w, graphs, maxSteps: 10 });
    env.reset({ seed: 0 });
    const r = env.step({ [LAUNCHER]: [0], [SCHEDULER]: [0, 0] });
    const m = r.infos[LAUNCHER].metrics as EnvMetrics;
    expect(m.backlog).toBe(5);
    expect(m.dropped).toBe(m.arrived - 5);
    expect(m.violations).toBe(m.dropped);
    expect(r.rewards[LAUNCHER]).toBeCloseTo(-0.1 * 5 - m.dropped, 9);
  });
});

// ---------------------------------------------------------------- spaces, registry, wrappers

describe('spaces', () => {
  test('sample ∈ space, seeded; contains rejects and why() says why', () => {
    const box = new Box([0, -1, Number.NEGATIVE_INFINITY], [1, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
    const d = new Discrete(3, 2);
    const md = new MultiDiscrete([2, 5], ['x', 'y']);
    const dict = new Dict({ box, d, md });
    const gs = new GraphSpace(new Box(0, 1, [2]), new Discrete(4));
    for (const s of [box, d, md, dict, gs]) {
      s.seed(11);
      const x = s.sample();
      expect(s.contains(x)).toBe(true);
      s.seed(11);
      expect(deepIdentical(s.sample(), x)).toBe(true);
      expect(deepIdentical(s.sample(makeRng(1)), s.sample(makeRng(1)))).toBe(true);
    }
    expect(box.why(new Float32Array([2, 0, 0]))).toMatch(/element 0 = 2 is outside \[0, 1\]/);
    expect(box.why([0, 0])).toMatch(/expected 3 elements/);
    expect(d.why(1)).toMatch(/1 is out of range 2\.\.4/);
    expect(md.why([1, 5])).toMatch(/component \[1\] \(y\) = 5 is out of range 0\.\.4/);
    expect(dict.why({ box: new Float32Array(3), d: 2 })).toMatch(/missing key 'md'/);
    expect(gs.why({ nodes: new Float32Array([0.5, 0.5]), edges: new Int32Array([1]), edgeLinks: new Int32Array([0, 1]) })).toMatch(
      /edgeLinks\[1\] = 1 is not a node index/,
    );
    expect(() => new Box([1], [0])).toThrow(/Box bounds at index 0 are invalid/);
    expect(() => new MultiDiscrete([2, 0])).toThrow(/nvec\[1\] must be a positive integer, got 0/);
  });
});

describe('registry and wrappers', () => {
  test('make / register / registeredEnvs', () => {
    expect(registeredEnvs()).toContain('topsched/AsyncInference-v0');
    expect(() => make('topsched/Nope-v0')).toThrow(/no env registered as "topsched\/Nope-v0" \(registered: topsched\/AsyncInference-v0/);
    expect(() => register('bad id', () => smallEnv())).toThrow(/env id must look like 'namespace\/Name-v0'/);
    expect(() => register('topsched/AsyncInference-v0', () => smallEnv())).toThrow(/already registered/);
    const env = make('topsched/AsyncInferenceMPS-v0', { workload: twoModels, graphs, streams: 2 }) as AsyncInferenceEnv;
    expect(env.executor.streamSlots).toBe(4);
  });

  test('TimeLimit truncates, RecordEpisodeStatistics sums, NormalizeObservation standardises', () => {
    const inner = smallEnv({ maxSteps: 0 });
    const env = new RecordEpisodeStatistics(new TimeLimit(new NormalizeObservation(inner), 150));
    const policy = randomPolicy(inner, 1);
    env.reset({ seed: 1 });
    let sum = 0;
    let last: ReturnType<typeof env.step> | undefined;
    const seen: Float32Array[] = [];
    for (let i = 0; env.agents.length; i++) {
      last = env.step(policy.act());
      sum += last.rewards[LAUNCHER];
      seen.push(last.observations[LAUNCHER]);
      expect(i).toBeLessThan(150);
    }
    expect(last?.truncations[LAUNCHER]).toBe(true);
    const ep = last?.infos[LAUNCHER].episode as { r: number; l: number; t: number };
    expect(ep.l).toBe(150);
    expect(ep.r).toBeCloseTo(sum, 9);
    expect(ep.t).toBeCloseTo(1.5, 9);
    expect(() => env.step(policy.act())).toThrow(/call reset/);
    // Queue-length feature: standardised over the run, |mean| well under its raw scale.
    const q = seen.slice(50).map((o) => o[0]);
    const mean = q.reduce((a, b) => a + b, 0) / q.length;
    expect(Math.abs(mean)).toBeLessThan(2);
    expect(env.observationSpace(LAUNCHER)).toBe(env.observationSpace(LAUNCHER));
    expect((env.observationSpace(LAUNCHER) as Box).high[0]).toBe(10);
  });
});

// ---------------------------------------------------------------- baselines

describe('baseline policies', () => {
  test('each runs an episode; greedy-release outserves one-at-a-time under load', async () => {
    const env = smallEnv({ maxSteps: 100, candidates: ['sequential', 'greedy'] });
    const results = new Map<string, Awaited<ReturnType<typeof runEpisode>>>();
    for (const name of ['fixed-frequency', 'one-at-a-time', 'greedy-release', 'random']) {
      const p = makePolicy(name, env, { schedule: 'greedy' });
      results.set(name, await runEpisode(env, p, { seed: 3 }));
    }
    for (const r of results.values()) expect(r.steps).toBe(100);
    const greedy = results.get('greedy-release') as Awaited<ReturnType<typeof runEpisode>>;
    const one = results.get('one-at-a-time') as Awaited<ReturnType<typeof runEpisode>>;
    expect(greedy.completed).toBeGreaterThan(2 * one.completed);
    expect(() => makePolicy('oracle', env)).toThrow(/unknown baseline "oracle"/);
    expect(() => fixedFrequencyPolicy(env, { level: 1, schedule: 'ios-dp' })).toThrow(
      /policy option 'schedule' for model 'a': no candidate schedule "ios-dp" \(candidates: sequential, greedy\)/,
    );
    expect(() => greedyReleasePolicy(env, { batch: 3 })).toThrow(/batch 3 is not one of the env's batchSizes/);
  });

  test('one-at-a-time keeps at most one launch per model in flight', () => {
    const env = smallEnv({ maxSteps: 80, epochMs: 0.5 });
    const p = oneAtATimePolicy(env);
    env.reset({ seed: 4 });
    while (env.agents.length) {
      env.step(p.act());
      for (let m = 0; m < 2; m++) expect(env.view().inFlight(m)).toBeLessThanOrEqual(1);
    }
  });
});

// ---------------------------------------------------------------- native executor

describe('native executor', () => {
  test('step() refuses (asynchronous executor); stepAsync runs real tasks or errors clearly', async () => {
    const env = smallEnv({ executor: 'native', clock: 'measured', streams: 2, maxSteps: 5, batchSizes: [1, 2] });
    env.reset({ seed: 0 });
    const act = { [LAUNCHER]: [1, 1], [SCHEDULER]: [0, 1, 1, 0] };
    expect(() => env.step(act)).toThrow(/executor 'native' measures real time and runs asynchronously: call stepAsync\(\)/);
    if (!nativeAvailable()) {
      await expect(env.stepAsync(act)).rejects.toThrow(/native executor unavailable/);
      return;
    }
    let done = 0;
    for (let i = 0; i < 5 && env.agents.length; i++) {
      const r = await env.stepAsync(act);
      expect(r.infos[LAUNCHER].dt).toBeGreaterThanOrEqual(0.01 - 1e-12);
      done = (r.infos[LAUNCHER].metrics as EnvMetrics).completed;
    }
    expect(done).toBeGreaterThan(0);
    env.close();
  });

  test.runIf(nativeAvailable())('simulator vs native executor: same launches, completion times compared', async () => {
    const r = await simVsNative({ graphs: [graphs.a, graphs.b], launchesPerModel: 2, streams: 2, repeats: 3 });
    console.log(
      `sim vs native (${r.device}): makespan ${r.simMakespanMs.toFixed(2)} vs ${r.nativeMakespanMs.toFixed(2)} ms, mean |rel. error| ${(100 * r.meanAbsRelError).toFixed(1)} %, ${r.contention.source}`,
    );
    expect(r.tasks).toHaveLength(4);
    for (const t of r.tasks) {
      expect(t.nativeMs).toBeGreaterThan(0);
      expect(t.simMs).toBeGreaterThan(0);
    }
    // A shared CI machine makes native timings noisy: this only catches gross disagreement.
    expect(r.meanAbsRelError).toBeLessThan(1);
  });

  test.runIf(nativeAvailable())('co-run pairs profiled on the native executor fit the simulator contention model', async () => {
    const ex = new NativeExecutor({ streams: 2 });
    try {
      const g = graphs.a;
      const h = await ex.loadModel(g);
      const schedule = partition(g, 'greedy', new RooflineCostModel(devicePreset('cpu-2core'))).schedule;
      const doc = await profileModel(ex, h, { schedule, pairs: [[g.nodes[0].id, g.nodes[2].id]], warmup: 1, number: 2, repeat: 3, corunMs: 5 });
      expect(doc.pairs).toHaveLength(1);
      const env = smallEnv({ contention: [doc], device: 'cpu-2core', cost: 'roofline:cpu-2core' });
      const c = (env.executor as SimExecutor).sim.contention;
      expect(c.source).toMatch(/^fit:1 pairs/);
      expect(c.alpha).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(c.rmsLogError)).toBe(true);
      env.reset({ seed: 0 });
      expect(env.step({ [LAUNCHER]: [2, 2], [SCHEDULER]: [0, 0, 0, 0] }).infos[LAUNCHER].dt).toBeCloseTo(0.01, 12);
      expect(() => smallEnv({ contention: [{ format: 'nope' }] as never })).toThrow(/option 'contention\[0\]': expected a 'topsched.profile\/1' document/);
    } finally {
      ex.close();
    }
  });
});

// A type-level check that the env is a ParallelEnv.
const _typecheck: ParallelEnv<Float32Array, Int32Array> = smallEnv();
void _typecheck;
