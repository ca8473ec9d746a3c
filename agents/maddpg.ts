/**
 * MADDPG (Lowe et al. 2017, "Multi-Agent Actor-Critic for Mixed Cooperative-Competitive
 * Environments"), CleanRL-style: the config with openai/maddpg's defaults, the networks, then the
 * training loop, top to bottom.
 *
 *  - One actor per agent on its own (flattened) observation: an MLP whose output is one logits
 *    slice per categorical head (Discrete = one head, MultiDiscrete = one head per component).
 *    Parameter sharing: one actor for all agents, with the agent's one-hot id appended to its input.
 *  - One centralized critic per agent on env `state()` (falls back to all observations) plus every
 *    agent's action (one-hot rows, or the Gumbel-softmax sample of the agent being improved).
 *  - Target networks with soft updates τ; Adam; per-variable gradient-norm clipping (openai's
 *    `minimize_and_clip`); the actor's logit regulariser 1e-3·mean(logits²).
 *  - Semi-MDP: the bootstrap discount of a transition is γ^(dt/dtUnit), dt from `info.dt`.
 *
 * Episodes: the trainer resets the env with a seed derived from (config.seed, episode index), so a
 * run is reproducible and a checkpoint taken between episodes resumes it exactly. An episode ends
 * when any agent terminates or truncates (the critic needs every agent's observation each step).
 */
import * as tf from '@tensorflow/tfjs';
import type { ParallelEnv } from '../env/core.js';
import { flatDim } from '../env/spaces.js';
import { logSoftmaxHeads } from './categorical.js';
import { type ActionCodec, actionCodec, flatten } from './codec.js';
import { gumbelNoise, gumbelSoftmax, sampleHeads } from './gumbel.js';
import { Adam, type ClipMode, Mlp, minimizeAndClip } from './nn.js';
import type { Policy } from './policy.js';
import { ReplayBuffer } from './replay-buffer.js';
import { deriveSeed, makeRng, type Rng } from './rng.js';

// ─── 1. Config ──────────────────────────────────────────────────────────────────────────────────

export interface MaddpgConfig {
  seed: number;
  /** Adam learning rate for actors and critics. */
  lr: number;
  gamma: number;
  /** Soft target update: θ' ← τθ + (1 − τ)θ'. */
  tau: number;
  batchSize: number;
  bufferSize: number;
  /** No updates until the buffer holds this many transitions (openai: batch × max episode length). */
  learningStarts: number;
  /** Update every this many env steps... */
  trainFreq: number;
  /** ...with this many gradient steps per agent. */
  gradientSteps: number;
  hidden: number[];
  gradClip: number;
  clipMode: ClipMode;
  /** Weight of mean(logits²) in the actor loss. */
  actorReg: number;
  temperature: number;
  /** Feed the critic straight-through one-hot samples (true) or soft Gumbel-softmax samples (openai). */
  straightThrough: boolean;
  /** One actor for all agents (agent one-hot appended); needs equal observation and action layouts. */
  shareActor: boolean;
  /** Discount per step is γ^(dt / dtUnit); dt from info.dt (1 when absent). */
  dtUnit: number;
  /** Truncate episodes after this many steps (openai's max_episode_len); 0 = only the env ends them. */
  maxEpisodeSteps: number;
  /**
   * The other agents' actions in agent k's policy gradient: 'buffer' (TOP / openai MADDPG: the
   * actions stored with the transition) or 'current' (sampled from their current policies, a
   * centralised policy gradient as in FACMAC, Peng et al. 2021): agent k then improves against what
   * its partners do now, not what they did when exploring — the cure for relative overgeneralisation
   * that coordination needs. 'best-response': agent k values each of its actions by the best
   * partner reply (optimistic joint-action learning after Lauer & Riedmiller 2000, done in the
   * actor), which is what escapes relative overgeneralisation. When k's own joint action set is
   * enumerable, the actor maximises Σ_i π_k(i) · max_reply Q(s, i, reply) exactly over its choices i;
   * otherwise partners reply to k's sampled action. Partners whose action set has more than
   * BEST_RESPONSE_MAX joint choices fall back to 'current'.
   */
  otherActions: 'buffer' | 'current' | 'best-response';
  /**
   * Hysteretic critic (Matignon et al. 2007): TD errors that would lower Q are weighted by this
   * factor (1 = the standard critic). Below 1 the critic is optimistic: a partner's exploration
   * mistakes do not drag down the value of the joint action that would be optimal.
   */
  hysteresis: number;
  /**
   * 'best-response' only: anneal the optimism over this many updates — the actor's value is
   * λ·(best partner reply) + (1 − λ)·(partners' current policies), λ going from 1 to 0 (lenient
   * learning: optimistic while the critic is young, then coordinated with what partners really do,
   * so that two optima cannot leave the agents on different ones). 0: λ = 1 throughout.
   */
  optimismUpdates: number;
  /**
   * Critic warm-up: the first this many update rounds train only the critics (as TD3's delayed
   * policy updates, taken to a warm-up). Without it an actor can saturate on a partner-dependent
   * suboptimum while its critic is still near zero everywhere, and a saturated Gumbel-softmax
   * passes almost no gradient once the critic knows better. The optimism schedule starts after it.
   */
  actorDelay: number;
}

/** openai/maddpg's train.py defaults. */
export const MADDPG_DEFAULTS: MaddpgConfig = {
  seed: 0,
  lr: 1e-2,
  gamma: 0.95,
  tau: 0.01,
  batchSize: 1024,
  bufferSize: 1_000_000,
  learningStarts: 1024 * 25,
  trainFreq: 100,
  gradientSteps: 1,
  hidden: [64, 64],
  gradClip: 0.5,
  clipMode: 'per-variable',
  actorReg: 1e-3,
  temperature: 1,
  straightThrough: false,
  shareActor: false,
  dtUnit: 1,
  maxEpisodeSteps: 25,
  otherActions: 'buffer',
  hysteresis: 1,
  optimismUpdates: 0,
  actorDelay: 0,
};

export function resolveConfig(partial: Partial<MaddpgConfig> = {}): MaddpgConfig {
  const c = { ...MADDPG_DEFAULTS, ...partial, hidden: [...(partial.hidden ?? MADDPG_DEFAULTS.hidden)] };
  const bad = (k: keyof MaddpgConfig, why: string) => new Error(`maddpg config '${k}' ${why}, got ${JSON.stringify(c[k])}`);
  for (const k of ['batchSize', 'bufferSize', 'trainFreq', 'gradientSteps'] as const)
    if (!Number.isInteger(c[k]) || c[k] < 1) throw bad(k, 'must be a positive integer');
  for (const k of ['learningStarts', 'maxEpisodeSteps', 'seed'] as const)
    if (!Number.isInteger(c[k]) || c[k] < 0) throw bad(k, 'must be a non-negative integer');
  for (const k of ['lr', 'temperature', 'dtUnit'] as const) if (!(c[k] > 0)) throw bad(k, 'must be > 0');
  if (!(c.gamma >= 0 && c.gamma <= 1)) throw bad('gamma', 'must be in [0, 1]');
  if (!(c.tau > 0 && c.tau <= 1)) throw bad('tau', 'must be in (0, 1]');
  if (!(c.gradClip >= 0) || !(c.actorReg >= 0)) throw bad('gradClip', 'and actorReg must be ≥ 0');
  if (!['buffer', 'current', 'best-response'].includes(c.otherActions)) throw bad('otherActions', "must be 'buffer', 'current' or 'best-response'");
  if (!(c.hysteresis > 0 && c.hysteresis <= 1)) throw bad('hysteresis', 'must be in (0, 1]');
  if (!Number.isInteger(c.optimismUpdates) || c.optimismUpdates < 0) throw bad('optimismUpdates', 'must be a non-negative integer');
  if (!Number.isInteger(c.actorDelay) || c.actorDelay < 0) throw bad('actorDelay', 'must be a non-negative integer');
  if (!c.hidden.length || c.hidden.some((h) => !Number.isInteger(h) || h < 1)) throw bad('hidden', 'must be positive integers');
  return c;
}

/** Partners with more joint action choices than this are not enumerated by 'best-response'. */
export const BEST_RESPONSE_MAX = 256;

/** One-hot rows (concatenated per head) of every joint choice of a MultiDiscrete layout. */
function jointChoices(heads: readonly number[]): Float32Array[] {
  let combos: number[][] = [[]];
  for (const n of heads) combos = combos.flatMap((c) => Array.from({ length: n }, (_, i) => [...c, i]));
  const width = heads.reduce((a, b) => a + b, 0);
  return combos.map((c) => {
    const row = new Float32Array(width);
    let off = 0;
    c.forEach((i, h) => {
      row[off + i] = 1;
      off += heads[h];
    });
    return row;
  });
}

// ─── 2. Networks ────────────────────────────────────────────────────────────────────────────────

export interface AgentLayout {
  id: string;
  obsDim: number;
  codec: ActionCodec;
}

export interface UpdateStats {
  criticLoss: number[];
  actorLoss: number[];
}

/** Actors, critics, their targets and optimizers; knows nothing about envs. */
export class MaddpgNetworks {
  /** λ of 'best-response' (set by the trainer from its update count; 1 without annealing). */
  optimism = 1;
  readonly actors: Mlp[];
  readonly targetActors: Mlp[];
  readonly critics: Mlp[];
  readonly targetCritics: Mlp[];
  readonly actorOpts: Adam<Mlp>[];
  readonly criticOpts: Adam<Mlp>[];
  private readonly actTotal: number;

  constructor(
    readonly layout: AgentLayout[],
    readonly stateDim: number,
    readonly cfg: MaddpgConfig,
  ) {
    const n = layout.length;
    if (cfg.shareActor) {
      const bad = layout.find((a) => a.obsDim !== layout[0].obsDim || a.codec.heads.join() !== layout[0].codec.heads.join());
      if (bad) throw new Error(`maddpg: shareActor needs identical observation and action layouts; agent '${bad.id}' differs from '${layout[0].id}'`);
    }
    const actorIn = (a: AgentLayout) => a.obsDim + (cfg.shareActor ? n : 0);
    const actorSpec = (a: AgentLayout) => ({ sizes: [actorIn(a), ...cfg.hidden, a.codec.width] });
    const actorSlots = cfg.shareActor ? [layout[0]] : layout;
    this.actTotal = layout.reduce((s, a) => s + a.codec.width, 0);
    const criticSpec = { sizes: [stateDim + this.actTotal, ...cfg.hidden, 1] };
    this.actors = actorSlots.map((a, k) => new Mlp(actorSpec(a), `${cfg.seed}/actor/${k}`));
    this.targetActors = actorSlots.map((a, k) => new Mlp(actorSpec(a), `${cfg.seed}/actor/${k}`));
    this.critics = layout.map((_, k) => new Mlp(criticSpec, `${cfg.seed}/critic/${k}`));
    this.targetCritics = layout.map((_, k) => new Mlp(criticSpec, `${cfg.seed}/critic/${k}`));
    this.actorOpts = this.actors.map((m) => new Adam(m, { lr: cfg.lr }));
    this.criticOpts = this.critics.map((m) => new Adam(m, { lr: cfg.lr }));
  }

  /** Actor index of agent k (0 for everyone when shared). */
  actorOf(k: number): number {
    return this.cfg.shareActor ? 0 : k;
  }

  /** The actor's input rows for agent k: its observation, plus the agent one-hot when shared. */
  private actorInput(k: number, obs: tf.Tensor2D): tf.Tensor2D {
    if (!this.cfg.shareActor) return obs;
    const id = tf.tile(tf.oneHot([k], this.layout.length).asType('float32'), [obs.shape[0], 1]);
    return tf.concat([obs, id], 1) as tf.Tensor2D;
  }

  logits(k: number, obs: tf.Tensor2D, target = false): tf.Tensor2D {
    const net = (target ? this.targetActors : this.actors)[this.actorOf(k)];
    return net.apply(this.actorInput(k, obs));
  }

  /**
   * Head indices for one observation row per agent, computed on the host copy of the actors:
   * Gumbel-max sampling when `rng` is given, else greedy.
   */
  act(obs: Float32Array[], rng?: Rng): Int32Array[] {
    const n = this.layout.length;
    return obs.map((o, k) => {
      let input = o;
      if (this.cfg.shareActor) {
        input = new Float32Array(o.length + n);
        input.set(o);
        input[o.length + k] = 1;
      }
      return sampleHeads(this.actors[this.actorOf(k)].forwardHost(input), 1, this.layout[k].codec.heads, rng);
    });
  }

  private sample(k: number, logits: tf.Tensor2D, rng: Rng): tf.Tensor2D {
    const heads = this.layout[k].codec.heads;
    const noise = tf.tensor2d(gumbelNoise(rng, logits.size), logits.shape);
    return gumbelSoftmax(logits, noise, heads, { temperature: this.cfg.temperature, hard: this.cfg.straightThrough });
  }

  /** One critic step for agent k on a sampled batch; returns the TD loss. */
  criticStep(k: number, b: Batch, rng: Rng): number {
    const cfg = this.cfg;
    const y = tf.tidy(() => {
      const nextActs = this.layout.map((_, j) => this.sample(j, this.logits(j, b.nextObs[j], true), rng));
      const qNext = this.targetCritics[k].apply(tf.concat([b.nextState, ...nextActs], 1) as tf.Tensor2D);
      const disc = new Float32Array(b.rows);
      for (let r = 0; r < b.rows; r++) disc[r] = cfg.gamma ** (b.dt[r] / cfg.dtUnit) * (1 - b.done[k][r]);
      return tf.add(b.rew[k], tf.mul(tf.tensor2d(disc, [b.rows, 1]), qNext));
    });
    const loss = minimizeAndClip(
      this.criticOpts[k],
      () => {
        const q = this.critics[k].apply(tf.concat([b.state, ...b.acts], 1) as tf.Tensor2D);
        const td = tf.sub(y, q);
        if (cfg.hysteresis === 1) return tf.mean(tf.square(td)) as tf.Scalar;
        // Hysteretic: an error that would lower Q (y < q) counts with weight `hysteresis`
        // (written with relu so that every op has a gradient on every tfjs backend).
        return tf.mean(tf.add(tf.square(tf.relu(td)), tf.mul(cfg.hysteresis, tf.square(tf.relu(tf.neg(td)))))) as tf.Scalar;
      },
      cfg.gradClip,
      cfg.clipMode,
    );
    y.dispose();
    return loss;
  }

  /** The actor loss of agent k: −Q_k with its own action resampled from the actor, plus the logit penalty. */
  private actorLoss(k: number, b: Batch, rng: Rng): tf.Scalar {
    const logits = this.logits(k, b.obs[k]);
    const mode = this.cfg.otherActions;
    // Partners' actions: as stored, or what their current policies would do (no gradient reaches
    // them: only agent k's actor is in this step's variables).
    const acts = b.acts.map((a, j) => (j === k ? this.sample(k, logits, rng) : mode === 'buffer' ? a : this.sample(j, this.logits(j, b.obs[j]), rng)));
    let q = this.critics[k].apply(tf.concat([b.state, ...acts], 1) as tf.Tensor2D);
    const qCurrent = q;
    if (mode === 'best-response' && this.optimism > 0) {
      const own = jointChoices(this.layout[k].codec.heads);
      const partnersEnumerable = this.layout.every((l, j) => j === k || jointChoices(l.codec.heads).length <= BEST_RESPONSE_MAX);
      if (own.length <= BEST_RESPONSE_MAX && partnersEnumerable) {
        // Exact optimistic value under agent k's own policy: Σ_i π_k(i) · max over partner replies
        // of Q(s, i, reply), every own choice i enumerated (so the best reply is to each action, not
        // to a soft mixture of them), the gradient flowing through π_k's probabilities.
        const best = own.map((row) => {
          const mine = tf.tile(tf.tensor2d(row, [1, row.length]), [b.rows, 1]);
          return this.bestReply(
            k,
            b,
            acts.map((a, i) => (i === k ? mine : a)),
          );
        });
        const table = tf.concat(best, 1); // [rows, |own|], no gradient (critic parameters are not trained here)
        const lsm = logSoftmaxHeads(logits, this.layout[k].codec.heads);
        const ownOneHot = tf.tensor2d(Float32Array.from(own.flatMap((r) => Array.from(r))), [own.length, own[0].length]);
        const probs = tf.exp(tf.matMul(lsm, ownOneHot, false, true)); // [rows, |own|]: Π_h π_h(i_h)
        q = tf.sum(tf.mul(probs, table), 1, true) as tf.Tensor2D;
      } else q = this.bestReply(k, b, acts);
      if (this.optimism < 1) q = tf.add(tf.mul(this.optimism, q), tf.mul(1 - this.optimism, qCurrent)) as tf.Tensor2D;
    }
    return tf.add(tf.neg(tf.mean(q)), tf.mul(this.cfg.actorReg, tf.mean(tf.square(logits)))) as tf.Scalar;
  }

  /**
   * max over the partners' joint replies of agent k's critic given `acts` for everyone else: each
   * enumerable partner in turn replies with the action that maximises Q given the rest.
   */
  private bestReply(k: number, b: Batch, acts: tf.Tensor2D[]): tf.Tensor2D {
    const a = [...acts];
    let q = this.critics[k].apply(tf.concat([b.state, ...a], 1) as tf.Tensor2D);
    for (let j = 0; j < a.length; j++) {
      if (j === k) continue;
      const choices = jointChoices(this.layout[j].codec.heads);
      if (choices.length > BEST_RESPONSE_MAX) continue;
      const qs = choices.map((row) => {
        const tiled = tf.tile(tf.tensor2d(row, [1, row.length]), [b.rows, 1]);
        return this.critics[k].apply(tf.concat([b.state, ...a.map((x, i) => (i === j ? tiled : x))], 1) as tf.Tensor2D);
      });
      const stacked = tf.concat(qs, 1);
      const best = tf.argMax(stacked, 1).dataSync();
      const reply = new Float32Array(b.rows * choices[0].length);
      best.forEach((c, r) => {
        reply.set(choices[c], r * choices[0].length);
      });
      a[j] = tf.tensor2d(reply, [b.rows, choices[0].length]);
      q = tf.max(stacked, 1, true) as tf.Tensor2D;
    }
    return q;
  }

  actorStep(k: number, b: Batch, rng: Rng): number {
    return minimizeAndClip(this.actorOpts[k], () => this.actorLoss(k, b, rng), this.cfg.gradClip, this.cfg.clipMode);
  }

  /** Shared actor: one step on the mean of every agent's actor loss (each on its own batch). */
  sharedActorStep(batches: Batch[], rng: Rng): number {
    const n = this.layout.length;
    return minimizeAndClip(
      this.actorOpts[0],
      () => tf.div(tf.addN(batches.map((b, k) => this.actorLoss(k, b, rng))), n) as tf.Scalar,
      this.cfg.gradClip,
      this.cfg.clipMode,
    );
  }

  softUpdateTargets(): void {
    this.actors.forEach((m, k) => {
      this.targetActors[k].softUpdateFrom(m, this.cfg.tau);
    });
    this.critics.forEach((m, k) => {
      this.targetCritics[k].softUpdateFrom(m, this.cfg.tau);
    });
  }

  /** Every network in a fixed order, named for checkpoints. */
  named(): [string, Mlp][] {
    return [
      ...this.actors.map((m, k) => [`actor/${k}`, m] as [string, Mlp]),
      ...this.targetActors.map((m, k) => [`target_actor/${k}`, m] as [string, Mlp]),
      ...this.critics.map((m, k) => [`critic/${k}`, m] as [string, Mlp]),
      ...this.targetCritics.map((m, k) => [`target_critic/${k}`, m] as [string, Mlp]),
    ];
  }

  namedOptimizers(): [string, Adam<Mlp>][] {
    return [
      ...this.actorOpts.map((o, k) => [`actor/${k}`, o] as [string, Adam<Mlp>]),
      ...this.criticOpts.map((o, k) => [`critic/${k}`, o] as [string, Adam<Mlp>]),
    ];
  }

  dispose(): void {
    for (const [, m] of this.named()) m.dispose();
  }
}

/** A sampled batch as tensors; `done`, `dt` stay on the host (they only scale the bootstrap). */
export interface Batch {
  rows: number;
  obs: tf.Tensor2D[];
  acts: tf.Tensor2D[];
  rew: tf.Tensor2D[];
  nextObs: tf.Tensor2D[];
  state: tf.Tensor2D;
  nextState: tf.Tensor2D;
  done: Float32Array[];
  dt: Float32Array;
}

// ─── 3. Training loop ───────────────────────────────────────────────────────────────────────────

/** What one `train` call reports through `onMetrics` (TensorBoard / CSV sinks plug in here). */
export type MetricsHook = (step: number, scalars: Record<string, number>) => void;

export interface TrainerCounters {
  /** Env steps taken. */
  step: number;
  /** Episodes started. */
  episode: number;
  /** Update rounds done. */
  updates: number;
}

export class MaddpgTrainer {
  readonly agents: string[];
  readonly layout: AgentLayout[];
  readonly stateDim: number;
  nets: MaddpgNetworks;
  buffer: ReplayBuffer;
  /** Streams: exploration noise, batch indices, Gumbel noise inside updates. */
  rngs: { act: Rng; sample: Rng; noise: Rng };
  counters: TrainerCounters = { step: 0, episode: 0, updates: 0 };
  /** Last losses, one per agent (NaN before the first update). */
  lastLosses: UpdateStats;
  // Within-episode state (null between episodes, which is where checkpoints resume exactly).
  private obs: Float32Array[] | null = null;
  private episodeStep = 0;
  private episodeReturn: number[] = [];

  constructor(
    readonly env: ParallelEnv<unknown, unknown>,
    config: Partial<MaddpgConfig> = {},
  ) {
    const cfg = resolveConfig(config);
    this.agents = [...env.possibleAgents];
    if (!this.agents.length) throw new Error('maddpg: the env has no agents');
    this.layout = this.agents.map((id) => ({
      id,
      obsDim: flatDim(env.observationSpace(id)),
      codec: actionCodec(env.actionSpace(id), `agent '${id}' action space`),
    }));
    this.stateDim = typeof env.state === 'function' && env.stateSpace ? env.stateSpace.size : this.layout.reduce((s, a) => s + a.obsDim, 0);
    this.nets = new MaddpgNetworks(this.layout, this.stateDim, cfg);
    const fields: Record<string, number> = { state: this.stateDim, next_state: this.stateDim, dt: 1 };
    this.layout.forEach((a, k) => {
      Object.assign(fields, { [`obs/${k}`]: a.obsDim, [`act/${k}`]: a.codec.width, [`rew/${k}`]: 1, [`next_obs/${k}`]: a.obsDim, [`done/${k}`]: 1 });
    });
    this.buffer = new ReplayBuffer(cfg.bufferSize, fields);
    this.rngs = { act: makeRng(`${cfg.seed}/act`), sample: makeRng(`${cfg.seed}/sample`), noise: makeRng(`${cfg.seed}/noise`) };
    this.lastLosses = { criticLoss: this.agents.map(() => Number.NaN), actorLoss: this.agents.map(() => Number.NaN) };
  }

  get cfg(): MaddpgConfig {
    return this.nets.cfg;
  }

  /** Whether the trainer sits between episodes (where a checkpoint resumes bit-exactly). */
  get betweenEpisodes(): boolean {
    return this.obs === null;
  }

  private flatObs(observations: Record<string, unknown>): Float32Array[] {
    return this.agents.map((id) => {
      if (!(id in observations)) throw new Error(`maddpg: no observation for agent '${id}' (an episode must keep every agent until it ends)`);
      return flatten(this.env.observationSpace(id), observations[id], `agent '${id}' observation`);
    });
  }

  private envState(obs: Float32Array[]): Float32Array {
    if (typeof this.env.state === 'function' && this.env.stateSpace) return this.env.state();
    const out = new Float32Array(this.stateDim);
    let off = 0;
    for (const o of obs) {
      out.set(o, off);
      off += o.length;
    }
    return out;
  }

  /** Advances `steps` env steps, learning as configured. */
  train(steps: number, onMetrics?: MetricsHook): void {
    const cfg = this.cfg;
    for (let s = 0; s < steps; s++) {
      // (a) Start an episode with a seed derived from the episode index.
      if (this.obs === null) {
        const { observations } = this.env.reset({ seed: deriveSeed(cfg.seed, `episode/${this.counters.episode}`) });
        this.counters.episode += 1;
        this.obs = this.flatObs(observations);
        this.episodeStep = 0;
        this.episodeReturn = this.agents.map(() => 0);
      }
      // (b) Act: Gumbel-max samples of each actor's categorical heads.
      const state = this.envState(this.obs);
      const heads = this.nets.act(this.obs, this.rngs.act);
      const actions: Record<string, unknown> = {};
      this.agents.forEach((id, k) => {
        actions[id] = this.layout[k].codec.decode(heads[k]);
      });
      // (c) Step the env.
      const res = this.env.step(actions);
      this.counters.step += 1;
      this.episodeStep += 1;
      const ended =
        this.agents.some((id) => res.terminations[id] || res.truncations[id]) || (cfg.maxEpisodeSteps > 0 && this.episodeStep >= cfg.maxEpisodeSteps);
      const nextObs = ended && !this.agents.every((id) => id in res.observations) ? this.obs : this.flatObs(res.observations);
      const nextState = this.envState(nextObs);
      const dt = Number(res.infos[this.agents[0]]?.dt ?? 1);
      // (d) Store the transition (actions as one-hot rows; done = terminated, not truncated).
      const row: Record<string, ArrayLike<number> | number> = { state, next_state: nextState, dt: Number.isFinite(dt) && dt >= 0 ? dt : 1 };
      this.agents.forEach((id, k) => {
        const onehot = new Float32Array(this.layout[k].codec.width);
        let off = 0;
        this.layout[k].codec.heads.forEach((n, h) => {
          onehot[off + heads[k][h]] = 1;
          off += n;
        });
        const r = Number(res.rewards[id] ?? 0);
        this.episodeReturn[k] += r;
        Object.assign(row, {
          [`obs/${k}`]: this.obs![k],
          [`act/${k}`]: onehot,
          [`rew/${k}`]: r,
          [`next_obs/${k}`]: nextObs[k],
          [`done/${k}`]: res.terminations[id] ? 1 : 0,
        });
      });
      this.buffer.add(row);
      this.obs = nextObs;
      // (e) Learn: every trainFreq steps once the buffer holds learningStarts transitions.
      if (this.buffer.size >= Math.max(cfg.learningStarts, 1) && this.counters.step % cfg.trainFreq === 0) {
        for (let g = 0; g < cfg.gradientSteps; g++) this.update();
        if (onMetrics) {
          const m: Record<string, number> = {};
          this.agents.forEach((id, k) => {
            m[`loss/critic/${id}`] = this.lastLosses.criticLoss[k];
            m[`loss/actor/${id}`] = this.lastLosses.actorLoss[k];
          });
          onMetrics(this.counters.step, m);
        }
      }
      // (f) Episode end.
      if (ended) {
        if (onMetrics) {
          const m: Record<string, number> = { 'episode/length': this.episodeStep };
          this.agents.forEach((id, k) => {
            m[`episode/return/${id}`] = this.episodeReturn[k];
          });
          onMetrics(this.counters.step, m);
        }
        this.obs = null;
      }
    }
  }

  private toBatch(raw: Record<string, Float32Array>, rows: number): Batch {
    const t = (k: string, d: number) => tf.tensor2d(raw[k], [rows, d]);
    return {
      rows,
      obs: this.layout.map((a, k) => t(`obs/${k}`, a.obsDim)),
      acts: this.layout.map((a, k) => t(`act/${k}`, a.codec.width)),
      rew: this.layout.map((_, k) => t(`rew/${k}`, 1)),
      nextObs: this.layout.map((a, k) => t(`next_obs/${k}`, a.obsDim)),
      state: t('state', this.stateDim),
      nextState: t('next_state', this.stateDim),
      done: this.layout.map((_, k) => raw[`done/${k}`]),
      dt: raw.dt,
    };
  }

  /** One update round: per agent a fresh batch, a critic step, an actor step; then soft target updates. */
  update(): UpdateStats {
    const { batchSize, optimismUpdates, actorDelay } = this.cfg;
    const stats: UpdateStats = { criticLoss: [], actorLoss: [] };
    const actorUpdates = this.counters.updates - actorDelay;
    const actors = actorUpdates >= 0;
    this.nets.optimism = optimismUpdates > 0 ? Math.max(0, 1 - Math.max(0, actorUpdates) / optimismUpdates) : 1;
    const batches: Batch[] = [];
    this.layout.forEach((_, k) => {
      const b = this.toBatch(this.buffer.sample(batchSize, this.rngs.sample), batchSize);
      batches.push(b);
      stats.criticLoss.push(this.nets.criticStep(k, b, this.rngs.noise));
      if (!this.cfg.shareActor) stats.actorLoss.push(actors ? this.nets.actorStep(k, b, this.rngs.noise) : Number.NaN);
    });
    if (this.cfg.shareActor && !actors) for (let k = 0; k < this.layout.length; k++) stats.actorLoss.push(Number.NaN);
    else if (this.cfg.shareActor) {
      const l = this.nets.sharedActorStep(batches, this.rngs.noise);
      for (let k = 0; k < this.layout.length; k++) stats.actorLoss.push(l);
    }
    this.nets.softUpdateTargets();
    for (const b of batches) tf.dispose([...b.obs, ...b.acts, ...b.rew, ...b.nextObs, b.state, b.nextState]);
    this.counters.updates += 1;
    this.lastLosses = stats;
    return stats;
  }

  /** The current actors as a Policy: greedy (argmax) by default, sampling with `explore`. */
  policy(opts: { explore?: boolean; seed?: number } = {}): Policy {
    const rng = opts.explore ? makeRng(`${opts.seed ?? 0}/policy`) : undefined;
    return {
      name: 'maddpg',
      act: (observations) => {
        const heads = this.nets.act(this.flatObs(observations), rng);
        const out: Record<string, unknown> = {};
        this.agents.forEach((id, k) => {
          out[id] = this.layout[k].codec.decode(heads[k]);
        });
        return out;
      },
    };
  }

  dispose(): void {
    this.nets.dispose();
  }
}
