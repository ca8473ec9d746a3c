/**
 * The per-sub-env bookkeeping of a vector env (vector.ts), shared by the sync backend and the
 * worker threads: autoreset in either mode, live-agent filtering, and one plain result object per
 * sub-env (structured-cloneable, so a worker can post it as is).
 */
import type { AgentID, StepInfo } from './core.js';
import type { AnyParallelEnv } from './registry.js';

export interface SubEnvResult {
  observations: Record<AgentID, unknown>;
  infos: Record<AgentID, StepInfo>;
  state: Float32Array;
  rewards?: Record<AgentID, number>;
  terminations?: Record<AgentID, boolean>;
  truncations?: Record<AgentID, boolean>;
}

function stateOf(env: AnyParallelEnv): Float32Array {
  return typeof env.state === 'function' ? env.state() : new Float32Array(0);
}

export class VecCore {
  /** next-step mode: sub-envs whose episode ended on the last step (reset on this one). */
  private readonly pending: boolean[];
  /** Last observation / info / flags per agent of each sub-env (for agents that died early). */
  private readonly last: { obs: Record<AgentID, unknown>; info: Record<AgentID, StepInfo>; term: Record<AgentID, boolean>; trunc: Record<AgentID, boolean> }[];

  constructor(
    readonly envs: AnyParallelEnv[],
    readonly autoreset: 'next-step' | 'same-step',
  ) {
    const agents = envs[0].possibleAgents.join();
    envs.forEach((e, i) => {
      if (e.possibleAgents.join() !== agents)
        throw new Error(`vector env: sub-env ${i} has agents [${e.possibleAgents.join(', ')}], sub-env 0 has [${agents}]`);
    });
    this.pending = envs.map(() => false);
    this.last = envs.map(() => ({ obs: {}, info: {}, term: {}, trunc: {} }));
  }

  private resetOne(i: number, seed: number | undefined, options?: Record<string, unknown>): SubEnvResult {
    const env = this.envs[i];
    const r = env.reset({ ...(seed === undefined ? {} : { seed }), ...(options ? { options } : {}) });
    this.pending[i] = false;
    this.last[i] = { obs: { ...r.observations }, info: { ...r.infos }, term: {}, trunc: {} };
    return { observations: r.observations, infos: r.infos, state: stateOf(env) };
  }

  reset(seeds: (number | undefined)[], options?: Record<string, unknown>): SubEnvResult[] {
    return this.envs.map((_, i) => this.resetOne(i, seeds[i], options));
  }

  step(actions: Record<AgentID, unknown>[]): SubEnvResult[] {
    return this.envs.map((env, i) => {
      if (this.pending[i]) {
        // next-step autoreset: the action is ignored; reward 0, flags false.
        const r = this.resetOne(i, undefined);
        const zero: Record<AgentID, number> = {};
        const no: Record<AgentID, boolean> = {};
        for (const a of env.possibleAgents) {
          zero[a] = 0;
          no[a] = false;
        }
        return { ...r, rewards: zero, terminations: no, truncations: { ...no } };
      }
      const live: Record<AgentID, unknown> = {};
      for (const a of env.agents) live[a] = actions[i][a];
      const r = env.step(live);
      const last = this.last[i];
      const rewards: Record<AgentID, number> = {};
      for (const a of env.possibleAgents) {
        rewards[a] = r.rewards[a] ?? 0;
        if (a in r.observations) last.obs[a] = r.observations[a];
        if (a in r.infos) last.info[a] = r.infos[a];
        if (a in r.terminations) last.term[a] = r.terminations[a];
        if (a in r.truncations) last.trunc[a] = r.truncations[a];
      }
      const out: SubEnvResult = {
        observations: { ...last.obs },
        infos: { ...last.info },
        state: stateOf(env),
        rewards,
        terminations: { ...last.term },
        truncations: { ...last.trunc },
      };
      if (env.agents.length > 0) return out;
      if (this.autoreset === 'next-step') {
        this.pending[i] = true;
        return out;
      }
      // same-step: reset now; the final observation, info and state go into the reset infos.
      const fresh = this.resetOne(i, undefined);
      for (const a of env.possibleAgents) {
        fresh.infos[a] = { ...fresh.infos[a], final_obs: out.observations[a], final_info: out.infos[a], final_state: out.state };
      }
      return { ...fresh, rewards, terminations: out.terminations, truncations: out.truncations };
    });
  }

  close(): void {
    for (const e of this.envs) e.close();
  }
}
