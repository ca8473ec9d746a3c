/**
 * Wrappers for ParallelEnv, after Gymnasium's / SuperSuit's: each wraps an env and is one itself.
 *
 *  - TimeLimit:               truncates every agent after `maxSteps` steps.
 *  - RecordEpisodeStatistics: when an agent's episode ends, its info gets
 *                             `episode: { r, l, t }` (return, length, env seconds).
 *  - NormalizeObservation:    per agent, (x − running mean) / sqrt(running var + ε), clipped to
 *                             ±clip; the running moments update on every observation unless
 *                             `frozen` (evaluation). The observation space becomes Box(−clip, clip).
 *  - MixtureEnv:              domain randomisation: one of several AsyncInference envs (other
 *                             workloads or rates, same spaces) per episode, drawn from the seed.
 *  - FrozenAgentEnv:          one agent learns while the other is frozen to a fixed policy.
 */

import seedrandom from 'seedrandom';
import type { AgentID, EnvMetadata, ParallelEnv, ResetOptions, ResetResult, StepResult } from './core.js';
import { EnvError } from './core.js';
import type { Policy } from './policy.js';
import { Box, type Space } from './spaces.js';

export abstract class ParallelWrapper<O, A, IO = O> implements ParallelEnv<O, A> {
  constructor(readonly env: ParallelEnv<IO, A>) {}

  get metadata(): EnvMetadata {
    return this.env.metadata;
  }
  get possibleAgents(): readonly AgentID[] {
    return this.env.possibleAgents;
  }
  get agents(): readonly AgentID[] {
    return this.env.agents;
  }
  get stateSpace(): Box {
    return this.env.stateSpace;
  }
  abstract reset(opts?: ResetOptions): ResetResult<O>;
  abstract step(actions: Record<AgentID, A>): StepResult<O>;
  abstract observationSpace(agent: AgentID): Space<O>;
  actionSpace(agent: AgentID): Space<A> {
    return this.env.actionSpace(agent);
  }
  state(): Float32Array {
    return this.env.state();
  }
  close(): void {
    this.env.close();
  }
  /** The innermost env. */
  get unwrapped(): ParallelEnv<unknown, A> {
    let e: ParallelEnv<unknown, A> = this.env as ParallelEnv<unknown, A>;
    while (e instanceof ParallelWrapper) e = e.env;
    return e;
  }
}

export class TimeLimit<O, A> extends ParallelWrapper<O, A> {
  private steps = 0;
  private cut = false;

  constructor(
    env: ParallelEnv<O, A>,
    readonly maxSteps: number,
  ) {
    super(env);
    if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new EnvError(`maxSteps must be a positive integer, got ${JSON.stringify(maxSteps)}`, 'TimeLimit');
  }

  override get agents(): readonly AgentID[] {
    return this.cut ? [] : this.env.agents;
  }

  reset(opts?: ResetOptions): ResetResult<O> {
    this.steps = 0;
    this.cut = false;
    return this.env.reset(opts);
  }

  step(actions: Record<AgentID, A>): StepResult<O> {
    if (this.cut) throw new EnvError('step() after the time limit truncated the episode: call reset()', 'TimeLimit');
    const r = this.env.step(actions);
    if (++this.steps >= this.maxSteps) {
      for (const a of Object.keys(r.truncations)) if (!r.terminations[a]) r.truncations[a] = true;
      this.cut = true;
    }
    return r;
  }

  observationSpace(agent: AgentID): Space<O> {
    return this.env.observationSpace(agent);
  }
}

export interface EpisodeStats {
  /** Sum of rewards. */
  r: number;
  /** Steps. */
  l: number;
  /** Env time, seconds (sum of info.dt). */
  t: number;
}

export class RecordEpisodeStatistics<O, A> extends ParallelWrapper<O, A> {
  private ret: Record<AgentID, number> = {};
  private len: Record<AgentID, number> = {};
  private time: Record<AgentID, number> = {};
  /** Finished episodes' statistics, most recent last (at most `bufferLength`). */
  readonly returns: EpisodeStats[] = [];

  constructor(
    env: ParallelEnv<O, A>,
    readonly bufferLength = 100,
  ) {
    super(env);
  }

  reset(opts?: ResetOptions): ResetResult<O> {
    const r = this.env.reset(opts);
    this.ret = {};
    this.len = {};
    this.time = {};
    for (const a of this.env.agents) {
      this.ret[a] = 0;
      this.len[a] = 0;
      this.time[a] = 0;
    }
    return r;
  }

  step(actions: Record<AgentID, A>): StepResult<O> {
    const r = this.env.step(actions);
    let recorded = false;
    for (const a of Object.keys(r.rewards)) {
      this.ret[a] += r.rewards[a];
      this.len[a] += 1;
      this.time[a] += r.infos[a]?.dt ?? 0;
      if (r.terminations[a] || r.truncations[a]) {
        const ep = { r: this.ret[a], l: this.len[a], t: this.time[a] };
        r.infos[a] = { ...r.infos[a], episode: ep };
        if (!recorded) {
          this.returns.push(ep);
          if (this.returns.length > this.bufferLength) this.returns.shift();
          recorded = true;
        }
      }
    }
    return r;
  }

  observationSpace(agent: AgentID): Space<O> {
    return this.env.observationSpace(agent);
  }
}

/** Running mean and variance (Chan et al.'s parallel update), as Gymnasium's RunningMeanStd. */
export class RunningMeanStd {
  mean: Float64Array;
  var: Float64Array;
  count: number;

  constructor(size: number, epsilon = 1e-4) {
    this.mean = new Float64Array(size);
    this.var = new Float64Array(size).fill(1);
    this.count = epsilon;
  }

  update(x: ArrayLike<number>): void {
    const n = this.count + 1;
    for (let i = 0; i < this.mean.length; i++) {
      const delta = x[i] - this.mean[i];
      this.mean[i] += delta / n;
      // M2_new = M2 + δ² · count / n, with batch variance 0 for a single sample.
      this.var[i] = (this.var[i] * this.count + (delta * delta * this.count) / n) / n;
    }
    this.count = n;
  }
}

export class NormalizeObservation<A> extends ParallelWrapper<Float32Array, A> {
  private readonly stats: Record<AgentID, RunningMeanStd> = {};
  private readonly spaces: Record<AgentID, Box> = {};
  /** Stop updating the running moments (evaluation). */
  frozen = false;

  constructor(
    env: ParallelEnv<Float32Array, A>,
    readonly opts: { epsilon?: number; clip?: number } = {},
  ) {
    super(env);
    const clip = opts.clip ?? 10;
    if (!(clip > 0)) throw new EnvError(`clip must be positive, got ${clip}`, 'NormalizeObservation');
    for (const a of env.possibleAgents) {
      const s = env.observationSpace(a);
      if (!(s instanceof Box)) throw new EnvError(`needs Box observations, agent '${a}' has ${s}`, 'NormalizeObservation');
      this.stats[a] = new RunningMeanStd(s.size);
      this.spaces[a] = new Box(-clip, clip, s.shape);
    }
  }

  private norm(agent: AgentID, x: Float32Array): Float32Array {
    const st = this.stats[agent];
    if (!this.frozen) st.update(x);
    const eps = this.opts.epsilon ?? 1e-8;
    const clip = this.opts.clip ?? 10;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = (x[i] - st.mean[i]) / Math.sqrt(st.var[i] + eps);
      out[i] = v > clip ? clip : Math.max(v, -clip);
    }
    return out;
  }

  private all(obs: Record<AgentID, Float32Array>): Record<AgentID, Float32Array> {
    const out: Record<AgentID, Float32Array> = {};
    for (const a of Object.keys(obs)) out[a] = this.norm(a, obs[a]);
    return out;
  }

  reset(opts?: ResetOptions): ResetResult<Float32Array> {
    const r = this.env.reset(opts);
    return { ...r, observations: this.all(r.observations) };
  }

  step(actions: Record<AgentID, A>): StepResult<Float32Array> {
    const r = this.env.step(actions);
    return { ...r, observations: this.all(r.observations) };
  }

  observationSpace(agent: AgentID): Box {
    const s = this.spaces[agent];
    if (!s) throw new EnvError(`unknown agent ${JSON.stringify(agent)}`);
    return s;
  }

  /** Running moments per agent (to save with a trained policy). */
  moments(): Record<AgentID, { mean: number[]; var: number[]; count: number }> {
    const out: Record<AgentID, { mean: number[]; var: number[]; count: number }> = {};
    for (const [a, s] of Object.entries(this.stats)) out[a] = { mean: [...s.mean], var: [...s.var], count: s.count };
    return out;
  }
}

/**
 * Domain randomisation over workloads or rates: several AsyncInference envs (same models and
 * options, hence identical spaces; their workloads or arrival rates differ; or wrappers of them,
 * e.g. ResidualEnv) behind one ParallelEnv.
 * Each reset draws which env runs the episode from the reset seed, so training visits them all and
 * a run is reproducible. `current` is the env of the running episode.
 */
export class MixtureEnv implements ParallelEnv<Float32Array, Int32Array> {
  readonly metadata: EnvMetadata;
  readonly possibleAgents: readonly AgentID[];
  readonly stateSpace: Box;
  current: ParallelEnv<Float32Array, Int32Array>;

  constructor(
    readonly envs: ParallelEnv<Float32Array, Int32Array>[],
    name = 'topsched/AsyncInference-mixture',
  ) {
    if (!envs.length) throw new Error('mixture env: needs at least one env');
    this.metadata = { name, semiMdp: true };
    this.current = envs[0];
    this.possibleAgents = envs[0].possibleAgents;
    this.stateSpace = envs[0].stateSpace;
    envs.forEach((e, i) => {
      if (e.stateSpace.size !== this.stateSpace.size || e.possibleAgents.join() !== this.possibleAgents.join())
        throw new Error(`mixture env: env ${i} (${e.metadata.name}) has other agents or state size than env 0`);
    });
  }

  get agents(): readonly AgentID[] {
    return this.current.agents;
  }

  reset(opts: ResetOptions = {}): ResetResult<Float32Array> {
    // Alea, as agents/rng.ts: the draw of each seed is the one earlier results were made with.
    const pick = opts.seed === undefined ? 0 : Math.floor(seedrandom.alea(`rate-mixture/${opts.seed}`)() * this.envs.length);
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
