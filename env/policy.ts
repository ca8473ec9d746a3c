/**
 * The one interface every scheduling policy implements: trained agents (MADDPG, MAPPO), the
 * heuristics of agents/baselines.ts and the fixed policies of env/policies.ts alike, so the
 * evaluation harness (experiments/harness/) runs them all through one episode loop.
 *
 *   const p: Policy = deadlineAwarePolicy(env);
 *   let { observations } = env.reset({ seed });
 *   p.reset?.(seed);
 *   while (env.agents.length) ({ observations } = env.step(p.act(observations)));
 *
 * `act` returns one action per agent present in `observations`, in the env's action spaces; a
 * heuristic that reads the env through `env.view()` may ignore its argument. `reset` is called at
 * each episode start with the episode's seed (stateful policies clear their memory; randomised
 * ones reseed).
 */
export interface Policy {
  readonly name: string;
  act(observations: Record<string, unknown>): Record<string, unknown>;
  reset?(seed?: number): void;
}

/** The same policy under another name (e.g. a tuned configuration's label in a results table). */
export function renamed(p: Policy, name: string): Policy {
  return { name, act: (o) => p.act(o), reset: (seed) => p.reset?.(seed) };
}
