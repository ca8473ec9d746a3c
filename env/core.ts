/**
 * The multi-agent environment API: PettingZoo's Parallel API, in TypeScript.
 *
 * Like Gymnasium's core.py this file is where the contract is written down; every environment and
 * wrapper in env/ implements `ParallelEnv`, and `checkParallelEnv` (checker.ts) tests it.
 *
 * The contract:
 *  - `possibleAgents` lists every agent that can ever act, in a fixed order. `agents` lists the
 *    agents alive now; after `reset` it equals `possibleAgents`, and once every agent is terminated
 *    or truncated it is empty (a further `step` is an error until the next `reset`).
 *  - `reset({seed, options})` starts an episode. With a seed, everything random in the episode is
 *    drawn from RNGs seeded by it: the same seed and the same actions give bit-identical results.
 *    Returns one observation and one info object per live agent.
 *  - `step(actions)` takes one action per live agent (a missing or extra key is an error naming
 *    the agent) and returns observations, rewards, terminations, truncations and infos, each keyed
 *    by the agents that were live when the step began.
 *  - `observationSpace(agent)` / `actionSpace(agent)` return the same object on every call.
 *  - `state()` is a flat Float32Array of the whole environment for centralized critics (MADDPG);
 *    `stateSpace` bounds it.
 *  - Semi-MDP: a step may span a variable amount of environment time; every info carries `dt`,
 *    the environment time (seconds) the step took, so agents can discount by γ^dt.
 *  - `close()` releases executors and files; the env is unusable afterwards.
 */
import type { Box, Space } from './spaces.js';
import { quote } from './spaces.js';

export type AgentID = string;

/** Per-step info every env in this package provides (more keys may follow). */
export interface StepInfo {
  /** Environment time the step took, seconds. */
  dt: number;
  [key: string]: unknown;
}

export interface ResetOptions {
  /**
   * Seeds the episode. Without one, the first reset of an env draws a fresh random seed (as
   * Gymnasium does) and later resets continue from it.
   */
  seed?: number;
  /** Env-specific reset options; keys an env does not know are accepted and ignored (PettingZoo's convention). */
  options?: Record<string, unknown>;
}

export interface ResetResult<O> {
  observations: Record<AgentID, O>;
  infos: Record<AgentID, StepInfo>;
}

export interface StepResult<O> {
  observations: Record<AgentID, O>;
  rewards: Record<AgentID, number>;
  terminations: Record<AgentID, boolean>;
  truncations: Record<AgentID, boolean>;
  infos: Record<AgentID, StepInfo>;
}

export interface EnvMetadata {
  name: string;
  /** Whether a step's `dt` varies (semi-MDP). */
  semiMdp?: boolean;
  [key: string]: unknown;
}

export interface ParallelEnv<O = Float32Array, A = unknown> {
  readonly metadata: EnvMetadata;
  readonly possibleAgents: readonly AgentID[];
  readonly agents: readonly AgentID[];
  /** Bounds of `state()`. */
  readonly stateSpace: Box;
  reset(opts?: ResetOptions): ResetResult<O>;
  step(actions: Record<AgentID, A>): StepResult<O>;
  observationSpace(agent: AgentID): Space<O>;
  actionSpace(agent: AgentID): Space<A>;
  state(): Float32Array;
  close(): void;
}

/** An error in how an environment was configured or called; the message names the field or agent. */
export class EnvError extends Error {
  constructor(
    message: string,
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
    this.name = 'EnvError';
  }
}

/** Throws unless `agent` is one of `possible`; the message quotes the bad name and lists the good ones. */
export function checkAgent(agent: AgentID, possible: readonly AgentID[]): void {
  if (!possible.includes(agent)) throw new EnvError(`unknown agent ${quote(agent)} (agents: ${possible.join(', ')})`);
}

/**
 * Checks that `actions` has exactly one entry per live agent and that each lies in the agent's
 * action space. Errors name the agent and quote the value.
 */
export function checkActions<A>(env: Pick<ParallelEnv<unknown, A>, 'agents' | 'actionSpace'>, actions: Record<AgentID, A>): void {
  if (!actions || typeof actions !== 'object') throw new EnvError(`step() needs an object keyed by agent, got ${quote(actions)}`);
  if (!env.agents.length) throw new EnvError('step() called with no live agents: the episode is over, call reset()');
  for (const agent of env.agents) {
    if (!(agent in actions)) throw new EnvError(`missing action`, `agent '${agent}'`);
    const why = env.actionSpace(agent).why(actions[agent]);
    if (why) throw new EnvError(`action ${quote(actions[agent])} is not in ${env.actionSpace(agent)}: ${why}`, `agent '${agent}'`);
  }
  for (const key of Object.keys(actions)) {
    if (!env.agents.includes(key)) throw new EnvError(`action given for ${quote(key)}, which is not a live agent (live: ${env.agents.join(', ')})`);
  }
}

/** A keyed record with the same value for every agent (the shared reward, the shared flags). */
export function perAgent<T>(agents: readonly AgentID[], value: (agent: AgentID) => T): Record<AgentID, T> {
  const out: Record<AgentID, T> = {};
  for (const a of agents) out[a] = value(a);
  return out;
}
