/**
 * Runs an evaluation spec (spec.ts): calibrates each workload's capacity, trains the learned
 * policies once per training seed on a randomised mixture of the workloads that are not held out,
 * tunes every baseline per cell on the tuning seeds, then runs every policy on the evaluation seeds
 * of every (workload, load) cell through the one episode loop (episode.ts) and summarises each
 * metric as a mean with a bootstrap 95 % interval, plus the paired goodput ratio to the best static
 * policy. Learned rows pool their training seeds: the interval resamples training seeds (the
 * larger source of variance), each seed averaged over the evaluation episodes.
 */

import { availableParallelism } from 'node:os';
import { type BackendChoice, initBackend } from '../../agents/backend.js';
import { posPolicy, type TritonOptions, tritonPolicy } from '../../agents/baselines.js';
import { deadlineAwarePolicy, describeStatic, type RateTableEntry, rateAdaptivePolicy, staticPolicy } from '../../agents/heuristics.js';
import { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import { greedyReleasePolicy, oneAtATimePolicy } from '../../env/policies.js';
import type { Policy } from '../../env/policy.js';
import { type Interval, mean, meanInterval, pairedRatio } from '../../env/stats.js';
import { loadWorkloadFile, type Workload } from '../../env/workload.js';
import { machineLine } from '../machine.js';
import { gitInfo } from '../run-dir.js';
import { type EpisodeResult, runEpisode, type SeriesPoint } from './episode.js';
import { checkLearner, describeLearner, learnerPolicy, type TrainedLearner, type TrainJob, trainLearners } from './learners.js';
import { atTotalRate, calibrateCapacity } from './load.js';
import { BASELINE_POLICIES, type BaselineName, type LearnerSpec, type Spec } from './spec.js';
import { type TuneContext, tuneDeadline, tuneRateTable, tuneStatic, tuneTriton, tuneTritonOnMixture } from './tuning.js';

export interface ResultRow {
  workload: string;
  load: number;
  heldOut: boolean;
  policy: string;
  kind: 'learned' | 'baseline';
  seeds: number[];
  episodes: number;
  goodput: Interval;
  sloAttainment: Interval;
  throughput: Interval;
  p50Ms: Interval;
  p99Ms: Interval;
  meanQueueMs: number;
  meanComputeMs: number;
  dropped: number;
  decisionUs: number;
  vsBestStatic: { goodputRatio: number; ci95: [number, number] } | null;
  /** What the policy was tuned to (baselines) or trained with (learned). */
  setup: string;
  /** Env steps spent tuning (baselines) or training (learned, per seed). */
  budgetSteps: number;
}

export interface SeriesRow {
  workload: string;
  load: number;
  policy: string;
  points: SeriesPoint[];
}

export interface SpecResults {
  name: string;
  scale: string;
  executor: 'sim' | 'native';
  machine: string;
  date: string;
  commit: string;
  command: string;
  warmupS: number;
  episodeS: number;
  capacity: Record<string, number>;
  /** The tfjs backend the learners trained on (null without learned rows). */
  tfjsBackend: string | null;
  rows: ResultRow[];
  series: SeriesRow[];
  wallS: number;
}

interface Cell {
  workload: Workload;
  heldOut: boolean;
  load: number;
  rate: number;
}

const range = (r: { from: number; count: number }) => Array.from({ length: r.count }, (_, i) => r.from + i);

function summarise(
  eps: EpisodeResult[],
  seed: string,
): Pick<ResultRow, 'goodput' | 'sloAttainment' | 'throughput' | 'p50Ms' | 'p99Ms' | 'meanQueueMs' | 'meanComputeMs' | 'dropped' | 'decisionUs'> {
  const col = (k: keyof EpisodeResult) => eps.map((e) => e[k] as number);
  return {
    goodput: meanInterval(col('goodput'), `${seed}:goodput`),
    sloAttainment: meanInterval(col('attainment'), `${seed}:attainment`),
    throughput: meanInterval(col('throughput'), `${seed}:throughput`),
    p50Ms: meanInterval(col('p50Ms'), `${seed}:p50`),
    p99Ms: meanInterval(col('p99Ms'), `${seed}:p99`),
    meanQueueMs: mean(col('meanQueueMs')),
    meanComputeMs: mean(col('meanComputeMs')),
    dropped: mean(col('dropped')),
    decisionUs: mean(col('decisionUsMean')),
  };
}

/** Mean time series over episodes (episodes share their sampling grid). */
function meanSeries(eps: EpisodeResult[]): SeriesPoint[] {
  const n = Math.min(...eps.map((e) => e.series.length));
  return Array.from({ length: n }, (_, i) => ({
    tS: eps[0].series[i].tS,
    arrivalRate: mean(eps.map((e) => e.series[i].arrivalRate)),
    goodput: mean(eps.map((e) => e.series[i].goodput)),
    backlog: mean(eps.map((e) => e.series[i].backlog)),
  }));
}

export interface RunSpecOptions {
  log?: (line: string) => void;
  command?: string;
  /** tfjs backend the learners train on (default wasm; each worker thread starts the same one). */
  backend?: BackendChoice;
  /** Worker threads training the (learner, seed) jobs (default: one per core). */
  trainThreads?: number;
  /** Workloads whose time series are kept (default: diurnal and the replays). */
  seriesFor?: (workload: string) => boolean;
}

/** The spec's learned policies in `policies` order: 'maddpg' (TOP-faithful, learned.agent) or a named learner. */
export function learnerSpecs(spec: Spec): [string, LearnerSpec][] {
  return spec.policies
    .filter((p) => !(BASELINE_POLICIES as readonly string[]).includes(p))
    .map((p): [string, LearnerSpec] => {
      const l = spec.learners[p] ?? { algorithm: 'maddpg' as const, agent: {}, envs: 1, learn: 'both' as const };
      // MADDPG learners start from the spec's shared MADDPG options (learned.agent).
      const agent = l.algorithm === 'maddpg' ? { ...spec.learned.agent, ...l.agent } : l.agent;
      return [p, { ...l, agent, steps: l.steps ?? spec.learned.steps }];
    });
}

export async function runSpec(spec: Spec, o: RunSpecOptions = {}): Promise<SpecResults> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  // The machine and commit the run started from (the code that produced the numbers).
  const git = gitInfo();
  const machine = machineLine();
  const base = { ...(spec.env as AsyncInferenceOptions), executor: spec.executor } as AsyncInferenceOptions;
  const evalSeeds = range(spec.seeds.eval);
  const tuneSeeds = range(spec.seeds.tuning);
  const overlap = evalSeeds.filter((s) => tuneSeeds.includes(s));
  if (overlap.length) throw new Error(`${spec.file}: tuning and evaluation seeds overlap (${overlap.join(', ')}); they must be disjoint`);
  const seriesFor = o.seriesFor ?? ((w: string) => w === 'diurnal' || w.startsWith('azure'));

  // Capacity per workload (sim calibration: the native executor is measured on the same loads).
  const workloads = spec.workloads.map((wf) => ({ workload: loadWorkloadFile(wf.file), heldOut: wf.heldOut }));
  const capacity: Record<string, number> = {};
  const calibration = { ...base, executor: 'sim' as const };
  for (const { workload } of workloads) {
    capacity[workload.name] = await calibrateCapacity(calibration, workload);
    log(`capacity of ${workload.name}: ${capacity[workload.name].toFixed(0)} req/s`);
  }
  const cells: Cell[] = workloads.flatMap(({ workload, heldOut }) =>
    spec.loads.map((load) => ({ workload, heldOut, load, rate: load * capacity[workload.name] })),
  );

  // Learned policies: each learner once per training seed on the mixture of training workloads ×
  // loads, the (learner, seed) jobs in parallel worker threads. A residual learner's base is tuned
  // first, on that same training mixture and the tuning seeds.
  const learners = learnerSpecs(spec);
  for (const [name, l] of learners) checkLearner(name, l);
  const trainSet = workloads.filter((w) => !w.heldOut).map(({ workload }) => ({ workload, capacity: capacity[workload.name] }));
  if (learners.length && !trainSet.length) throw new Error(`${spec.file}: every workload is held out; the learners have nothing to train on`);
  // Tuned once and shared by every learner over the Triton-like base.
  const baseTuning = new Map<string, { steps: number }>();
  let tritonBase: { config: TritonOptions; steps: number } | null = null;
  for (const [name, l] of learners) {
    if (l.residual !== 'triton') continue;
    if (!tritonBase) {
      const envs = trainSet.flatMap(({ workload, capacity: c }) =>
        spec.learned.trainLoads.map((load) => new AsyncInferenceEnv({ ...base, executor: 'sim', workload: atTotalRate(workload, load * c) })),
      );
      try {
        const t = await tuneTritonOnMixture(envs, tuneSeeds.slice(0, 1), spec.warmupS);
        tritonBase = { config: t.config, steps: t.steps };
        log(`residual base triton tuned on the training mixture: ${JSON.stringify(t.config)} (${t.steps} steps)`);
      } finally {
        for (const e of envs) e.close();
      }
    }
    l.residualConfig = tritonBase.config;
    baseTuning.set(name, { steps: tritonBase.steps });
  }
  const jobs: TrainJob[] = learners.flatMap(([name, learner]) =>
    spec.seeds.train.map((seed) => ({ name, learner, seed, base, train: trainSet, trainLoads: spec.learned.trainLoads })),
  );
  const tt = performance.now();
  const backend = jobs.length ? (await initBackend(o.backend ?? 'wasm', { log: () => {} })).choice : null;
  const results = jobs.length ? await trainLearners(jobs, o.trainThreads ?? availableParallelism(), backend ?? 'wasm', log) : [];
  if (jobs.length) log(`trained ${jobs.length} (learner, seed) jobs in ${((performance.now() - tt) / 1000).toFixed(1)} s`);
  const trained = new Map<string, TrainedLearner[]>(learners.map(([name]) => [name, results.filter((r) => r.name === name)]));

  const rows: ResultRow[] = [];
  const series: SeriesRow[] = [];
  // Rate-adaptive tables per workload mix, tuned once (on Poisson arrivals of the mix).
  const tables = new Map<string, { table: RateTableEntry[]; steps: number }>();
  for (const cell of cells) {
    const name = cell.workload.name;
    const env = new AsyncInferenceEnv({ ...base, workload: atTotalRate(cell.workload, cell.rate) });
    const tc = performance.now();
    try {
      const ctx = (): TuneContext => ({ env, seeds: tuneSeeds, warmupS: spec.warmupS, steps: 0, evals: 0 });
      const policies: { name: BaselineName; policy: Policy; kind: 'learned' | 'baseline'; setup: string; budget: number }[] = [];
      const tunedStatic = await tuneStatic(ctx(), spec.tuning.staticBudgetSteps);
      for (const p of spec.policies) {
        if (p === 'best-static')
          policies.push({
            name: p,
            kind: 'baseline',
            policy: staticPolicy(env, tunedStatic.config),
            setup: describeStatic(env, tunedStatic.config),
            budget: tunedStatic.steps,
          });
        else if (p === 'rate-adaptive') {
          let t = tables.get(name);
          if (!t) {
            t = await tuneRateTable(base, cell.workload, capacity[name], spec.tuning.rateLoads, tuneSeeds, spec.warmupS, spec.tuning.rateBudgetSteps);
            tables.set(name, t);
          }
          policies.push({
            name: p,
            kind: 'baseline',
            policy: rateAdaptivePolicy(env, t.table),
            setup: `table over ${spec.tuning.rateLoads.join('/')} × capacity`,
            budget: t.steps,
          });
        } else if (p === 'deadline-aware') {
          const t = await tuneDeadline(ctx());
          policies.push({
            name: p,
            kind: 'baseline',
            policy: deadlineAwarePolicy(env, t.config),
            setup: `maxInFlight ${t.config.maxInFlight}`,
            budget: t.steps,
          });
        } else if (p === 'triton') {
          const t = await tuneTriton(ctx());
          const c = t.config;
          policies.push({
            name: p,
            kind: 'baseline',
            policy: tritonPolicy(env, c),
            setup: `${c.instances} instance(s), preferred batch ${c.maxBatch}, max queue delay ${c.maxQueueDelayMs} ms`,
            budget: t.steps,
          });
        } else if (p === 'pos') policies.push({ name: p, kind: 'baseline', policy: posPolicy(env), setup: 'defaults', budget: 0 });
        else if (p === 'one-at-a-time') policies.push({ name: p, kind: 'baseline', policy: oneAtATimePolicy(env), setup: 'sanity', budget: 0 });
        else if (p === 'greedy-release') policies.push({ name: p, kind: 'baseline', policy: greedyReleasePolicy(env), setup: 'largest batch', budget: 0 });
      }
      const tag = `${name}@${cell.load}`;
      const evalAll = async (policy: Policy) => {
        const eps: EpisodeResult[] = [];
        for (const seed of evalSeeds) eps.push(await runEpisode(env, policy, { seed, warmupS: spec.warmupS }));
        return eps;
      };
      const pushRow = (
        p: { name: string; kind: 'learned' | 'baseline'; setup: string; budget: number },
        eps: EpisodeResult[],
        ratio: ResultRow['vsBestStatic'],
        seeds: number[],
        goodput?: ResultRow['goodput'],
      ) => {
        rows.push({
          workload: name,
          load: cell.load,
          heldOut: cell.heldOut,
          policy: p.name,
          kind: p.kind,
          seeds,
          episodes: eps.length,
          ...summarise(eps, `${tag}:${p.name}`),
          ...(goodput ? { goodput } : {}),
          vsBestStatic: ratio,
          setup: p.setup,
          budgetSteps: p.budget,
        });
        if (seriesFor(name)) series.push({ workload: name, load: cell.load, policy: p.name, points: meanSeries(eps) });
      };
      const staticEps = await evalAll(staticPolicy(env, tunedStatic.config));
      const staticGood = staticEps.map((e) => e.goodput);
      for (const p of policies) {
        const eps = p.name === 'best-static' ? staticEps : await evalAll(p.policy);
        const r = pairedRatio(
          eps.map((e) => e.goodput),
          staticGood,
          `${tag}:${p.name}:ratio`,
        );
        pushRow(p, eps, { goodputRatio: r.mean, ci95: r.ci95 }, evalSeeds);
      }
      for (const [lname, l] of learners) {
        const perSeed: EpisodeResult[][] = [];
        const list = trained.get(lname) ?? [];
        // A learner with its own observation layout runs on its own copy of the cell's env.
        const own = Object.keys(list[0]?.envOverrides ?? {}).length
          ? new AsyncInferenceEnv({ ...base, ...list[0].envOverrides, workload: atTotalRate(cell.workload, cell.rate) })
          : null;
        try {
          for (const tr of list) {
            const runEnv = own ?? env;
            const policy = learnerPolicy(tr, l, runEnv);
            const eps: EpisodeResult[] = [];
            for (const seed of evalSeeds) eps.push(await runEpisode(runEnv, policy, { seed, warmupS: spec.warmupS }));
            perSeed.push(eps);
          }
        } finally {
          own?.close();
        }
        const all = perSeed.flat();
        // Ratio per training seed (its episodes vs best static on the same evaluation seeds), then
        // the interval over training seeds.
        const ratios = perSeed.map((eps) => mean(eps.map((e) => e.goodput)) / Math.max(1e-9, mean(staticGood)));
        const ri = meanInterval(ratios, `${tag}:${lname}:ratio`);
        pushRow(
          { name: lname, kind: 'learned', setup: describeLearner(l, trainSet.length), budget: l.steps + (baseTuning.get(lname)?.steps ?? 0) },
          all,
          { goodputRatio: ri.mean, ci95: ri.ci95 },
          spec.seeds.train,
          // The goodput interval over training seeds too (each seed's mean over evaluation episodes).
          meanInterval(
            perSeed.map((eps) => mean(eps.map((e) => e.goodput))),
            `${tag}:${lname}:goodput`,
          ),
        );
      }
      log(`${tag}: ${policies.length + learners.length} policies in ${((performance.now() - tc) / 1000).toFixed(1)} s`);
    } finally {
      env.close();
    }
  }
  return {
    name: spec.name,
    scale: spec.scale,
    executor: spec.executor,
    machine,
    date: new Date().toISOString().slice(0, 10),
    commit: `${git.commit}${git.dirty ? ' (dirty)' : ''}`,
    command: o.command ?? `topsched reproduce ${spec.name}${spec.scale === 'default' ? '' : ` --scale ${spec.scale}`}`,
    warmupS: spec.warmupS,
    episodeS: (((spec.env as AsyncInferenceOptions).maxSteps ?? 1000) * ((spec.env as AsyncInferenceOptions).epochMs ?? 10)) / 1000 - spec.warmupS,
    capacity,
    tfjsBackend: backend,
    rows,
    series,
    wallS: (performance.now() - t0) / 1000,
  };
}
