/**
 * The one interface every scheduling policy shares — trained agents (MADDPG) and baselines alike —
 * so experiments evaluate them with the same loop.
 */
export interface Policy {
  readonly name: string;
  /** One action per agent present in `observations`, in the env's action spaces. */
  act(observations: Record<string, unknown>): Record<string, unknown>;
  /** Called at each episode start (stateful heuristics clear their memory). */
  reset?(): void;
}
