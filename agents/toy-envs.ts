/**
 * Small cooperative games with a known optimum, on the same Parallel API as env/, for testing the
 * learners (a learner that cannot solve these cannot be trusted on the scheduling env).
 *
 * CueGame — a repeated two-agent coordination game with state. Each step draws, from the episode's
 * seeded RNG, a cue c ∈ {0..K−1}, a tag d ∈ {0..K−1} and a bit e ∈ {0, 1}:
 *   - 'cued'  observes one-hot(c) and acts in Discrete(K);
 *   - 'blind' observes one-hot(d) ⊕ e and acts in MultiDiscrete([K, 2]);
 *   - both receive reward 1 iff a_cued = c and a_blind = (d, e), else 0.
 * Neither agent sees what the other must match, the team reward is all-or-nothing (so each agent's
 * value depends on the other's policy: the centralized critic matters), and a MultiDiscrete action
 * exercises multi-head Gumbel-softmax. Actions do not change the future, so the optimal joint
 * policy is (c, (d, e)) every step, its return is `steps` per episode, and a uniform random policy
 * earns steps / (2K²).
 *
 * Semi-MDP option: each step's `info.dt` is drawn from {1, 2} so the dt-discount path runs.
 */
import {
  type AgentID,
  checkActions,
  checkAgent,
  EnvError,
  type ParallelEnv,
  type ResetOptions,
  type ResetResult,
  type StepInfo,
  type StepResult,
} from '../env/core.js';
import { Box, Discrete, MultiDiscrete, type Space } from '../env/spaces.js';
import { makeRng, type Rng } from './rng.js';

export interface CueGameOptions {
  /** Number of cue values K (≥ 2). */
  k?: number;
  /** Steps per episode (truncation). */
  steps?: number;
  /** Draw info.dt from {1, 2} instead of 1. */
  variableDt?: boolean;
}

export class CueGame implements ParallelEnv<Float32Array, unknown> {
  readonly metadata;
  readonly possibleAgents: readonly AgentID[] = ['cued', 'blind'];
  agents: AgentID[] = [];
  readonly stateSpace: Box;
  readonly k: number;
  readonly steps: number;
  private readonly variableDt: boolean;
  private readonly obsSpaces: Record<AgentID, Box>;
  private readonly actSpaces: Record<AgentID, Space<unknown>>;
  private rng: Rng = makeRng('cue-game/unseeded');
  private t = 0;
  private c = 0;
  private d = 0;
  private e = 0;
  private closed = false;

  constructor(opts: CueGameOptions = {}) {
    this.k = opts.k ?? 3;
    this.steps = opts.steps ?? 10;
    if (!Number.isInteger(this.k) || this.k < 2) throw new EnvError(`k must be an integer ≥ 2, got ${opts.k}`, 'CueGame');
    if (!Number.isInteger(this.steps) || this.steps < 1) throw new EnvError(`steps must be a positive integer, got ${opts.steps}`, 'CueGame');
    this.variableDt = opts.variableDt ?? false;
    this.metadata = { name: 'topsched/CueGame-v0', semiMdp: this.variableDt };
    this.obsSpaces = { cued: new Box(0, 1, [this.k]), blind: new Box(0, 1, [this.k + 1]) };
    this.actSpaces = { cued: new Discrete(this.k), blind: new MultiDiscrete([this.k, 2]) };
    this.stateSpace = new Box(0, 1, [2 * this.k + 2]);
  }

  /** Best achievable undiscounted episode return per agent. */
  optimalReturn(): number {
    return this.steps;
  }

  /** Expected episode return of uniformly random actions. */
  randomReturn(): number {
    return this.steps / (2 * this.k * this.k);
  }

  observationSpace(agent: AgentID): Box {
    const s = this.obsSpaces[agent];
    if (!s) throw new EnvError(`unknown agent '${agent}' (agents: ${this.possibleAgents.join(', ')})`);
    return s;
  }

  actionSpace(agent: AgentID): Space<unknown> {
    const s = this.actSpaces[agent];
    if (!s) throw new EnvError(`unknown agent '${agent}' (agents: ${this.possibleAgents.join(', ')})`);
    return s;
  }

  private draw(): void {
    this.c = Math.floor(this.rng() * this.k);
    this.d = Math.floor(this.rng() * this.k);
    this.e = this.rng() < 0.5 ? 0 : 1;
  }

  private observe(): Record<AgentID, Float32Array> {
    const cued = new Float32Array(this.k);
    cued[this.c] = 1;
    const blind = new Float32Array(this.k + 1);
    blind[this.d] = 1;
    blind[this.k] = this.e;
    return { cued, blind };
  }

  state(): Float32Array {
    const s = new Float32Array(2 * this.k + 2);
    s[this.c] = 1;
    s[this.k + this.d] = 1;
    s[2 * this.k] = this.e;
    s[2 * this.k + 1] = this.t / this.steps;
    return s;
  }

  reset(opts: ResetOptions = {}): ResetResult<Float32Array> {
    if (this.closed) throw new EnvError('reset() after close()', 'CueGame');
    if (opts.seed !== undefined) this.rng = makeRng(`cue-game/${opts.seed}`);
    this.t = 0;
    this.agents = [...this.possibleAgents];
    this.draw();
    return { observations: this.observe(), infos: { cued: { dt: 0 }, blind: { dt: 0 } } };
  }

  step(actions: Record<AgentID, unknown>): StepResult<Float32Array> {
    if (this.closed) throw new EnvError('step() after close()', 'CueGame');
    checkActions(this, actions);
    const a = actions.cued as number;
    const b = actions.blind as ArrayLike<number>;
    const r = a === this.c && b[0] === this.d && b[1] === this.e ? 1 : 0;
    const dt = this.variableDt ? 1 + Math.floor(this.rng() * 2) : 1;
    this.t += 1;
    const done = this.t >= this.steps;
    this.draw();
    const info: StepInfo = { dt };
    const out: StepResult<Float32Array> = {
      observations: this.observe(),
      rewards: { cued: r, blind: r },
      terminations: { cued: false, blind: false },
      truncations: { cued: done, blind: done },
      infos: { cued: { ...info }, blind: { ...info } },
    };
    if (done) this.agents = [];
    return out;
  }

  close(): void {
    this.closed = true;
    this.agents = [];
  }
}

export interface OffsetGameOptions {
  /** Number of agents (≥ 2). */
  n?: number;
  k?: number;
  steps?: number;
}

/**
 * OffsetGame — for parameter sharing. n agents all observe the same one-hot cue c ∈ {0..K−1} and
 * act in Discrete(K); the team earns 1 iff every agent i plays (c + i) mod K. Identical
 * observations and action spaces, but different optimal actions: a shared actor solves it only by
 * using the agent-id one-hot. Optimal return `steps`; uniform random steps / Kⁿ.
 */
export class OffsetGame implements ParallelEnv<Float32Array, unknown> {
  readonly metadata = { name: 'topsched/OffsetGame-v0', semiMdp: false };
  readonly possibleAgents: readonly AgentID[];
  agents: AgentID[] = [];
  readonly stateSpace: Box;
  readonly n: number;
  readonly k: number;
  readonly steps: number;
  private readonly obsSpace: Box;
  private readonly actSpace: Discrete;
  private rng: Rng = makeRng('offset-game/unseeded');
  private t = 0;
  private c = 0;

  constructor(opts: OffsetGameOptions = {}) {
    this.n = opts.n ?? 2;
    this.k = opts.k ?? 3;
    this.steps = opts.steps ?? 10;
    if (!Number.isInteger(this.n) || this.n < 2) throw new EnvError(`n must be an integer ≥ 2, got ${opts.n}`, 'OffsetGame');
    if (!Number.isInteger(this.k) || this.k < 2) throw new EnvError(`k must be an integer ≥ 2, got ${opts.k}`, 'OffsetGame');
    if (!Number.isInteger(this.steps) || this.steps < 1) throw new EnvError(`steps must be a positive integer, got ${opts.steps}`, 'OffsetGame');
    this.possibleAgents = Array.from({ length: this.n }, (_, i) => `agent_${i}`);
    this.obsSpace = new Box(0, 1, [this.k]);
    this.actSpace = new Discrete(this.k);
    this.stateSpace = new Box(0, 1, [this.k + 1]);
  }

  optimalReturn(): number {
    return this.steps;
  }

  randomReturn(): number {
    return this.steps / this.k ** this.n;
  }

  observationSpace(agent: AgentID): Box {
    checkAgent(agent, this.possibleAgents);
    return this.obsSpace;
  }

  actionSpace(agent: AgentID): Discrete {
    checkAgent(agent, this.possibleAgents);
    return this.actSpace;
  }

  private observe(): Record<AgentID, Float32Array> {
    const o = new Float32Array(this.k);
    o[this.c] = 1;
    return Object.fromEntries(this.possibleAgents.map((a) => [a, Float32Array.from(o)]));
  }

  state(): Float32Array {
    const s = new Float32Array(this.k + 1);
    s[this.c] = 1;
    s[this.k] = this.t / this.steps;
    return s;
  }

  reset(opts: ResetOptions = {}): ResetResult<Float32Array> {
    if (opts.seed !== undefined) this.rng = makeRng(`offset-game/${opts.seed}`);
    this.t = 0;
    this.agents = [...this.possibleAgents];
    this.c = Math.floor(this.rng() * this.k);
    return { observations: this.observe(), infos: Object.fromEntries(this.possibleAgents.map((a) => [a, { dt: 0 }])) };
  }

  step(actions: Record<AgentID, unknown>): StepResult<Float32Array> {
    checkActions(this, actions);
    const r = this.possibleAgents.every((a, i) => actions[a] === (this.c + i) % this.k) ? 1 : 0;
    this.t += 1;
    const done = this.t >= this.steps;
    this.c = Math.floor(this.rng() * this.k);
    const each = <T>(v: T) => Object.fromEntries(this.possibleAgents.map((a) => [a, v])) as Record<AgentID, T>;
    const out: StepResult<Float32Array> = {
      observations: this.observe(),
      rewards: each(r),
      terminations: each(false),
      truncations: each(done),
      infos: Object.fromEntries(this.possibleAgents.map((a) => [a, { dt: 1 }])),
    };
    if (done) this.agents = [];
    return out;
  }

  close(): void {
    this.agents = [];
  }
}

/**
 * A repeated two-player cooperative matrix game: both agents see a constant observation, pick a
 * row / column (Discrete(n)) and receive payoff[row][col], for `steps` one-step rounds. The classic
 * relative-overgeneralisation games: against a uniformly random partner the optimal action's
 * expected payoff is *not* the best, so independent-looking learners settle on a safe suboptimum.
 *
 *  - climbing (Claus & Boutilier 1998): optimum (0, 0) = 11, next to −30 penalties; the safe
 *    equilibrium (2, 2) pays 5.
 *  - penalty (k = −100): optima (0, 0) and (2, 2) = 10, miscoordination between them costs 100;
 *    the safe (1, 1) pays 2.
 */
export const MATRIX_GAMES: Record<string, number[][]> = {
  climbing: [
    [11, -30, 0],
    [-30, 7, 6],
    [0, 0, 5],
  ],
  penalty: [
    [10, 0, -100],
    [0, 2, 0],
    [-100, 0, 10],
  ],
};

export class MatrixGame implements ParallelEnv<Float32Array, number> {
  readonly metadata: { name: string };
  readonly possibleAgents: readonly AgentID[] = ['row', 'col'];
  agents: AgentID[] = [];
  readonly stateSpace = new Box(0, 1, [1]);
  private readonly obsSpace = new Box(0, 1, [1]);
  private readonly actSpace: Discrete;
  private t = 0;

  constructor(
    readonly payoff: number[][],
    readonly steps = 1,
    name = 'matrix',
  ) {
    if (!payoff.length || payoff.some((r) => r.length !== payoff.length)) throw new EnvError('payoff must be a square matrix', 'MatrixGame');
    this.metadata = { name: `topsched/MatrixGame-${name}-v0` };
    this.actSpace = new Discrete(payoff.length);
  }

  static named(name: keyof typeof MATRIX_GAMES | string, steps = 1): MatrixGame {
    const p = MATRIX_GAMES[name];
    if (!p) throw new EnvError(`no matrix game '${name}' (games: ${Object.keys(MATRIX_GAMES).join(', ')})`, 'MatrixGame');
    return new MatrixGame(p, steps, name);
  }

  /** The best joint payoff per round. */
  optimum(): number {
    return Math.max(...this.payoff.flat());
  }

  observationSpace(agent: AgentID): Box {
    checkAgent(agent, this.possibleAgents);
    return this.obsSpace;
  }

  actionSpace(agent: AgentID): Discrete {
    checkAgent(agent, this.possibleAgents);
    return this.actSpace;
  }

  state(): Float32Array {
    return Float32Array.of(1);
  }

  reset(_opts: ResetOptions = {}): ResetResult<Float32Array> {
    this.t = 0;
    this.agents = [...this.possibleAgents];
    const obs = () => Float32Array.of(1);
    return { observations: { row: obs(), col: obs() }, infos: { row: { dt: 1 }, col: { dt: 1 } } };
  }

  step(actions: Record<AgentID, number>): StepResult<Float32Array> {
    checkActions(this, actions);
    const r = this.payoff[actions.row][actions.col];
    this.t += 1;
    const done = this.t >= this.steps;
    const flag = { row: done, col: done };
    if (done) this.agents = [];
    const info: StepInfo = { dt: 1 };
    return {
      observations: { row: Float32Array.of(1), col: Float32Array.of(1) },
      rewards: { row: r, col: r },
      terminations: flag,
      truncations: { row: false, col: false },
      infos: { row: info, col: { ...info } },
    };
  }

  close(): void {
    this.agents = [];
  }
}
