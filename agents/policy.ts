/**
 * The one interface every scheduling policy shares — trained agents (MADDPG) and baselines alike —
 * so experiments evaluate them with the same loop.
 */
import type { EnvPolicy } from '../env/policies.js';
export interface Policy {
  readonly name: string;
  /** One action per agent present in `observations`, in the env's action spaces. */
  act(observations: Record<string, unknown>): Record<string, unknown>;
  /** Called at each episode start (stateful heuristics clear their memory). */
  reset?(): void;
}

/** An env/policies.ts baseline (acts without observations) on the Policy interface. */
export function fromEnvPolicy(p: EnvPolicy, name = p.name): Policy {
  return { name, reset: () => p.reset(), act: () => p.act() };
}
