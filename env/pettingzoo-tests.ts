/**
 * PettingZoo's own conformance tests for Parallel envs, ported line by line from upstream
 * (Farama-Foundation/PettingZoo, pettingzoo/test/parallel_test.py `parallel_api_test` and
 * pettingzoo/test/seed_test.py `parallel_seed_test` with `check_environment_deterministic_parallel`;
 * MIT licence). Python's `assert` becomes a thrown Error with upstream's message; `warnings.warn`
 * becomes an entry of the returned list (upstream warns and passes). Names follow ours: the
 * `action_space(agent)` of upstream is `actionSpace(agent)`, `possible_agents` is `possibleAgents`,
 * and `step` returns one object of the five dicts. The wrapper-type assertions of upstream (that
 * the env is not an AEC→parallel conversion) have no counterpart here: there is no AEC API.
 * checker.ts (`checkParallelEnv`) holds our stricter checks; these are upstream's, as written.
 */
import { deepIdentical } from './checker.js';
import type { AgentID, ParallelEnv } from './core.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests take any env, as upstream's do.
type AnyEnv = ParallelEnv<any, any>;

function assert(cond: unknown, message = 'assertion failed'): asserts cond {
  if (!cond) throw new Error(`PettingZoo parallel test: ${message}`);
}

const missingAttrWarning = (name: string) =>
  `This environment does not have ${name} defined. This is not a required part 'of the API as environments with procedurally generated agents cannot always have this property defined. However, this is very uncommon and these variables should be defined wherever possible.`;

/** sample_action: upstream also honours an `action_mask` in dict observations. */
function sampleAction(env: AnyEnv, obs: Record<AgentID, unknown>, agent: AgentID): unknown {
  const o = obs[agent] as { action_mask?: unknown } | undefined;
  const space = env.actionSpace(agent) as { sample(rng?: unknown, mask?: unknown): unknown };
  if (o && typeof o === 'object' && !ArrayBuffer.isView(o) && 'action_mask' in o) return space.sample(undefined, o.action_mask);
  return space.sample();
}

/** parallel_api_test(par_env, num_cycles=1000). Returns upstream's warnings. */
export function parallelApiTest(parEnv: AnyEnv, numCycles = 1000): string[] {
  const warnings: string[] = [];
  (parEnv as unknown as { maxCycles: number }).maxCycles = numCycles;

  if (!('possibleAgents' in parEnv)) warnings.push(missingAttrWarning('possible_agents'));

  // checks that reset takes arguments seed and options
  parEnv.reset({ seed: 0, options: { options: 1 } });

  const MAX_RESETS = 2;
  for (let r = 0; r < MAX_RESETS; r++) {
    let { observations: obs, infos } = parEnv.reset();

    assert(obs !== null && typeof obs === 'object');
    assert(infos !== null && typeof infos === 'object');
    // Note: obs and info dicts must contain all AgentIDs, but can also have other additional keys (e.g., "common")
    assert(parEnv.agents.every((a) => a in obs));
    assert(parEnv.agents.every((a) => a in infos));
    let terminated: Record<AgentID, boolean> = Object.fromEntries(parEnv.agents.map((a) => [a, false]));
    let truncated: Record<AgentID, boolean> = Object.fromEntries(parEnv.agents.map((a) => [a, false]));
    const liveAgents = new Set(parEnv.agents);
    const hasFinished = new Set<AgentID>();
    for (let c = 0; c < numCycles; c++) {
      const actions: Record<AgentID, unknown> = {};
      for (const agent of parEnv.agents)
        if ((agent in terminated && !terminated[agent]) || (agent in truncated && !truncated[agent])) actions[agent] = sampleAction(parEnv, obs, agent);
      const res = parEnv.step(actions);
      obs = res.observations;
      const rew = res.rewards;
      terminated = res.terminations;
      truncated = res.truncations;
      const info = res.infos;
      for (const agent of parEnv.agents) {
        assert(!hasFinished.has(agent), 'agent cannot be revived once dead');
        if (!liveAgents.has(agent)) liveAgents.add(agent);
      }

      for (const v of [obs, rew, terminated, truncated, info]) assert(v !== null && typeof v === 'object');

      const keys = ['observation', 'reward', 'terminated', 'truncated', 'info'];
      const vals = [obs, rew, terminated, truncated, info];
      keys.forEach((k, i) => {
        const keySet = new Set(Object.keys(vals[i]));
        if (keySet.size === liveAgents.size && [...keySet].every((a) => liveAgents.has(a))) return;
        if (keySet.size < liveAgents.size) warnings.push(`Live agent was not given ${k}`);
        else warnings.push(`Agent was given ${k} but was dead last turn`);
      });

      if ('possibleAgents' in parEnv) {
        assert(
          parEnv.agents.every((a) => parEnv.possibleAgents.includes(a)),
          'possible_agents defined but does not contain all agents',
        );
        for (const agent of liveAgents) if (terminated[agent] || truncated[agent]) hasFinished.add(agent);
        if (!parEnv.agents.length && !(hasFinished.size === parEnv.possibleAgents.length && parEnv.possibleAgents.every((a) => hasFinished.has(a))))
          warnings.push('No agents present but not all possible_agents are terminated or truncated');
      } else if (!(parEnv as AnyEnv).agents.length) warnings.push('No agents present');

      for (const agent of parEnv.agents) {
        // Two calls, one object (upstream compares with `is`).
        const obsSpace = parEnv.observationSpace(agent);
        const actSpace = parEnv.actionSpace(agent);
        assert(
          obsSpace === parEnv.observationSpace(agent),
          'observation_space should return the exact same space object (not a copy) for an agent. Consider decorating your observation_space(self, agent) method with @functools.lru_cache(maxsize=None)',
        );
        assert(
          actSpace === parEnv.actionSpace(agent),
          'action_space should return the exact same space object (not a copy) for an agent (ensures that action space seeding works as expected). Consider decorating your action_space(self, agent) method with @functools.lru_cache(maxsize=None)',
        );
      }

      for (const agent of [...liveAgents]) if (terminated[agent] || truncated[agent]) liveAgents.delete(agent);

      assert(
        parEnv.agents.length === liveAgents.size && parEnv.agents.every((a) => liveAgents.has(a)),
        `${JSON.stringify(parEnv.agents)} != ${JSON.stringify([...liveAgents])}`,
      );

      if (liveAgents.size === 0) break;
    }
  }
  return warnings;
}

function seedActionSpaces(env: AnyEnv): void {
  env.agents.forEach((agent, i) => {
    (env.actionSpace(agent) as { seed(s: number): unknown }).seed(42 + i);
  });
}

function seedObservationSpaces(env: AnyEnv): void {
  env.agents.forEach((agent, i) => {
    (env.observationSpace(agent) as { seed(s: number): unknown }).seed(42 + i);
  });
}

/** check_environment_deterministic_parallel(env1, env2, num_cycles) */
export function checkEnvironmentDeterministicParallel(env1: AnyEnv, env2: AnyEnv, numCycles: number): void {
  env1.reset({ seed: 42 });
  env2.reset({ seed: 42 });

  // seed action spaces to ensure sampled actions are the same
  seedActionSpaces(env1);
  seedActionSpaces(env2);

  // seed observation spaces to ensure first observation is the same
  seedObservationSpaces(env1);
  seedObservationSpaces(env2);

  let iter = 0;
  const maxEnvIters = numCycles * env1.agents.length;

  env1.reset({ seed: 42 });
  env2.reset({ seed: 42 });

  seedActionSpaces(env1);
  seedActionSpaces(env2);

  while (env1.agents.length) {
    const actions1 = Object.fromEntries(env1.agents.map((a) => [a, env1.actionSpace(a).sample()]));
    const actions2 = Object.fromEntries(env2.agents.map((a) => [a, env2.actionSpace(a).sample()]));

    assert(deepIdentical(actions1, actions2), 'Incorrect action seeding');

    const r1 = env1.step(actions1);
    const r2 = env2.step(actions2);

    iter += 1;

    assert(deepIdentical(r1.observations, r2.observations), 'Incorrect observations');
    assert(deepIdentical(r1.rewards, r2.rewards), 'Incorrect values for rewards');
    assert(deepIdentical(r1.terminations, r2.terminations), 'Incorrect terminations.');
    assert(deepIdentical(r1.truncations, r2.truncations), 'Incorrect truncations');
    assert(deepIdentical(r1.infos, r2.infos), 'Incorrect infos');

    // Upstream's `any(terminations1)` tests the dict's keys (agent names, always truthy): it stops
    // after one step whenever an agent is live. Ported as written.
    if (iter >= maxEnvIters || Object.keys(r1.terminations).some(Boolean) || Object.keys(r1.truncations).some(Boolean)) break;
  }

  env1.close();
  env2.close();
}

/** parallel_seed_test(parallel_env_fn, num_cycles=500) */
export function parallelSeedTest(parallelEnvFn: () => AnyEnv, numCycles = 500): void {
  const env1 = parallelEnvFn();
  const env2 = parallelEnvFn();
  checkEnvironmentDeterministicParallel(env1, env2, numCycles);
}
