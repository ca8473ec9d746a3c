/**
 * `topsched eval <run-dir|checkpoint-dir>`: the trained agents (greedy actors) and the baselines on
 * the same seeded episodes, in the simulator or on the native executor (`stepAsync`). Prints a
 * table and writes eval-<timestamp>.json into the run dir. `train` uses `evaluateRun` for its final
 * results.json and its periodic eval/* metrics, so every number comes from one loop.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { initBackend } from '../../agents/backend.js';
import { makeBaseline } from '../../agents/baselines.js';
import { loadMaddpg, loadMappo } from '../../agents/checkpoint.js';
import type { MappoConfig } from '../../agents/mappo.js';
import { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import { BASELINES as ENV_BASELINES, makePolicy } from '../../env/policies.js';
import { type Policy, renamed } from '../../env/policy.js';
import { makeVec, VectorEnv } from '../../env/vector.js';
import { loadRunConfig } from '../config/load.js';
import { EVAL_BASELINES, type RunConfig } from '../config/schema.js';
import { printJson, table } from '../format.js';
import { runEpisode } from '../harness/episode.js';
import { machineLine } from '../machine.js';
import { RUN_FILES, writeJsonAtomic } from '../run-dir.js';
import { choiceOption, intOption } from './options.js';

export interface EpisodeRow {
  seed: number;
  steps: number;
  return: number;
  /** Completed requests per second of env time. */
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  sloAttainment: number;
  /** Requests in the system (queued + in flight) at the episode's end. */
  backlog: number;
  /** Requests in the system, averaged over the episode's steps. */
  meanInSystem: number;
}

type Summary = Omit<EpisodeRow, 'seed' | 'steps'>;

export interface PolicyEval {
  name: string;
  mean: Summary;
  episodes: EpisodeRow[];
}

export interface EvalReport {
  format: 'topsched.eval/1';
  runDir: string | null;
  checkpoint: string;
  /** Env steps the agents were trained for. */
  trainedSteps: number;
  executor: 'sim' | 'native';
  seeds: number[];
  createdAt: string;
  machine: string;
  policies: PolicyEval[];
}

/** The env options of a config (serializable fields are AsyncInferenceOptions as they are). */
export function envOptions(cfg: RunConfig, executor: 'sim' | 'native' = 'sim'): AsyncInferenceOptions {
  return { ...(cfg.env as AsyncInferenceOptions), executor };
}

export function baselinePolicy(name: string, env: AsyncInferenceEnv, seed: number): Policy {
  if ((ENV_BASELINES as readonly string[]).includes(name)) {
    const p = makePolicy(name, env, { seed });
    return renamed(p, name);
  }
  const p = makeBaseline(name, env, { seed });
  return renamed(p, name);
}

/** What evaluation needs of a trainer (MADDPG or MAPPO). */
export interface TrainedAgents {
  counters: { step: number };
  policy(): Policy;
}

/** MappoConfig of a run config (its `envs` and `vector` configure the vector env instead). */
export function mappoConfig(cfg: RunConfig): Partial<MappoConfig> {
  const { envs: _envs, vector: _vector, ...rest } = cfg.mappo;
  return rest;
}

/** The vector env MAPPO trains on: cfg.mappo.envs copies of the run's env, same-step autoreset. */
export async function mappoVector(cfg: RunConfig, envs = cfg.mappo.envs): Promise<VectorEnv<Float32Array, Int32Array>> {
  if (cfg.mappo.vector === 'async')
    return makeVec<Float32Array, Int32Array>('topsched/AsyncInference-v0', envs, { mode: 'async', autoreset: 'same-step', options: { ...envOptions(cfg) } });
  return VectorEnv.of(
    Array.from({ length: envs }, () => new AsyncInferenceEnv(envOptions(cfg))),
    'same-step',
  );
}

export function agentPolicy(trainer: TrainedAgents, name = 'maddpg'): Policy {
  const p = trainer.policy();
  return { name, act: (o) => p.act(o) };
}

/** One episode through the harness's loop (no warm-up: the whole episode, as train's results always were). */
async function episode(env: AsyncInferenceEnv, policy: Policy, seed: number): Promise<EpisodeRow> {
  const r = await runEpisode(env, policy, { seed, seriesEveryMs: 0 });
  return {
    seed,
    steps: r.steps,
    return: r.return,
    throughput: r.throughput,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    sloAttainment: r.sloAttainment,
    backlog: r.backlog,
    meanInSystem: r.meanBacklog,
  };
}

/** Every policy on seeds seed..seed+episodes−1, in order; means over episodes. */
export async function evaluatePolicies(env: AsyncInferenceEnv, policies: Policy[], episodes: number, seed: number): Promise<PolicyEval[]> {
  const out: PolicyEval[] = [];
  for (const p of policies) {
    const rows: EpisodeRow[] = [];
    for (let e = 0; e < episodes; e++) rows.push(await episode(env, p, seed + e));
    const mean = Object.fromEntries(
      (['return', 'throughput', 'p50Ms', 'p99Ms', 'sloAttainment', 'backlog', 'meanInSystem'] as const).map((k) => [
        k,
        rows.reduce((s, r) => s + r[k], 0) / rows.length,
      ]),
    ) as Summary;
    out.push({ name: p.name, mean, episodes: rows });
  }
  return out;
}

export interface EvaluateRunOptions {
  episodes: number;
  seed: number;
  baselines: readonly string[];
  checkpoint: string;
  runDir: string | null;
  /** The learned policy's row name (the algorithm). Default 'maddpg'. */
  name?: string;
}

/** The agents of `trainer` and the named baselines on `env`. */
export async function evaluateRun(env: AsyncInferenceEnv, trainer: TrainedAgents, o: EvaluateRunOptions): Promise<EvalReport> {
  const policies = [agentPolicy(trainer, o.name), ...o.baselines.map((b) => baselinePolicy(b, env, o.seed))];
  return {
    format: 'topsched.eval/1',
    runDir: o.runDir,
    checkpoint: o.checkpoint,
    trainedSteps: trainer.counters.step,
    executor: env.executor.synchronous ? 'sim' : 'native',
    seeds: Array.from({ length: o.episodes }, (_, e) => o.seed + e),
    createdAt: new Date().toISOString(),
    machine: machineLine(),
    policies: await evaluatePolicies(env, policies, o.episodes, o.seed),
  };
}

export function evalTable(r: EvalReport): string {
  return table(
    ['policy', 'throughput req/s', 'p50 ms', 'p99 ms', 'SLO met', 'end backlog', 'mean in system', 'return'],
    r.policies.map((p) => [
      p.name,
      p.mean.throughput.toFixed(1),
      p.mean.p50Ms.toFixed(2),
      p.mean.p99Ms.toFixed(2),
      `${(p.mean.sloAttainment * 100).toFixed(1)}%`,
      p.mean.backlog.toFixed(1),
      p.mean.meanInSystem.toFixed(1),
      p.mean.return.toFixed(2),
    ]),
  );
}

/** A run dir (its checkpoints/latest) or a checkpoint dir inside one → both paths and the config. */
export function locateRun(target: string): { runDir: string; checkpoint: string; config: RunConfig } {
  const abs = resolve(target);
  let runDir: string;
  let checkpoint: string;
  if (existsSync(join(abs, RUN_FILES.config))) {
    runDir = abs;
    checkpoint = join(abs, RUN_FILES.checkpoint);
    if (!existsSync(join(checkpoint, 'meta.json'))) throw new Error(`${abs}: the run has no checkpoint yet (${RUN_FILES.checkpoint} is missing)`);
  } else if (existsSync(join(abs, 'meta.json')) && existsSync(join(abs, 'arrays.bin'))) {
    checkpoint = abs;
    runDir = dirname(dirname(abs));
    if (basename(dirname(abs)) !== 'checkpoints' || !existsSync(join(runDir, RUN_FILES.config)))
      throw new Error(`${abs}: a checkpoint outside a run directory (expected <run-dir>/checkpoints/<name> next to ${RUN_FILES.config})`);
  } else throw new Error(`${abs}: neither a run directory (no ${RUN_FILES.config}) nor a checkpoint (no meta.json + arrays.bin)`);
  const cfgFile = join(runDir, RUN_FILES.config);
  const config = loadRunConfig(cfgFile);
  return { runDir, checkpoint, config };
}

interface EvalCliOpts {
  episodes?: number;
  executor?: 'sim' | 'native';
  baselines?: string;
  seed?: number;
  json?: boolean;
}

export function registerEval(program: Command): void {
  program
    .command('eval <dir>')
    .description(
      'evaluate a trained run (its latest checkpoint, or a given checkpoint dir) against baselines on the same seeded episodes; writes eval-<timestamp>.json into the run dir',
    )
    .option('--episodes <n>', "episodes per policy (default: the config's eval.episodes)", intOption('--episodes'))
    .option(
      '--executor <kind>',
      "sim | native (real executor through stepAsync; default: the config's eval.executor)",
      choiceOption('--executor', ['sim', 'native'] as const),
    )
    .option('--baselines <list>', `comma-separated baselines (${EVAL_BASELINES.join(', ')}); 'none' for agents only`)
    .option('--seed <n>', "first episode seed (default: the config's eval.seed)", intOption('--seed', 0))
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  topsched eval runs/two-models_1a2b3c4d_seed0\n  topsched eval runs/two-models_1a2b3c4d_seed0 --episodes 10 --baselines fixed-frequency,greedy-release --json\n  topsched eval runs/two-models_1a2b3c4d_seed0/checkpoints/latest --executor native --episodes 2',
    )
    .action(async (dir: string, opts: EvalCliOpts) => {
      const { runDir, checkpoint, config } = locateRun(dir);
      let baselines: string[] = config.eval.baselines;
      if (opts.baselines !== undefined) {
        baselines = opts.baselines === 'none' ? [] : opts.baselines.split(',').map((s) => s.trim());
        for (const b of baselines)
          if (!(EVAL_BASELINES as readonly string[]).includes(b)) throw new Error(`--baselines: unknown baseline '${b}' (known: ${EVAL_BASELINES.join(', ')})`);
      }
      const report = await evalCheckpoint(config, checkpoint, runDir, {
        episodes: opts.episodes ?? config.eval.episodes,
        seed: opts.seed ?? config.eval.seed,
        executor: opts.executor ?? config.eval.executor,
        baselines,
      });
      const file = join(runDir, `eval-${report.createdAt.replace(/[:.]/g, '-')}.json`);
      writeJsonAtomic(file, report);
      if (opts.json) printJson({ ...report, file });
      else {
        console.log(`${runDir}: ${report.trainedSteps} trained steps, ${report.executor} executor, seeds ${report.seeds[0]}..${report.seeds.at(-1)}`);
        console.log(evalTable(report));
        console.log(`wrote ${file}`);
      }
    });
}

/** Loads the checkpoint onto a fresh env of the config and evaluates it. */
export async function evalCheckpoint(
  config: RunConfig,
  checkpoint: string,
  runDir: string | null,
  o: { episodes: number; seed: number; executor: 'sim' | 'native'; baselines: readonly string[] },
): Promise<EvalReport> {
  await initBackend(config.train.backend as Parameters<typeof initBackend>[0], { log: () => {} });
  const env = new AsyncInferenceEnv(envOptions(config, o.executor));
  // MAPPO's trainer is rebuilt on a vector env of the size it was trained with (its actors act on `env`).
  const vec = config.algorithm === 'mappo' ? await mappoVector({ ...config, mappo: { ...config.mappo, vector: 'sync' } }) : null;
  try {
    const trainer = vec ? loadMappo(checkpoint, vec) : loadMaddpg(checkpoint, env);
    try {
      return await evaluateRun(env, trainer, { ...o, checkpoint, runDir, name: config.algorithm });
    } finally {
      trainer.dispose();
    }
  } finally {
    env.close();
    vec?.close();
  }
}
