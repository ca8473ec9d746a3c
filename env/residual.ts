/**
 * ResidualEnv: the learner adjusts a heuristic's action instead of choosing one from scratch
 * (residual policy learning, Silver et al. 2018 / Johannink et al. 2019, for discrete actions).
 *
 * Each agent's action space becomes MultiDiscrete([2r+1, …]), one entry per component of the inner
 * action, r = `range` (default 1): choice c moves the base policy's index by c − r (clamped to the
 * component's range), so c = r (KEEP for r = 1) is the base's choice. r = 2 lets a learner reach
 * a candidate two away (e.g. ios-dp from sequential). All-KEEP *is* the base policy, so a learner starts
 * from a working heuristic (warm-start its actor towards 1s with behaviour cloning, agents/bc.ts)
 * and only has to learn where deviating pays. Each agent observes the inner observation plus the
 * base's choice for each of its components, scaled to [0, 1].
 *
 * The base is built from the inner env (`base(env)`: heuristics read `env.view()`); it acts on the
 * inner observations every step, before the learner's adjustment is applied.
 */
import type { AgentID, EnvMetadata, ParallelEnv, ResetOptions, ResetResult, StepResult } from './core.js';
import { EnvError } from './core.js';
import type { Policy } from './policy.js';
import { Box, MultiDiscrete } from './spaces.js';

/** The KEEP choice of the default range 1 (choices: lower, keep, higher). */
export const KEEP = 1;

export class ResidualEnv implements ParallelEnv<Float32Array, Int32Array> {
  readonly metadata: EnvMetadata;
  readonly base: Policy;
  private readonly obsSpaces: Record<AgentID, Box> = {};
  private readonly actSpaces: Record<AgentID, MultiDiscrete> = {};
  private baseActs: Record<AgentID, Int32Array> = {};

  constructor(
    readonly inner: ParallelEnv<Float32Array, Int32Array>,
    base: (env: ParallelEnv<Float32Array, Int32Array>) => Policy,
    readonly range = 1,
  ) {
    if (!Number.isInteger(range) || range < 1 || range > 16) throw new EnvError(`must be an integer in 1..16, got ${JSON.stringify(range)}`, 'residual range');
    this.metadata = { ...inner.metadata, name: `${inner.metadata.name}+residual` };
    this.base = base(inner);
    for (const a of inner.possibleAgents) {
      const act = inner.actionSpace(a);
      if (!(act instanceof MultiDiscrete)) throw new EnvError(`residual needs MultiDiscrete actions, got ${act}`, `agent '${a}'`);
      const obs = inner.observationSpace(a) as Box;
      const n = act.nvec.length;
      const low = new Float32Array(obs.size + n);
      const high = new Float32Array(obs.size + n).fill(1);
      low.set(obs.low);
      high.set(obs.high);
      this.obsSpaces[a] = new Box(low, high);
      this.actSpaces[a] = new MultiDiscrete(
        new Array(n).fill(2 * range + 1),
        act.labels?.map((l) => `${l}.delta`),
      );
    }
  }

  get possibleAgents(): readonly AgentID[] {
    return this.inner.possibleAgents;
  }
  get agents(): readonly AgentID[] {
    return this.inner.agents;
  }
  get stateSpace(): Box {
    return this.inner.stateSpace;
  }
  observationSpace(agent: AgentID): Box {
    const s = this.obsSpaces[agent];
    if (!s) throw new EnvError(`unknown agent ${JSON.stringify(agent)}`);
    return s;
  }
  actionSpace(agent: AgentID): MultiDiscrete {
    const s = this.actSpaces[agent];
    if (!s) throw new EnvError(`unknown agent ${JSON.stringify(agent)}`);
    return s;
  }
  state(): Float32Array {
    return this.inner.state();
  }

  /** The base's choice for this step (inner action indices), from the last inner observations. */
  baseAction(agent: AgentID): Int32Array {
    return this.baseActs[agent];
  }

  private wrap(observations: Record<AgentID, Float32Array>): Record<AgentID, Float32Array> {
    const r = residualObservations(this.inner, this.base, observations);
    this.baseActs = r.base;
    return r.observations;
  }

  reset(opts?: ResetOptions): ResetResult<Float32Array> {
    const r = this.inner.reset(opts);
    this.base.reset?.(opts?.seed);
    return { observations: this.wrap(r.observations), infos: r.infos };
  }

  step(actions: Record<AgentID, Int32Array>): StepResult<Float32Array> {
    for (const a of this.inner.agents) {
      const d = actions[a];
      const space = this.actSpaces[a];
      if (!space.contains(d)) throw new EnvError(`residual action ${JSON.stringify(d && Array.from(d))} is not in ${space}`, `agent '${a}'`);
    }
    const r = this.inner.step(applyResidual(this.inner, this.baseActs, actions, this.range));
    return { ...r, observations: this.wrap(r.observations) };
  }

  close(): void {
    this.inner.close();
  }
}

/** The base's actions on `observations` and each agent's observation with the base's choice appended. */
export function residualObservations(
  inner: Pick<ParallelEnv<Float32Array, Int32Array>, 'agents' | 'actionSpace'>,
  base: Policy,
  observations: Record<AgentID, Float32Array>,
): { observations: Record<AgentID, Float32Array>; base: Record<AgentID, Int32Array> } {
  const acts = inner.agents.length ? (base.act(observations) as Record<AgentID, ArrayLike<number>>) : {};
  const out: Record<AgentID, Float32Array> = {};
  const baseActs: Record<AgentID, Int32Array> = {};
  for (const [a, o] of Object.entries(observations)) {
    const nvec = (inner.actionSpace(a) as MultiDiscrete).nvec;
    const b = Int32Array.from(acts[a] ?? new Int32Array(nvec.length));
    baseActs[a] = b;
    const row = new Float32Array(o.length + nvec.length);
    row.set(o);
    for (let i = 0; i < nvec.length; i++) row[o.length + i] = nvec[i] > 1 ? b[i] / (nvec[i] - 1) : 0;
    out[a] = row;
  }
  return { observations: out, base: baseActs };
}

/** Inner actions: the base's choice moved by each residual component (choice − range), clamped. */
export function applyResidual(
  inner: Pick<ParallelEnv<Float32Array, Int32Array>, 'agents' | 'actionSpace'>,
  base: Record<AgentID, Int32Array>,
  deltas: Record<AgentID, ArrayLike<number>>,
  range = 1,
): Record<AgentID, Int32Array> {
  const out: Record<AgentID, Int32Array> = {};
  for (const a of inner.agents) {
    const nvec = (inner.actionSpace(a) as MultiDiscrete).nvec;
    const d = deltas[a];
    out[a] = Int32Array.from(base[a], (x, i) => Math.min(nvec[i] - 1, Math.max(0, x + d[i] - range)));
  }
  return out;
}

/**
 * A policy trained on a ResidualEnv, run on the plain inner env: the base acts, the learner sees
 * the augmented observations and adjusts. `base` must be built on the same inner env.
 */
export function residualPolicy(inner: ParallelEnv<Float32Array, Int32Array>, base: Policy, learner: Policy, name = learner.name, range = 1): Policy {
  return {
    name,
    reset: (seed) => {
      base.reset?.(seed);
      learner.reset?.(seed);
    },
    act: (observations) => {
      const r = residualObservations(inner, base, observations as Record<AgentID, Float32Array>);
      return applyResidual(inner, r.base, learner.act(r.observations) as Record<AgentID, ArrayLike<number>>, range);
    },
  };
}

/** The residual action that reproduces the base policy: the middle choice (= range) everywhere. */
export function keepAction(env: Pick<ResidualEnv, 'actionSpace' | 'range'>, agent: AgentID): Int32Array {
  return new Int32Array(env.actionSpace(agent).nvec.length).fill(env.range);
}
