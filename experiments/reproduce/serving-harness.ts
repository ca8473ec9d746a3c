/**
 * The training and evaluation harness the serving experiments share (multi-model-serving.ts,
 * ablations.ts): the two-model simulated workload at a chosen arrival rate, an env that draws the
 * rate per episode (so one MADDPG run covers light load to overload), an env with one agent
 * frozen to a fixed policy (the ablations' launcher-only / scheduler-only variants, driven from
 * here so agents/maddpg.ts stays unchanged), MADDPG training with a short curve, and the one
 * evaluation loop every policy goes through on the same seeds.
 */

import { type MaddpgConfig, MaddpgTrainer } from '../../agents/maddpg.js';
import type { Policy } from '../../agents/policy.js';
import { fromEnvPolicy } from '../../agents/policy.js';
import { deriveSeed, makeRng } from '../../agents/rng.js';
import { type AsyncInferenceEnv, LAUNCHER } from '../../env/async-inference-env.js';
import { type AgentID, EnvError, type ParallelEnv, type ResetOptions, type ResetResult, type StepResult } from '../../env/core.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import { fixedFrequencyPolicy, levelIndex } from '../../env/policies.js';
import type { Box, Space } from '../../env/spaces.js';
import { mean } from '../../env/stats.js';
import { TWO_MODEL_ENV } from './maddpg-vs-fixed.js';

/**
 * TWO_MODEL_ENV (squeezenet1_1 + inception_v3, roofline V100, 10 ms epochs, throughput reward)
 * with Poisson arrivals of `totalRate` requests/s split equally between the two models.
 */
export function servingEnvOptions(totalRate: number, overrides: Partial<AsyncInferenceOptions> = {}): AsyncInferenceOptions {
  if (!(totalRate > 0) || !Number.isFinite(totalRate)) throw new Error(`serving env: total arrival rate must be a positive number, got ${totalRate}`);
  const base = TWO_MODEL_ENV.workload as { name: string; models: { name: string; sloMs: number }[] };
  return {
    ...TWO_MODEL_ENV,
    workload: {
      name: `two-models-${totalRate}`,
      models: base.models.map((m) => ({ name: m.name, sloMs: m.sloMs, arrival: { kind: 'poisson', rate: totalRate / base.models.length } })),
    },
    ...overrides,
  };
}

/**
 * One env per arrival rate behind one ParallelEnv: each reset draws the rate from the reset seed,
 * so training episodes (seeded by the trainer) visit every rate and a run is reproducible. The
 * envs share models and options, hence identical spaces; only the arrival rate differs.
 */
export class RateMixtureEnv implements ParallelEnv<Float32Array, Int32Array> {
  readonly metadata = { name: 'topsched/AsyncInference-rate-mixture', semiMdp: true };
  readonly possibleAgents: readonly AgentID[];
  readonly stateSpace: Box;
  private current: AsyncInferenceEnv;

  constructor(readonly envs: AsyncInferenceEnv[]) {
    if (!envs.length) throw new Error('rate mixture: needs at least one env');
    this.current = envs[0];
    this.possibleAgents = envs[0].possibleAgents;
    this.stateSpace = envs[0].stateSpace;
    envs.forEach((e, i) => {
      if (e.stateSpace.size !== this.stateSpace.size || e.possibleAgents.join() !== this.possibleAgents.join())
        throw new Error(`rate mixture: env ${i} (${e.workload.name}) has other agents or state size than env 0`);
    });
  }

  get agents(): readonly AgentID[] {
    return this.current.agents;
  }

  reset(opts: ResetOptions = {}): ResetResult<Float32Array> {
    const pick = opts.seed === undefined ? 0 : Math.floor(makeRng(`rate-mixture/${opts.seed}`)() * this.envs.length);
    this.current = this.envs[pick];
    return this.current.reset(opts);
  }

  step(actions: Record<AgentID, Int32Array>): StepResult<Float32Array> {
    return this.current.step(actions);
  }

  observationSpace(agent: AgentID): Space<Float32Array> {
    return this.current.observationSpace(agent);
  }

  actionSpace(agent: AgentID): Space<Int32Array> {
    return this.current.actionSpace(agent);
  }

  state(): Float32Array {
    return this.current.state();
  }

  close(): void {
    for (const e of this.envs) e.close();
  }
}

/**
 * The env as one agent sees it when the other is frozen: only `learned` acts; the frozen agent's
 * action comes from `fixed` (a joint policy of which only the frozen part is used) on the same
 * observations. `state()` is the inner env's, so the learned agent's critic still sees everything.
 */
export class FrozenAgentEnv implements ParallelEnv<Float32Array, Int32Array> {
  readonly metadata: ParallelEnv['metadata'];
  readonly possibleAgents: readonly AgentID[];
  readonly stateSpace: Box;
  private readonly frozen: AgentID;
  private lastObs: Record<AgentID, Float32Array> = {};

  constructor(
    readonly inner: ParallelEnv<Float32Array, Int32Array>,
    readonly learned: AgentID,
    readonly fixed: Policy,
  ) {
    if (!inner.possibleAgents.includes(learned))
      throw new EnvError(`unknown agent (agents: ${inner.possibleAgents.join(', ')})`, `frozen-agent env: learned '${learned}'`);
    if (inner.possibleAgents.length !== 2) throw new Error(`frozen-agent env: expects two agents, got ${inner.possibleAgents.join(', ')}`);
    this.frozen = inner.possibleAgents.find((a) => a !== learned) as AgentID;
    this.metadata = { ...inner.metadata, name: `${inner.metadata.name}/frozen-${this.frozen}` };
    this.possibleAgents = [learned];
    this.stateSpace = inner.stateSpace;
  }

  get agents(): readonly AgentID[] {
    return this.inner.agents.length ? [this.learned] : [];
  }

  private only<T>(r: Record<AgentID, T>): Record<AgentID, T> {
    return { [this.learned]: r[this.learned] };
  }

  reset(opts: ResetOptions = {}): ResetResult<Float32Array> {
    const r = this.inner.reset(opts);
    this.fixed.reset?.();
    this.lastObs = r.observations;
    return { observations: this.only(r.observations), infos: this.only(r.infos) };
  }

  step(actions: Record<AgentID, Int32Array>): StepResult<Float32Array> {
    const frozenAction = this.fixed.act(this.lastObs)[this.frozen] as Int32Array;
    const r = this.inner.step({ [this.learned]: actions[this.learned], [this.frozen]: frozenAction });
    this.lastObs = r.observations;
    return {
      observations: this.only(r.observations),
      rewards: this.only(r.rewards),
      terminations: this.only(r.terminations),
      truncations: this.only(r.truncations),
      infos: this.only(r.infos),
    };
  }

  observationSpace(agent: AgentID): Space<Float32Array> {
    return this.inner.observationSpace(agent);
  }

  actionSpace(agent: AgentID): Space<Int32Array> {
    return this.inner.actionSpace(agent);
  }

  state(): Float32Array {
    return this.inner.state();
  }

  close(): void {
    this.inner.close();
  }
}

/** A joint policy: `learnedAgent`'s action from `learned`, every other agent's from `fixed`. */
export function splicePolicy(name: string, learned: Policy, learnedAgent: AgentID, fixed: Policy): Policy {
  return {
    name,
    reset: () => {
      learned.reset?.();
      fixed.reset?.();
    },
    act: (observations) => ({ ...fixed.act(observations), [learnedAgent]: learned.act(observations)[learnedAgent] }),
  };
}

export interface ServingRow {
  policy: string;
  /** Total offered arrival rate, requests/s. */
  rate: number;
  /** Completed requests per second of env time. */
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests that arrived / completed during the episode (sums over episodes). */
  arrived: number;
  completed: number;
  /** Requests waiting or in flight, averaged over steps. */
  meanInSystem: number;
  /** Requests in the system at the end of the episode. */
  endBacklog: number;
  slo: number;
  /** Episode return under the env's reward. */
  reward: number;
}

/**
 * Episodes of `policy` with seeds `seeds` on `env`: throughput, p50/p99, backlog and reward
 * averaged over episodes (p50/p99 are per-episode quantiles, averaged); arrived/completed summed.
 */
export function evaluateServing(env: AsyncInferenceEnv, policy: Policy, seeds: number[], rate: number): ServingRow {
  if (!seeds.length) throw new Error('evaluateServing: needs at least one seed');
  const acc = { throughput: 0, p50Ms: 0, p99Ms: 0, arrived: 0, completed: 0, meanInSystem: 0, endBacklog: 0, slo: 0, reward: 0 };
  for (const seed of seeds) {
    let { observations } = env.reset({ seed });
    policy.reset?.();
    let steps = 0;
    let inSystem = 0;
    while (env.agents.length) {
      const res = env.step(policy.act(observations) as Record<string, Int32Array>);
      acc.reward += res.rewards[LAUNCHER] ?? 0;
      inSystem += env.metrics().inSystem;
      steps += 1;
      observations = res.observations;
    }
    const m = env.metrics();
    acc.throughput += m.throughput;
    acc.p50Ms += m.p50Ms;
    acc.p99Ms += m.p99Ms;
    acc.arrived += m.arrived;
    acc.completed += m.completed;
    acc.meanInSystem += inSystem / Math.max(1, steps);
    acc.endBacklog += m.inSystem;
    acc.slo += m.sloAttainment;
  }
  const k = 1 / seeds.length;
  return {
    policy: policy.name,
    rate,
    throughput: acc.throughput * k,
    p50Ms: acc.p50Ms * k,
    p99Ms: acc.p99Ms * k,
    arrived: acc.arrived,
    completed: acc.completed,
    meanInSystem: acc.meanInSystem * k,
    endBacklog: acc.endBacklog * k,
    slo: acc.slo * k,
    reward: acc.reward * k,
  };
}

export interface TrainResult {
  trainer: MaddpgTrainer;
  sec: number;
  /** "step N: mean return of the last 5 episodes R" lines, ten per run. */
  curve: string[];
}

/** Trains MADDPG on `env` for `steps` env steps; the caller disposes `trainer`. */
export function trainMaddpg(env: ParallelEnv<unknown, unknown>, cfg: Partial<MaddpgConfig>, steps: number, log: (line: string) => void): TrainResult {
  const trainer = new MaddpgTrainer(env, cfg);
  const t0 = performance.now();
  const returns: number[] = [];
  const curve: string[] = [];
  const key = `episode/return/${trainer.agents[0]}`;
  const chunk = Math.max(1, Math.floor(steps / 10));
  for (let done = 0; done < steps; done += chunk) {
    trainer.train(Math.min(chunk, steps - done), (_, m) => {
      if (m[key] !== undefined) returns.push(m[key]);
    });
    const recent = returns.slice(-5);
    const mean = recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length);
    const line = `step ${trainer.counters.step}: mean training return of the last ${recent.length} episodes ${mean.toFixed(1)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`;
    curve.push(line);
    log(`    ${line}`);
  }
  return { trainer, sec: (performance.now() - t0) / 1000, curve };
}

/** Training-episode seeds never collide with evaluation seeds: evaluation uses 0..K−1, training derived seeds. */
export function evalSeeds(k: number): number[] {
  return Array.from({ length: k }, (_, i) => i);
}

/** Seeds for tuning baselines (choosing the best static configuration), disjoint from evaluation's 0..K−1. */
export function tuningSeeds(k: number): number[] {
  return Array.from({ length: k }, (_, i) => deriveSeed('tuning', i));
}

/** A static configuration: every model releases `perEpoch` requests per epoch, runs `schedule`, at `batch`. */
export interface StaticChoice {
  perEpoch: number;
  schedule: string;
  batch: number;
}

export function staticLabel(c: StaticChoice): string {
  return `fixed ${c.perEpoch}/epoch, ${c.schedule}, batch ${c.batch}`;
}

/** The fixed-frequency baseline (env/policies.ts) for a static choice on `env`. */
export function staticPolicy(env: AsyncInferenceEnv, c: StaticChoice, name = staticLabel(c)): Policy {
  return fromEnvPolicy(fixedFrequencyPolicy(env, { level: levelIndex(env.view(), c.perEpoch), schedule: c.schedule, batch: c.batch }), name);
}

/**
 * The best static choice by mean episode reward (the objective MADDPG is trained on) over `envs`
 * and `seeds`: every positive level, every schedule candidate, every batch size up to the level
 * (a larger batch launches the same requests). Seeds should be tuning seeds, not evaluation seeds.
 */
export function bestStatic(envs: AsyncInferenceEnv[], seeds: number[]): { choice: StaticChoice; reward: number; tried: number } {
  const view = envs[0].view();
  const schedules = view.models[0].scheduleNames.filter((s) => view.models.every((m) => m.scheduleNames.includes(s)));
  let best: { choice: StaticChoice; reward: number } | null = null;
  let tried = 0;
  for (const perEpoch of view.levels.filter((l) => l > 0))
    for (const schedule of schedules)
      for (const batch of view.batchSizes.filter((b) => b <= perEpoch)) {
        const choice = { perEpoch, schedule, batch };
        const reward = mean(envs.map((env) => evaluateServing(env, staticPolicy(env, choice), seeds, 0).reward));
        tried += 1;
        if (!best || reward > best.reward) best = { choice, reward };
      }
  if (!best) throw new Error(`bestStatic: the env has no positive launcher level (levels: [${view.levels}])`);
  return { ...best, tried };
}
