/**
 * `checkParallelEnv(factory)`: PettingZoo's `parallel_api_test` and `parallel_seed_test`, in TS.
 *
 * API test (one env): agents are unique strings and a subset of possibleAgents; the spaces are the
 * same object on every call and an unknown agent is refused; `reset` returns one observation and
 * one info per live agent, each observation inside its space; `state()` is a Float32Array inside
 * `stateSpace`; every `step` (random actions from a seeded RNG) returns the five dicts keyed by the
 * agents that were live, with finite rewards, boolean flags, infos carrying a finite `dt ≥ 0`, and
 * observations inside their spaces; a missing action or an action outside its space is refused
 * with an error naming the agent; once every agent is done `agents` is empty and `step` throws.
 *
 * Seed test (two envs from the factory, and one env reset twice unless `resetReplay: false`): the
 * same seed and the same seeded random actions give bit-identical observations, rewards, flags,
 * infos and states.
 *
 * Failures are collected; the function throws one CheckError listing all of them.
 */
import type { AgentID, ParallelEnv, StepResult } from './core.js';
import { Box, makeRng, quote, type Rng, type Space } from './spaces.js';

export class CheckError extends Error {
  constructor(readonly failures: string[]) {
    super(`checkParallelEnv failed:\n - ${failures.join('\n - ')}`);
    this.name = 'CheckError';
  }
}

export interface CheckOptions {
  /** Steps of the API test and of each seed-test run. Default 40. */
  steps?: number;
  seed?: number;
  /**
   * Also require one env reset twice with the seed to replay exactly (default true). Wrappers
   * that learn across episodes (NormalizeObservation's running moments) legitimately fail it.
   */
  resetReplay?: boolean;
}

export interface CheckReport {
  apiSteps: number;
  seedSteps: number;
  episodeEnded: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: the checker takes any env.
type AnyEnv = ParallelEnv<any, any>;

function sameKeys(got: object, want: readonly AgentID[]): boolean {
  const k = Object.keys(got).sort();
  const w = [...want].sort();
  return k.length === w.length && k.every((x, i) => x === w[i]);
}

/** Structural equality where numbers compare with Object.is and typed arrays element by element. */
export function deepIdentical(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  if (a === b) return true;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<number>;
    const y = b as unknown as ArrayLike<number>;
    if (a.constructor !== b.constructor || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepIdentical(v, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
    return ka.every((k) => deepIdentical((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

function sampleActions(env: AnyEnv, rng: Rng): Record<AgentID, unknown> {
  const out: Record<AgentID, unknown> = {};
  for (const a of env.agents) out[a] = env.actionSpace(a).sample(rng);
  return out;
}

/** An action that is not in `space` (for the refusal check), or undefined when none is obvious. */
function outside(space: Space<unknown>, rng: Rng): unknown {
  const x = space.sample(rng);
  if (typeof x === 'number') return x + 10_000;
  if (ArrayBuffer.isView(x) && (x as Int32Array).length) {
    const y = (x as Int32Array).slice();
    y[0] = 1_000_000;
    return y;
  }
  return undefined;
}

function throwsNaming(f: () => unknown, name: string): string | null {
  try {
    f();
  } catch (e) {
    return (e as Error).message.includes(name) ? null : `error does not name '${name}': ${(e as Error).message}`;
  }
  return 'did not throw';
}

export function checkParallelEnv(factory: () => AnyEnv, opts: CheckOptions = {}): CheckReport {
  const steps = opts.steps ?? 40;
  const seed = opts.seed ?? 42;
  const fail: string[] = [];
  const report: CheckReport = { apiSteps: 0, seedSteps: 0, episodeEnded: false };

  // ------------------------------------------------------------ API test
  const env = factory();
  const possible = env.possibleAgents;
  if (!possible.length) fail.push('possibleAgents is empty');
  if (new Set(possible).size !== possible.length) fail.push(`possibleAgents has duplicates: ${quote(possible)}`);
  for (const a of possible) {
    if (typeof a !== 'string') fail.push(`agent id ${quote(a)} is not a string`);
    const [o1, o2] = [env.observationSpace(a), env.observationSpace(a)];
    if (o1 !== o2) fail.push(`observationSpace('${a}') returns a new object per call`);
    const [a1, a2] = [env.actionSpace(a), env.actionSpace(a)];
    if (a1 !== a2) fail.push(`actionSpace('${a}') returns a new object per call`);
  }
  const bogus = '__no_such_agent__';
  const w1 = throwsNaming(() => env.observationSpace(bogus), bogus);
  if (w1) fail.push(`observationSpace(unknown agent): ${w1}`);
  if (!(env.stateSpace instanceof Box)) fail.push('stateSpace is not a Box');

  const checkObs = (where: string, obs: Record<AgentID, unknown>) => {
    for (const [a, o] of Object.entries(obs)) {
      if (!possible.includes(a)) {
        fail.push(`${where}: observation for unknown agent '${a}'`);
        continue;
      }
      const why = env.observationSpace(a).why(o);
      if (why) fail.push(`${where}: observation of '${a}' is not in ${env.observationSpace(a)}: ${why}`);
    }
  };
  const checkState = (where: string) => {
    const s = env.state();
    if (!(s instanceof Float32Array)) fail.push(`${where}: state() is not a Float32Array`);
    else {
      const why = env.stateSpace.why(s);
      if (why) fail.push(`${where}: state() is not in stateSpace: ${why}`);
    }
  };

  const r0 = env.reset({ seed });
  if (!env.agents.length) fail.push('reset: no live agents');
  for (const a of env.agents) if (!possible.includes(a)) fail.push(`reset: live agent '${a}' is not in possibleAgents`);
  if (!sameKeys(r0.observations, env.agents)) fail.push(`reset: observation keys ${quote(Object.keys(r0.observations))} != agents ${quote(env.agents)}`);
  if (!sameKeys(r0.infos, env.agents)) fail.push(`reset: info keys ${quote(Object.keys(r0.infos))} != agents ${quote(env.agents)}`);
  checkObs('reset', r0.observations);
  checkState('reset');

  // Refusals: a missing agent, and an out-of-space action, each named in the error.
  const rng = makeRng(`${seed}:actions`);
  if (env.agents.length) {
    const victim = env.agents[0];
    const acts = sampleActions(env, rng);
    delete acts[victim];
    const w = throwsNaming(() => env.step(acts), victim);
    if (w) fail.push(`step without an action for '${victim}': ${w}`);
    const bad = outside(env.actionSpace(victim), rng);
    if (bad !== undefined) {
      const acts2 = sampleActions(env, rng);
      acts2[victim] = bad;
      const w2 = throwsNaming(() => env.step(acts2), victim);
      if (w2) fail.push(`step with an out-of-space action for '${victim}': ${w2}`);
    }
  }

  for (let i = 0; i < steps && env.agents.length; i++) {
    const live = [...env.agents];
    let r: StepResult<unknown>;
    try {
      r = env.step(sampleActions(env, rng));
    } catch (e) {
      fail.push(`step ${i} threw: ${(e as Error).message}`);
      break;
    }
    report.apiSteps++;
    const where = `step ${i}`;
    for (const key of ['observations', 'rewards', 'terminations', 'truncations', 'infos'] as const) {
      if (!r[key] || !sameKeys(r[key], live)) fail.push(`${where}: ${key} keys ${quote(Object.keys(r[key] ?? {}))} != live agents ${quote(live)}`);
    }
    checkObs(where, r.observations);
    for (const a of live) {
      if (typeof r.rewards[a] !== 'number' || !Number.isFinite(r.rewards[a])) fail.push(`${where}: reward of '${a}' is ${quote(r.rewards[a])}`);
      if (typeof r.terminations[a] !== 'boolean') fail.push(`${where}: termination of '${a}' is ${quote(r.terminations[a])}`);
      if (typeof r.truncations[a] !== 'boolean') fail.push(`${where}: truncation of '${a}' is ${quote(r.truncations[a])}`);
      const dt = r.infos[a]?.dt;
      if (typeof dt !== 'number' || !(dt >= 0) || !Number.isFinite(dt)) fail.push(`${where}: info.dt of '${a}' is ${quote(dt)}`);
    }
    for (const a of env.agents) {
      if (!live.includes(a)) fail.push(`${where}: agent '${a}' appeared mid-episode`);
      if (r.terminations[a] || r.truncations[a]) fail.push(`${where}: agent '${a}' is done but still live`);
    }
    if (env.agents.length) checkState(where);
    if (fail.length > 20) break;
  }
  if (!env.agents.length) {
    report.episodeEnded = true;
    let threw = false;
    try {
      env.step({});
    } catch {
      threw = true;
    }
    if (!threw) fail.push('step() after the episode ended did not throw');
  }
  env.close();

  // ------------------------------------------------------------ seed test
  const run = (e: AnyEnv): unknown[] => {
    const trace: unknown[] = [];
    const ra = makeRng(`${seed}:seed-test`);
    const r = e.reset({ seed });
    trace.push(r.observations, r.infos, e.state());
    for (let i = 0; i < steps && e.agents.length; i++) {
      const acts = sampleActions(e, ra);
      const s = e.step(acts);
      trace.push(acts, s.observations, s.rewards, s.terminations, s.truncations, s.infos);
      if (e.agents.length) trace.push(e.state());
    }
    return trace;
  };
  try {
    const e1 = factory();
    const e2 = factory();
    const t1 = run(e1);
    const t2 = run(e2);
    const t3 = opts.resetReplay === false ? t1 : run(e1);
    report.seedSteps = t1.length;
    const diff = (x: unknown[], y: unknown[]) => {
      if (x.length !== y.length) return `trajectories have ${x.length} and ${y.length} entries`;
      const i = x.findIndex((v, k) => !deepIdentical(v, y[k]));
      return i < 0 ? null : `first difference at trace entry ${i}: ${quote(x[i])} vs ${quote(y[i])}`;
    };
    const d12 = diff(t1, t2);
    if (d12) fail.push(`seed test, two envs with seed ${seed}: ${d12}`);
    const d13 = diff(t1, t3);
    if (d13) fail.push(`seed test, one env reset twice with seed ${seed}: ${d13}`);
    e1.close();
    e2.close();
  } catch (e) {
    fail.push(`seed test threw: ${(e as Error).message}`);
  }

  if (fail.length) throw new CheckError(fail);
  return report;
}
