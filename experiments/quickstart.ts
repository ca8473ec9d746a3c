/**
 * `npm start`: a short end-to-end experiment on the real CPU backend, about 2 minutes on 2 cores.
 *
 *  1. profile: two zoo models on the native CPU executor (per-op latencies, co-run pairs of their
 *     concurrent stages), and the same launches released at t = 0 on both sides (simVsNative);
 *  2. calibrate: the simulator prices ops with that profile and slows co-running ops with the
 *     contention fitted to its pairs (env/validate.ts);
 *  3. train: MADDPG (launcher + scheduler) briefly in the calibrated simulator on a two-model
 *     Poisson workload loaded to `load` × the calibrated capacity;
 *  4. evaluate: the trained policy and two baselines on the native executor (real time), same
 *     seeded arrivals for each, and in the calibrated simulator for comparison;
 *  5. report: a table, a verdict computed from it, a plot, results.json and table.md in a run
 *     directory (runs/quickstart_<time>/).
 *
 * Entry: `node dist/experiments/quickstart.js [--steps N] [--seconds S] [--load X] [--train-budget S] [--out DIR]`; tests call
 * `quickstart()` with tiny settings.
 */

import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend } from '../agents/backend.js';
import { type MaddpgConfig, MaddpgTrainer } from '../agents/maddpg.js';
import type { Policy } from '../agents/policy.js';
import { ProgressBar } from '../agents/progress.js';
import { AsyncInferenceEnv, LAUNCHER } from '../env/async-inference-env.js';
import type { EnvMetrics } from '../env/metrics.js';
import type { AsyncInferenceOptions } from '../env/options.js';
import { fixedFrequencyPolicy, greedyReleasePolicy, oneAtATimePolicy } from '../env/policies.js';
import { renamed } from '../env/policy.js';
import { simVsNative } from '../env/validate.js';
import { buildModel } from '../graphs/zoo/index.js';
import { table } from './format.js';
import { runEpisode } from './harness/episode.js';
import { machineInfo, machineLine, writeFileAtomic } from './machine.js';
import { barChart, writePlot } from './plot.js';
import { newRunMeta, writeJsonAtomic, writeMeta } from './run-dir.js';

export type QuickBaseline = 'fixed-frequency' | 'greedy-release' | 'one-at-a-time';

export interface QuickstartOptions {
  /** Two zoo models at batch 1. Default squeezenet1_1, mobilenet_v2. */
  models?: string[];
  /** Run directory. Default runs/quickstart_<UTC time> under the current directory. */
  outDir?: string;
  /** MADDPG env steps in the simulator. Default 6000. */
  trainSteps?: number;
  /**
   * Wall-clock cap on training, s: on a busy machine training stops early (the steps done are
   * reported) so the whole run stays within 3 minutes. Default 75.
   */
  trainBudgetS?: number;
  /** Env seconds (real seconds on the native executor) of each evaluation run. Default 10. */
  evalSeconds?: number;
  /** Offered load as a fraction of the calibrated simulator's capacity. Default 0.8. */
  load?: number;
  /** Baselines evaluated next to MADDPG. Default fixed-frequency (rate-matched) and greedy-release. */
  baselines?: QuickBaseline[];
  /** Native repeats of the t = 0 comparison. Default 3. */
  profileRepeats?: number;
  streams?: number;
  /** Workload seed of every evaluation run (the same arrivals for each policy). Default 1. */
  seed?: number;
  /** Training episode length, steps. Default 200. */
  episodeSteps?: number;
  /** MADDPG config overrides on top of the quick config (tests shrink learningStarts). */
  maddpg?: Partial<MaddpgConfig>;
  log?: (line: string) => void;
  /** Progress bars on stderr when it is a TTY. Default true. */
  progress?: boolean;
}

export interface PolicyRow {
  policy: string;
  executor: 'native' | 'sim';
  throughput: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Of the finished-or-dropped requests, the fraction within SLO (the env's metric). */
  sloAttainment: number;
  /**
   * Requests completed within SLO over requests arrived: requests left waiting count as missed, so
   * a policy cannot look good by leaving its backlog unserved. The verdict uses this one.
   */
  onTimeOfArrived: number;
  /** Requests waiting or in flight when the run ended. */
  backlog: number;
  arrived: number;
  completed: number;
  steps: number;
  /** Native steps whose launches ran past the epoch. */
  overruns: number;
  wallS: number;
}

export interface QuickstartResult {
  runDir: string;
  models: string[];
  calibration: {
    device: string;
    /** Profiled ops per model. */
    profiledOps: number[];
    contention: { alpha: number; beta: number; source: string } | null;
    aloneMs: number[];
    capacity: number;
    t0: { simMs: number; nativeMs: number; meanAbsRelError: number };
  };
  workload: { rates: number[]; sloMs: number[]; epochMs: number; seconds: number; seed: number; load: number };
  /** `stoppedEarly`: the wall-clock budget ran out before `trainSteps`. */
  training: { steps: number; episodes: number; updates: number; wallS: number; returns: number[]; stoppedEarly: boolean };
  native: PolicyRow[];
  sim: PolicyRow[];
  verdict: string;
  phases: { name: string; seconds: number }[];
  files: string[];
}

/** Launches per model of the t = 0 comparison (its simulated makespan sets the capacity). */
const LAUNCHES_PER_MODEL = 4;

/** A small MADDPG: what trains in under a minute on 2 shared cores (wasm backend). */
const QUICK_MADDPG: Partial<MaddpgConfig> = {
  seed: 0,
  lr: 1e-3,
  gamma: 0.95,
  tau: 0.01,
  batchSize: 64,
  bufferSize: 20_000,
  learningStarts: 500,
  trainFreq: 4,
  gradientSteps: 1,
  hidden: [64, 64],
};

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);

/** Runs `policy` on `env` from reset(seed) until `untilMs` of env time through the harness's episode loop; any executor. */
async function evaluate(
  env: AsyncInferenceEnv,
  policy: Policy,
  seed: number,
  untilMs: number,
  bar: ProgressBar | null,
): Promise<{ metrics: EnvMetrics; steps: number; overruns: number; wallS: number }> {
  const t0 = performance.now();
  const r = await runEpisode(env, policy, {
    seed,
    untilMs,
    seriesEveryMs: 0,
    onStep: (now, steps) => bar?.update(Math.min(untilMs, Math.round(now)), { steps }),
  });
  bar?.done({ steps: r.steps });
  return { metrics: env.metrics(), steps: r.steps, overruns: r.overruns, wallS: (performance.now() - t0) / 1000 };
}

/** The env-policy baselines (act() without observations) as agents' Policy. */
function baseline(name: QuickBaseline, env: AsyncInferenceEnv, perEpoch: number[]): Policy {
  const view = env.view();
  const p =
    name === 'greedy-release'
      ? greedyReleasePolicy(env, { schedule: 'extra:0', batch: 1 })
      : name === 'one-at-a-time'
        ? oneAtATimePolicy(env, { schedule: 'extra:0' })
        : // Rate-matched: each model releases the smallest level covering its mean arrivals per epoch.
          fixedFrequencyPolicy(env, {
            schedule: 'extra:0',
            batch: 1,
            level: perEpoch.map((x) => {
              const i = view.levels.findIndex((l) => l >= x);
              return i < 0 ? view.levels.length - 1 : i;
            }),
          });
  const label =
    name === 'fixed-frequency'
      ? `fixed-frequency (${perEpoch.map((x) => view.levels.find((l) => l >= x) ?? Math.max(...view.levels)).join('/')} per epoch)`
      : name;
  return renamed(p, label);
}

function row(policy: string, executor: 'native' | 'sim', r: Awaited<ReturnType<typeof evaluate>>): PolicyRow {
  const m = r.metrics;
  return {
    policy,
    executor,
    throughput: m.throughput,
    p50Ms: m.p50Ms,
    p95Ms: m.p95Ms,
    p99Ms: m.p99Ms,
    sloAttainment: m.sloAttainment,
    onTimeOfArrived: m.arrived ? (m.sloAttainment * (m.completed + m.dropped)) / m.arrived : 0,
    backlog: m.inSystem,
    arrived: m.arrived,
    completed: m.completed,
    steps: r.steps,
    overruns: r.overruns,
    wallS: r.wallS,
  };
}

/**
 * The verdict, from the native rows (MADDPG first): the baseline with the most requests served
 * within SLO (of those arrived; then the lower p99) is the one to beat; within 1 point is a match.
 */
export function verdictOf(native: PolicyRow[]): string {
  const [learned, ...base] = native;
  if (!learned || !base.length) throw new Error('quickstart verdict: needs the MADDPG row and at least one baseline row');
  const better = (a: PolicyRow, b: PolicyRow) =>
    a.onTimeOfArrived > b.onTimeOfArrived + 1e-9 || (Math.abs(a.onTimeOfArrived - b.onTimeOfArrived) <= 1e-9 && a.p99Ms < b.p99Ms);
  const best = base.reduce((a, b) => (better(b, a) ? b : a));
  const d = 100 * (learned.onTimeOfArrived - best.onTimeOfArrived);
  // Within 1 point is noise on a shared machine; within 5 only a slight edge.
  const word = Math.abs(d) < 1 ? 'matches' : Math.abs(d) < 5 ? (d > 0 ? 'is slightly ahead of' : 'is slightly behind') : d > 0 ? 'beats' : 'trails';
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  // The on-time share can hide a trade: fewer completions and a larger backlog left behind.
  const trade =
    d > 0 && learned.completed < 0.95 * best.completed && learned.backlog > best.backlog
      ? ' — but it completes fewer requests and leaves a larger backlog'
      : d < 0 && learned.completed > 1.05 * best.completed
        ? ' — though it completes more requests'
        : '';
  return `Verdict: on the native CPU executor MADDPG ${word} the best baseline (${best.policy})${trade}: requests served within SLO ${pct(learned.onTimeOfArrived)} vs ${pct(best.onTimeOfArrived)} of those arrived (${d >= 0 ? '+' : ''}${d.toFixed(1)} points), throughput ${learned.throughput.toFixed(1)} vs ${best.throughput.toFixed(1)} req/s, p99 ${learned.p99Ms.toFixed(1)} vs ${best.p99Ms.toFixed(1)} ms, end backlog ${learned.backlog} vs ${best.backlog}.`;
}

const HEADERS = ['policy', 'executor', 'throughput req/s', 'p50 ms', 'p99 ms', 'SLO met (of finished)', 'on time (of arrived)', 'backlog', 'completed/arrived'];
const cells = (r: PolicyRow) => [
  r.policy,
  r.executor,
  r.throughput.toFixed(1),
  r.p50Ms.toFixed(1),
  r.p99Ms.toFixed(1),
  `${(100 * r.sloAttainment).toFixed(1)} %`,
  `${(100 * r.onTimeOfArrived).toFixed(1)} %`,
  r.backlog,
  `${r.completed}/${r.arrived}`,
];

/** A GitHub-flavoured markdown table (table.md renders as a table, unlike the console one). */
function markdownTable(headers: string[], rows: (string | number)[][]): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/**
 * Runs the quick start. The run directory gets a meta.json in the run-dir format (status
 * 'running', then 'completed' or 'failed' with the error), results.json, table.md and the plot.
 */
export async function quickstart(o: QuickstartOptions = {}): Promise<QuickstartResult> {
  const runDir = resolve(o.outDir ?? join('runs', `quickstart_${stamp()}`));
  const settings = { ...o, log: undefined };
  const meta = newRunMeta('quickstart', o.seed ?? 1, createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 8));
  writeMeta(runDir, meta);
  try {
    const r = await run(o, runDir);
    writeMeta(runDir, { ...meta, status: 'completed', endedAt: new Date().toISOString(), step: r.training.steps });
    return r;
  } catch (e) {
    writeMeta(runDir, { ...meta, status: 'failed', endedAt: new Date().toISOString(), error: (e as Error).message });
    throw e;
  }
}

async function run(o: QuickstartOptions, runDir: string): Promise<QuickstartResult> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const tty = o.progress ?? true;
  const bar = (total: number, label: string) => (tty ? new ProgressBar({ total, label }) : null);
  const names = o.models ?? ['squeezenet1_1', 'mobilenet_v2'];
  if (names.length !== 2) throw new Error(`quickstart: option 'models' needs exactly 2 zoo models, got ${JSON.stringify(names)}`);
  const streams = o.streams ?? 2;
  const seed = o.seed ?? 1;
  const load = o.load ?? 0.8;
  const trainSteps = o.trainSteps ?? 6000;
  const evalSeconds = o.evalSeconds ?? 10;
  const episodeSteps = o.episodeSteps ?? 200;
  const baselines = o.baselines ?? ['fixed-frequency', 'greedy-release'];
  if (baselines.length < 1) throw new Error(`quickstart: option 'baselines' needs at least one baseline`);

  const t0 = performance.now();
  const phases: { name: string; seconds: number }[] = [];
  let phaseStart = t0;
  const el = () => `[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s]`;
  const phase = (k: number, name: string, what: string) => {
    phaseStart = performance.now();
    log(`${el()} ${k}/5 ${name}: ${what}`);
  };
  const endPhase = (name: string) => {
    const s = (performance.now() - phaseStart) / 1000;
    phases.push({ name, seconds: s });
    log(`${el()}     ${name} done in ${s.toFixed(1)} s`);
  };

  // ── 1 + 2. Profile on the native CPU executor and calibrate the simulator from it. ──────────
  phase(1, 'profile', `${names.join(' + ')} on the native CPU executor (${streams} streams, batch 1)`);
  const graphs = names.map((n) => buildModel(n, { batch: 1 }));
  const v = await simVsNative({ graphs, launchesPerModel: LAUNCHES_PER_MODEL, streams, repeats: o.profileRepeats ?? 3 });
  const cal = v.calibration;
  const aloneMs = graphs.map((g, m) => cal.schedules[m].stages.reduce((s, st) => s + cal.cost.stageLatency(g, st), 0));
  const busyMs = graphs.map((g, m) => g.nodes.reduce((s, n) => s + cal.cost.opLatency(g, n), 0) || aloneMs[m]);
  log(
    `${el()}     ${cal.deviceName}: ${names.map((n, m) => `${n} ${Object.keys(cal.profiles[m].ops).length} ops, alone ${aloneMs[m].toFixed(2)} ms`).join('; ')}`,
  );
  endPhase('profile');

  phase(2, 'calibrate', 'profiled cost model + contention fitted to the co-run pairs');
  const c = cal.contention;
  log(`${el()}     contention ${c ? `${c.source}: α ${c.alpha.toFixed(3)}, β ${c.beta.toFixed(3)}` : 'no pairs measured: roofline share'}`);
  log(
    `${el()}     launches at t = 0: simulator makespan ${v.simMakespanMs.toFixed(1)} ms vs native ${v.nativeMakespanMs.toFixed(1)} ms (per-task error ${(100 * v.meanAbsRelError).toFixed(1)} %)`,
  );
  // Capacity: stream-busy ms the calibrated simulator served per ms in its t = 0 run (as sim-fidelity).
  const capacity = (LAUNCHES_PER_MODEL * busyMs.reduce((a, b) => a + b, 0)) / v.simMakespanMs;
  const rates = busyMs.map((b) => (load * capacity * 1000) / (names.length * b));
  // The epoch is 4 × the slowest alone latency (native epochs then rarely overrun); the SLO asks a
  // request to start by the next epoch boundary and finish within the one after.
  const epochMs = Math.max(1, Math.ceil(4 * Math.max(...aloneMs)));
  const sloMs = aloneMs.map((a) => Math.ceil(2 * epochMs + a));
  const perEpoch = rates.map((r) => (r * epochMs) / 1000);
  const common: AsyncInferenceOptions = {
    workload: { name: 'quickstart', models: names.map((n, m) => ({ name: n, sloMs: sloMs[m], arrival: { kind: 'poisson', rate: rates[m] } })) },
    graphs: Object.fromEntries(graphs.map((g, m) => [names[m], g])),
    cost: cal.cost,
    device: cal.device,
    // Candidate 0 is sequential; 'extra:0' is the greedy schedule that was profiled.
    candidates: ['sequential'],
    extraSchedules: Object.fromEntries(names.map((n, m) => [n, [cal.schedules[m]]])),
    levels: [0, 1, 2, 4, 8],
    batchSizes: [1],
    epochMs,
    streams,
    // The episode's reward sums to on-time − late·0 − left-unserved: with the default backlog weight
    // (0.1) a request never served costs less than one served late, and a short training run learns
    // to leave queues growing. Weight 1 makes leaving work the worst outcome. Rewards per step are a
    // few requests: scale to O(1) for the critic.
    reward: { wBacklog: 1, scale: 0.5 },
  };
  log(
    `${el()}     workload at ${(100 * load).toFixed(0)} % of the calibrated capacity (${capacity.toFixed(2)} busy ms/ms): ${names.map((n, m) => `${n} ${rates[m].toFixed(0)} req/s, SLO ${sloMs[m]} ms`).join('; ')}; epoch ${epochMs} ms`,
  );
  endPhase('calibrate');

  // ── 3. Train MADDPG in the calibrated simulator. ──────────────────────────────────────────────
  phase(3, 'train', `MADDPG, ${trainSteps} steps in the calibrated simulator (${episodeSteps}-step episodes, at most ${o.trainBudgetS ?? 75} s)`);
  await initBackend('wasm', { log: () => {} });
  const contention = cal.contention;
  const trainEnv = new AsyncInferenceEnv({
    ...common,
    executor: 'sim',
    contention,
    launchOverheadMs: cal.launchOverheadMs,
    launchJitter: cal.launchJitter,
    maxSteps: episodeSteps,
  });
  const trainer = new MaddpgTrainer(trainEnv, { ...QUICK_MADDPG, dtUnit: epochMs / 1000, maxEpisodeSteps: episodeSteps, ...o.maddpg });
  const returns: number[] = [];
  const tTrain = performance.now();
  const trainBar = bar(trainSteps, 'train');
  try {
    const chunk = 50;
    const budgetMs = 1000 * (o.trainBudgetS ?? 75);
    for (let done = 0; done < trainSteps && performance.now() - tTrain < budgetMs; done += chunk) {
      trainer.train(Math.min(chunk, trainSteps - done), (_, m) => {
        const ret = m[`episode/return/${LAUNCHER}`];
        if (ret !== undefined) returns.push(ret);
      });
      trainBar?.update(trainer.counters.step, { episodes: trainer.counters.episode, return: returns.at(-1) ?? Number.NaN });
    }
    trainBar?.done({ episodes: trainer.counters.episode });
    const training = {
      steps: trainer.counters.step,
      episodes: trainer.counters.episode,
      updates: trainer.counters.updates,
      wallS: (performance.now() - tTrain) / 1000,
      returns,
      stoppedEarly: trainer.counters.step < trainSteps,
    };
    if (training.stoppedEarly)
      log(`${el()}     stopped at step ${training.steps} of ${trainSteps}: the ${o.trainBudgetS ?? 75} s training budget ran out (busy machine)`);
    const firstRet = returns.slice(0, 3);
    const lastRet = returns.slice(-3);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
    log(
      `${el()}     ${training.episodes} episodes, ${training.updates} updates; training return ${mean(firstRet).toFixed(1)} (first episodes) → ${mean(lastRet).toFixed(1)} (last)`,
    );
    endPhase('train');

    // ── 4. Evaluate on the native executor (and in the simulator), same seeded arrivals. ────────
    const untilMs = evalSeconds * 1000;
    const policies: { name: string; make: (env: AsyncInferenceEnv) => Policy }[] = [
      { name: 'maddpg', make: () => ({ ...trainer.policy(), name: 'maddpg' }) },
      ...baselines.map((b) => ({ name: b, make: (env: AsyncInferenceEnv) => baseline(b, env, perEpoch) })),
    ];
    phase(4, 'evaluate', `${policies.length} policies × ${evalSeconds} s on the native CPU executor (seed ${seed}), then in the simulator`);
    const native: PolicyRow[] = [];
    const sim: PolicyRow[] = [];
    for (const p of policies) {
      const env = new AsyncInferenceEnv({ ...common, executor: 'native', maxSteps: 0 });
      try {
        const pol = p.make(env);
        const r = await evaluate(env, pol, seed, untilMs, bar(untilMs, `native ${p.name}`));
        native.push(row(pol.name, 'native', r));
        log(
          `${el()}     native ${pol.name}: ${r.metrics.completed}/${r.metrics.arrived} completed, p99 ${r.metrics.p99Ms.toFixed(1)} ms, ${r.overruns}/${r.steps} epochs overran (load avg ${loadavg()[0].toFixed(1)})`,
        );
      } finally {
        env.close();
      }
      const senv = new AsyncInferenceEnv({
        ...common,
        executor: 'sim',
        contention,
        launchOverheadMs: cal.launchOverheadMs,
        launchJitter: cal.launchJitter,
        maxSteps: 0,
      });
      const spol = p.make(senv);
      sim.push(row(spol.name, 'sim', await evaluate(senv, spol, seed, untilMs, null)));
      senv.close();
    }
    endPhase('evaluate');

    // ── 5. Report. ─────────────────────────────────────────────────────────────────────────────
    phase(5, 'report', `table, plot, results.json, table.md in ${runDir}`);
    const verdict = verdictOf(native);
    const tbl = table(HEADERS, [...native, ...sim].map(cells));
    log('');
    log(tbl);
    log('');
    log(verdict);
    log('');
    const plotBase = join(runDir, 'latency');
    const plot = await writePlot(
      barChart({
        title: `Request latency on the native CPU executor (${names.join(' + ')})`,
        data: native.flatMap((r) => [
          { policy: r.policy, quantile: 'p50', ms: r.p50Ms },
          { policy: r.policy, quantile: 'p95', ms: r.p95Ms },
          { policy: r.policy, quantile: 'p99', ms: r.p99Ms },
        ]),
        category: { field: 'policy', title: 'policy' },
        value: { field: 'ms', title: 'latency (ms)' },
        group: { field: 'quantile', title: 'quantile' },
      }),
      plotBase,
    );
    const result: QuickstartResult = {
      runDir,
      models: names,
      calibration: {
        device: cal.deviceName,
        profiledOps: cal.profiles.map((p) => Object.keys(p.ops).length),
        contention: c ? { alpha: c.alpha, beta: c.beta, source: c.source } : null,
        aloneMs,
        capacity,
        t0: { simMs: v.simMakespanMs, nativeMs: v.nativeMakespanMs, meanAbsRelError: v.meanAbsRelError },
      },
      workload: { rates, sloMs, epochMs, seconds: evalSeconds, seed, load },
      training,
      native,
      sim,
      verdict,
      phases,
      files: [],
    };
    const md = [
      '# Quick start run',
      '',
      `${names.join(' + ')} profiled on the native CPU executor; simulator calibrated from the profile; MADDPG trained ${training.steps} steps in it${training.stoppedEarly ? ` (of ${o.trainSteps ?? 6000}: wall-clock budget)` : ''};`,
      `every policy evaluated for ${evalSeconds} s on the real-time native env (wall clock: launches run across decisions, decision time counted) and in the simulator, on the same seeded Poisson arrivals (seed ${seed}).`,
      '',
      `Machine: ${machineLine()}`,
      '',
      markdownTable(HEADERS, [...native, ...sim].map(cells)),
      '',
      verdict,
      '',
      '![latency](latency.png)',
      '',
    ].join('\n');
    const files = [join(runDir, 'results.json'), join(runDir, 'table.md'), plot.png, plot.svg, join(runDir, 'meta.json')];
    result.files = files;
    writeFileAtomic(join(runDir, 'table.md'), md);
    phases.push({ name: 'report', seconds: (performance.now() - phaseStart) / 1000 });
    writeJsonAtomic(join(runDir, 'results.json'), { ...result, machine: machineInfo(), totalSeconds: (performance.now() - t0) / 1000 });
    log(`${el()}     wrote ${files.map((f) => f.slice(runDir.length + 1)).join(', ')} to ${runDir}`);
    log(`${el()} done`);
    return result;
  } finally {
    trainer.dispose();
    trainEnv.close();
  }
}

/** `node dist/experiments/quickstart.js`: the `npm start` entry. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { steps: { type: 'string' }, seconds: { type: 'string' }, out: { type: 'string' }, load: { type: 'string' }, 'train-budget': { type: 'string' } },
  });
  const num = (name: string, s: string | undefined) => {
    if (s === undefined) return undefined;
    const x = Number(s);
    if (!Number.isFinite(x) || x <= 0) throw new Error(`quickstart: --${name} must be a positive number, got ${JSON.stringify(s)}`);
    return x;
  };
  await quickstart({
    trainSteps: num('steps', values.steps),
    evalSeconds: num('seconds', values.seconds),
    load: num('load', values.load),
    trainBudgetS: num('train-budget', values['train-budget']),
    outDir: values.out,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: Error) => {
    process.stderr.write(`quickstart: ${e.message}\n`);
    process.exitCode = 1;
  });
}
