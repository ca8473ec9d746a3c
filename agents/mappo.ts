/**
 * MAPPO (Yu et al. 2022, "The Surprising Effectiveness of PPO in Cooperative Multi-Agent Games"),
 * CleanRL-style: the config, the networks, then the training loop, top to bottom.
 *
 *  - One actor per agent on its own flattened observation, one categorical head per MultiDiscrete
 *    component (Discrete = one head); or one shared actor with the agent's one-hot id appended.
 *  - One centralised value network on the env's `state()` with one output per agent (the cooperative
 *    case has one shared reward, but the layout keeps agents' returns apart when they differ).
 *  - Rollouts from a vector env (env/vector.ts, same-step autoreset): `rolloutSteps` vector steps,
 *    then `epochs` passes of `minibatches` minibatches of the clipped surrogate, the clipped value
 *    loss on normalised returns (value normalisation, MAPPO's ValueNorm: a running mean and
 *    variance of the targets), the entropy bonus; global gradient clipping; Adam.
 *  - GAE(λ) with the semi-MDP discount γ^(dt/dtUnit) per step; truncated episodes bootstrap from
 *    V(final_state); `averageReward` switches to the average-reward (differential) criterion: the
 *    advantage uses r − ρ with ρ a running mean reward, and no discount (γ = 1).
 *
 * Exact resume: every `horizon` vector steps the trainer resets the vector env with a seed derived
 * from (config.seed, iteration); between iterations nothing else carries over, so a checkpoint taken
 * there (`betweenEpisodes`) resumes bit-exactly. A sub-env whose episode ends inside an iteration
 * autoresets on its own seeded sequence.
 */
import * as tf from '@tensorflow/tfjs';
import type { AgentID } from '../env/core.js';
import { flatDim } from '../env/spaces.js';
import type { VectorParallelEnv } from '../env/vector.js';
import { headLogProb, logSoftmaxHeads, RunningMoments, sampleCategorical } from './categorical.js';
import { type ActionCodec, actionCodec, flatten } from './codec.js';
import { Adam, Mlp, minimizeAndClip } from './nn.js';
import type { Policy } from './policy.js';
import { deriveSeed, makeRng, type Rng } from './rng.js';

// ─── 1. Config ──────────────────────────────────────────────────────────────────────────────────

export interface MappoConfig {
  seed: number;
  lr: number;
  gamma: number;
  gaeLambda: number;
  /** Vector steps per rollout (each gives numEnvs transitions per agent). */
  rolloutSteps: number;
  /** Vector steps between seeded resets of every sub-env (an iteration; checkpoints fall between). */
  horizon: number;
  epochs: number;
  minibatches: number;
  clip: number;
  /** Value clipping range on normalised values (0 = unclipped). */
  valueClip: number;
  entCoef: number;
  vfCoef: number;
  maxGradNorm: number;
  hidden: number[];
  activation: 'tanh' | 'relu';
  shareActor: boolean;
  /** Normalise value targets with running statistics (MAPPO's ValueNorm). */
  valueNorm: boolean;
  /** Discount per step is γ^(dt / dtUnit); dt from info.dt. */
  dtUnit: number;
  /** Average-reward criterion instead of the discounted one. */
  averageReward: boolean;
  /** Step size of the running average reward ρ (averageReward only). */
  rhoLr: number;
}

/** The MAPPO paper's defaults where they apply (lr 5e-4, γ 0.99, λ 0.95, clip 0.2, 10 grad-norm). */
export const MAPPO_DEFAULTS: MappoConfig = {
  seed: 0,
  lr: 5e-4,
  gamma: 0.99,
  gaeLambda: 0.95,
  rolloutSteps: 64,
  horizon: 512,
  epochs: 5,
  minibatches: 2,
  clip: 0.2,
  valueClip: 0.2,
  entCoef: 0.01,
  vfCoef: 1,
  maxGradNorm: 10,
  hidden: [64, 64],
  activation: 'tanh',
  shareActor: false,
  valueNorm: true,
  dtUnit: 1,
  averageReward: false,
  rhoLr: 0.1,
};

export function resolveMappoConfig(partial: Partial<MappoConfig> = {}): MappoConfig {
  const c = { ...MAPPO_DEFAULTS, ...partial, hidden: [...(partial.hidden ?? MAPPO_DEFAULTS.hidden)] };
  const bad = (k: keyof MappoConfig, why: string) => new Error(`mappo config '${k}' ${why}, got ${JSON.stringify(c[k])}`);
  for (const k of ['rolloutSteps', 'horizon', 'epochs', 'minibatches'] as const)
    if (!Number.isInteger(c[k]) || c[k] < 1) throw bad(k, 'must be a positive integer');
  if (!Number.isInteger(c.seed) || c.seed < 0) throw bad('seed', 'must be a non-negative integer');
  if (c.horizon % c.rolloutSteps !== 0) throw bad('horizon', `must be a multiple of rolloutSteps (${c.rolloutSteps})`);
  for (const k of ['lr', 'dtUnit', 'clip', 'rhoLr'] as const) if (!(c[k] > 0)) throw bad(k, 'must be > 0');
  for (const k of ['gamma', 'gaeLambda'] as const) if (!(c[k] >= 0 && c[k] <= 1)) throw bad(k, 'must be in [0, 1]');
  for (const k of ['valueClip', 'entCoef', 'vfCoef', 'maxGradNorm'] as const) if (!(c[k] >= 0)) throw bad(k, 'must be ≥ 0');
  if (c.activation !== 'tanh' && c.activation !== 'relu') throw bad('activation', "must be 'tanh' or 'relu'");
  if (!c.hidden.length || c.hidden.some((h) => !Number.isInteger(h) || h < 1)) throw bad('hidden', 'must be positive integers');
  return c;
}

// ─── 2. Networks ────────────────────────────────────────────────────────────────────────────────

interface AgentLayout {
  id: AgentID;
  obsDim: number;
  codec: ActionCodec;
}

export class MappoNetworks {
  readonly actors: Mlp[];
  readonly critic: Mlp;
  readonly actorOpts: Adam<Mlp>[];
  readonly criticOpt: Adam<Mlp>;

  constructor(
    readonly layout: AgentLayout[],
    readonly stateDim: number,
    readonly cfg: MappoConfig,
  ) {
    const n = layout.length;
    if (cfg.shareActor) {
      const bad = layout.find((a) => a.obsDim !== layout[0].obsDim || a.codec.heads.join() !== layout[0].codec.heads.join());
      if (bad) throw new Error(`mappo: shareActor needs identical observation and action layouts; agent '${bad.id}' differs from '${layout[0].id}'`);
    }
    const slots = cfg.shareActor ? [layout[0]] : layout;
    this.actors = slots.map(
      (a, k) =>
        new Mlp({ sizes: [a.obsDim + (cfg.shareActor ? n : 0), ...cfg.hidden, a.codec.width], activation: cfg.activation }, `${cfg.seed}/mappo/actor/${k}`),
    );
    this.critic = new Mlp({ sizes: [stateDim, ...cfg.hidden, n], activation: cfg.activation }, `${cfg.seed}/mappo/critic`);
    this.actorOpts = this.actors.map((m) => new Adam(m, { lr: cfg.lr, eps: 1e-5 }));
    this.criticOpt = new Adam(this.critic, { lr: cfg.lr, eps: 1e-5 });
  }

  actorOf(k: number): number {
    return this.cfg.shareActor ? 0 : k;
  }

  /** The actor's input row for agent k (observation, plus the agent one-hot when shared). */
  actorRow(k: number, obs: Float32Array): Float32Array {
    if (!this.cfg.shareActor) return obs;
    const row = new Float32Array(obs.length + this.layout.length);
    row.set(obs);
    row[obs.length + k] = 1;
    return row;
  }

  logitsHost(k: number, obs: Float32Array): Float32Array {
    return this.actors[this.actorOf(k)].forwardHost(this.actorRow(k, obs));
  }

  named(): [string, Mlp][] {
    return [...this.actors.map((m, k) => [`actor/${k}`, m] as [string, Mlp]), ['critic', this.critic]];
  }

  namedOptimizers(): [string, Adam<Mlp>][] {
    return [...this.actorOpts.map((o, k) => [`actor/${k}`, o] as [string, Adam<Mlp>]), ['critic', this.criticOpt]];
  }

  dispose(): void {
    for (const [, m] of this.named()) m.dispose();
  }
}

// ─── 3. Training loop ───────────────────────────────────────────────────────────────────────────

export type MetricsHook = (step: number, scalars: Record<string, number>) => void;

export interface MappoCounters {
  /** Env steps (vector steps × numEnvs). */
  step: number;
  /** Iterations started (seeded resets of the vector env). */
  episode: number;
  /** Rollouts learned from. */
  updates: number;
}

/** One rollout's storage: [t][env] rows, per agent where agent-specific. */
interface Rollout {
  obs: Float32Array[][][];
  acts: Int32Array[][][];
  logp: Float64Array[];
  values: Float64Array[];
  rewards: Float64Array[];
  /** Bootstrap from V(next) after step t (0 where the episode terminated there). */
  notDone: Float64Array[];
  /** Extra bootstrap value added after truncation (γ^dt V(final_state), denormalised), per agent. */
  boot: Float64Array[];
  discount: Float64Array[];
  states: Float32Array[][];
}

export class MappoTrainer {
  readonly agents: AgentID[];
  readonly layout: AgentLayout[];
  readonly stateDim: number;
  readonly numEnvs: number;
  nets: MappoNetworks;
  norm: RunningMoments;
  /** Running mean reward per agent (averageReward). */
  rho: Float64Array;
  rngs: { act: Rng; shuffle: Rng };
  counters: MappoCounters = { step: 0, episode: 0, updates: 0 };
  lastLosses: { criticLoss: number[]; actorLoss: number[]; entropy: number[] };
  private obs: Float32Array[][] | null = null;
  private states: Float32Array[] | null = null;
  private iterStep = 0;
  private rollout: Rollout | null = null;
  private episodeReturn: Float64Array;
  private episodeLength: Int32Array;

  constructor(
    readonly vec: VectorParallelEnv<unknown, unknown>,
    config: Partial<MappoConfig> = {},
  ) {
    const cfg = resolveMappoConfig(config);
    this.agents = [...vec.possibleAgents];
    if (!this.agents.length) throw new Error('mappo: the env has no agents');
    if (vec.metadata.autoresetMode !== 'same-step')
      throw new Error(`mappo: needs a vector env with autoreset 'same-step', got '${vec.metadata.autoresetMode}'`);
    this.numEnvs = vec.numEnvs;
    this.layout = this.agents.map((id) => ({
      id,
      obsDim: flatDim(vec.singleObservationSpace(id)),
      codec: actionCodec(vec.singleActionSpace(id), `agent '${id}' action space`),
    }));
    this.stateDim = vec.stateSpace.size;
    this.nets = new MappoNetworks(this.layout, this.stateDim, cfg);
    this.norm = new RunningMoments(this.agents.length);
    this.rho = new Float64Array(this.agents.length);
    this.rngs = { act: makeRng(`${cfg.seed}/mappo/act`), shuffle: makeRng(`${cfg.seed}/mappo/shuffle`) };
    const nan = () => this.agents.map(() => Number.NaN);
    this.lastLosses = { criticLoss: nan(), actorLoss: nan(), entropy: nan() };
    this.episodeReturn = new Float64Array(this.numEnvs);
    this.episodeLength = new Int32Array(this.numEnvs);
  }

  get cfg(): MappoConfig {
    return this.nets.cfg;
  }

  /** Between iterations: where a checkpoint resumes bit-exactly. */
  get betweenEpisodes(): boolean {
    return this.obs === null;
  }

  private flatObs(observations: Record<AgentID, unknown[]>): Float32Array[][] {
    return this.agents.map((id) => observations[id].map((o, i) => flatten(this.vec.singleObservationSpace(id), o, `sub-env ${i} agent '${id}' observation`)));
  }

  /** Normalised critic outputs → values in reward units, per agent, for each state row. */
  private valuesHost(state: Float32Array): Float64Array {
    const v = this.nets.critic.forwardHost(state);
    const out = new Float64Array(this.agents.length);
    for (let k = 0; k < out.length; k++) out[k] = this.cfg.valueNorm ? v[k] * this.norm.std(k) + this.norm.mean[k] : v[k];
    return out;
  }

  private stepDiscount(dt: unknown): number {
    if (this.cfg.averageReward) return 1;
    const d = Number(dt ?? 1);
    return this.cfg.gamma ** ((Number.isFinite(d) && d >= 0 ? d : 1) / this.cfg.dtUnit);
  }

  /** Advances at least `steps` env steps (whole vector steps), learning after each rollout. */
  train(steps: number, onMetrics?: MetricsHook): void {
    const cfg = this.cfg;
    const target = this.counters.step + steps;
    while (this.counters.step < target) {
      // (a) An iteration starts with a seeded reset of every sub-env.
      if (this.obs === null) {
        const r = this.vec.reset({ seed: deriveSeed(cfg.seed, `iteration/${this.counters.episode}`) });
        this.counters.episode += 1;
        this.obs = this.flatObs(r.observations as Record<AgentID, unknown[]>);
        this.states = r.states;
        this.iterStep = 0;
        this.episodeReturn.fill(0);
        this.episodeLength.fill(0);
      }
      if (this.rollout === null) this.rollout = { obs: [], acts: [], logp: [], values: [], rewards: [], notDone: [], boot: [], discount: [], states: [] };
      const ro = this.rollout;
      const obs = this.obs;
      const states = this.states!;
      const N = this.numEnvs;
      const A = this.agents.length;
      // (b) Act: sample each agent's heads from its actor, row by row on the host copy.
      const acts: Int32Array[][] = [];
      const logp = new Float64Array(N * A);
      const actions: Record<AgentID, unknown[]> = {};
      this.agents.forEach((id, k) => {
        acts.push([]);
        actions[id] = [];
        for (let i = 0; i < N; i++) {
          const logits = this.nets.logitsHost(k, obs[k][i]);
          const a = sampleCategorical(logits, this.layout[k].codec.heads, this.rngs.act);
          acts[k].push(a);
          logp[i * A + k] = headLogProb(logits, this.layout[k].codec.heads, a).logp;
          actions[id].push(this.layout[k].codec.decode(a));
        }
      });
      const values = new Float64Array(N * A);
      for (let i = 0; i < N; i++) values.set(this.valuesHost(states[i]), i * A);
      // (c) Step every sub-env.
      const res = this.vec.step(actions);
      this.counters.step += N;
      this.iterStep += 1;
      const rewards = new Float64Array(N * A);
      const notDone = new Float64Array(N * A);
      const boot = new Float64Array(N * A);
      const discount = new Float64Array(N);
      const ended: number[] = [];
      for (let i = 0; i < N; i++) {
        const info0 = res.infos[i][this.agents[0]] ?? {};
        discount[i] = this.stepDiscount(info0.final_info ? (info0.final_info as { dt?: number }).dt : info0.dt);
        let anyDone = false;
        this.agents.forEach((id, k) => {
          const r = res.rewards[id][i];
          rewards[i * A + k] = r;
          const term = res.terminations[id][i] === 1;
          const trunc = res.truncations[id][i] === 1;
          anyDone ||= term || trunc;
          notDone[i * A + k] = term || trunc ? 0 : 1;
          if (trunc && !term) {
            const fs = (res.infos[i][id]?.final_state as Float32Array | undefined) ?? res.states[i];
            boot[i * A + k] = discount[i] * this.valuesHost(fs)[k];
          }
        });
        this.episodeReturn[i] += rewards[i * A];
        this.episodeLength[i] += 1;
        if (anyDone) ended.push(i);
      }
      ro.obs.push(obs);
      ro.acts.push(acts);
      ro.logp.push(logp);
      ro.values.push(values);
      ro.rewards.push(rewards);
      ro.notDone.push(notDone);
      ro.boot.push(boot);
      ro.discount.push(discount);
      ro.states.push(states);
      this.obs = this.flatObs(res.observations as Record<AgentID, unknown[]>);
      this.states = res.states;
      if (onMetrics)
        for (const i of ended) {
          const m: Record<string, number> = { 'episode/length': this.episodeLength[i] };
          for (const id of this.agents) m[`episode/return/${id}`] = this.episodeReturn[i];
          onMetrics(this.counters.step, m);
          this.episodeReturn[i] = 0;
          this.episodeLength[i] = 0;
        }
      // (d) Learn when the rollout is full; end the iteration at the horizon.
      if (ro.obs.length === cfg.rolloutSteps) {
        this.update(ro, this.states);
        this.rollout = null;
        if (onMetrics) {
          const m: Record<string, number> = {};
          this.agents.forEach((id, k) => {
            m[`loss/critic/${id}`] = this.lastLosses.criticLoss[k];
            m[`loss/actor/${id}`] = this.lastLosses.actorLoss[k];
            m[`policy/entropy/${id}`] = this.lastLosses.entropy[k];
          });
          onMetrics(this.counters.step, m);
        }
        if (this.iterStep >= cfg.horizon) {
          this.obs = null;
          this.states = null;
        }
      }
    }
  }

  /** GAE over the rollout, then epochs × minibatches of PPO updates. */
  private update(ro: Rollout, lastStates: Float32Array[]): void {
    const cfg = this.cfg;
    const T = ro.obs.length;
    const N = this.numEnvs;
    const A = this.agents.length;
    const rows = T * N;
    // (1) Advantages and returns (in reward units), per agent.
    const adv = new Float64Array(rows * A);
    const ret = new Float64Array(rows * A);
    const nextV = new Float64Array(N * A);
    for (let i = 0; i < N; i++) nextV.set(this.valuesHost(lastStates[i]), i * A);
    if (cfg.averageReward) {
      for (let k = 0; k < A; k++) {
        let s = 0;
        for (let t = 0; t < T; t++) for (let i = 0; i < N; i++) s += ro.rewards[t][i * A + k];
        this.rho[k] += cfg.rhoLr * (s / rows - this.rho[k]);
      }
    }
    const last = new Float64Array(N * A);
    for (let t = T - 1; t >= 0; t--) {
      for (let i = 0; i < N; i++) {
        const g = ro.discount[t][i];
        for (let k = 0; k < A; k++) {
          const j = i * A + k;
          const vNext = t === T - 1 ? nextV[j] : ro.values[t + 1][j];
          const r = ro.rewards[t][j] - (cfg.averageReward ? this.rho[k] : 0);
          const nd = ro.notDone[t][j];
          const delta = r + ro.boot[t][j] + g * vNext * nd - ro.values[t][j];
          last[j] = delta + g * cfg.gaeLambda * nd * last[j];
          adv[(t * N + i) * A + k] = last[j];
          ret[(t * N + i) * A + k] = last[j] + ro.values[t][j];
        }
      }
    }
    // (2) Value targets normalised with statistics that include this rollout (ValueNorm).
    const oldV = new Float32Array(rows * A);
    const target = new Float32Array(rows * A);
    if (cfg.valueNorm) {
      for (let k = 0; k < A; k++) {
        const col = new Float64Array(rows);
        for (let r = 0; r < rows; r++) col[r] = ret[r * A + k];
        this.norm.update(k, col);
      }
      this.norm.commit(rows);
    }
    for (let r = 0; r < rows; r++) {
      const t = Math.floor(r / N);
      const i = r % N;
      for (let k = 0; k < A; k++) {
        const v = ro.values[t][i * A + k];
        const norm = (x: number) => (cfg.valueNorm ? (x - this.norm.mean[k]) / this.norm.std(k) : x);
        oldV[r * A + k] = norm(v);
        target[r * A + k] = norm(ret[r * A + k]);
      }
    }
    // (3) Flat batches: states, per-agent actor inputs, one-hot actions, old log-probs.
    const stateRows = new Float32Array(rows * this.stateDim);
    for (let r = 0; r < rows; r++) stateRows.set(ro.states[Math.floor(r / N)][r % N], r * this.stateDim);
    const actorIn = this.layout.map((_, k) => {
      const w = this.nets.actors[this.nets.actorOf(k)].inputSize;
      const x = new Float32Array(rows * w);
      for (let r = 0; r < rows; r++) x.set(this.nets.actorRow(k, ro.obs[Math.floor(r / N)][k][r % N]), r * w);
      return { x, w };
    });
    const oneHot = this.layout.map((a, k) => {
      const x = new Float32Array(rows * a.codec.width);
      for (let r = 0; r < rows; r++) {
        const idx = ro.acts[Math.floor(r / N)][k][r % N];
        let off = r * a.codec.width;
        a.codec.heads.forEach((n, h) => {
          x[off + idx[h]] = 1;
          off += n;
        });
      }
      return x;
    });
    const oldLogp = this.layout.map((_, k) => {
      const x = new Float32Array(rows);
      for (let r = 0; r < rows; r++) x[r] = ro.logp[Math.floor(r / N)][(r % N) * A + k];
      return x;
    });
    // (4) Epochs of shuffled minibatches.
    const mbSize = Math.max(1, Math.floor(rows / cfg.minibatches));
    const stats = { criticLoss: new Array(A).fill(0), actorLoss: new Array(A).fill(0), entropy: new Array(A).fill(0) };
    let mbs = 0;
    const order = Int32Array.from({ length: rows }, (_, r) => r);
    for (let e = 0; e < cfg.epochs; e++) {
      for (let r = rows - 1; r > 0; r--) {
        const j = Math.floor(this.rngs.shuffle() * (r + 1));
        [order[r], order[j]] = [order[j], order[r]];
      }
      for (let start = 0; start + mbSize <= rows; start += mbSize) {
        const idx = order.subarray(start, start + mbSize);
        mbs++;
        const pick = (src: Float32Array, w: number) => {
          const out = new Float32Array(idx.length * w);
          idx.forEach((r, q) => {
            out.set(src.subarray(r * w, r * w + w), q * w);
          });
          return out;
        };
        // Critic: clipped value loss on normalised targets, every agent's column at once.
        const s = pick(stateRows, this.stateDim);
        const ov = pick(oldV, A);
        const tg = pick(target, A);
        const cl = minimizeAndClip(
          this.nets.criticOpt,
          () =>
            tf.tidy(() => {
              const v = this.nets.critic.apply(tf.tensor2d(s, [idx.length, this.stateDim]));
              const tgt = tf.tensor2d(tg, [idx.length, A]);
              const l1 = tf.square(tf.sub(v, tgt));
              if (!(cfg.valueClip > 0)) return tf.mul(cfg.vfCoef, tf.mean(l1)) as tf.Scalar;
              const old = tf.tensor2d(ov, [idx.length, A]);
              const vc = tf.add(old, tf.clipByValue(tf.sub(v, old), -cfg.valueClip, cfg.valueClip));
              const l2 = tf.square(tf.sub(vc, tgt));
              return tf.mul(cfg.vfCoef, tf.mean(tf.maximum(l1, l2))) as tf.Scalar;
            }),
          cfg.maxGradNorm,
          'global',
        );
        for (let k = 0; k < A; k++) stats.criticLoss[k] += cl;
        // Actors: clipped surrogate with per-minibatch advantage normalisation, entropy bonus.
        const actorLoss = (k: number, out: { ent: number }) => {
          const a = this.layout[k];
          const x = pick(actorIn[k].x, actorIn[k].w);
          const oh = pick(oneHot[k], a.codec.width);
          const olp = new Float32Array(idx.length);
          const ad = new Float32Array(idx.length);
          idx.forEach((r, q) => {
            olp[q] = oldLogp[k][r];
            ad[q] = adv[r * A + k];
          });
          let m = 0;
          for (const v of ad) m += v;
          m /= ad.length;
          let sd = 0;
          for (const v of ad) sd += (v - m) ** 2;
          sd = Math.sqrt(sd / ad.length) + 1e-8;
          for (let q = 0; q < ad.length; q++) ad[q] = (ad[q] - m) / sd;
          return tf.tidy(() => {
            const logits = this.nets.actors[this.nets.actorOf(k)].apply(tf.tensor2d(x, [idx.length, actorIn[k].w]));
            const lsm = logSoftmaxHeads(logits, a.codec.heads);
            const newLogp = tf.sum(tf.mul(lsm, tf.tensor2d(oh, [idx.length, a.codec.width])), 1);
            const ratio = tf.exp(tf.sub(newLogp, tf.tensor1d(olp)));
            const advT = tf.tensor1d(ad);
            const surr = tf.minimum(tf.mul(ratio, advT), tf.mul(tf.clipByValue(ratio, 1 - cfg.clip, 1 + cfg.clip), advT));
            const entropy = tf.neg(tf.mean(tf.sum(tf.mul(tf.exp(lsm), lsm), 1)));
            out.ent = entropy.dataSync()[0];
            return tf.sub(tf.neg(tf.mean(surr)), tf.mul(cfg.entCoef, entropy)) as tf.Scalar;
          });
        };
        if (cfg.shareActor) {
          const ents = this.agents.map(() => ({ ent: 0 }));
          const l = minimizeAndClip(
            this.nets.actorOpts[0],
            () => tf.div(tf.addN(this.agents.map((_, k) => actorLoss(k, ents[k]))), A) as tf.Scalar,
            cfg.maxGradNorm,
            'global',
          );
          for (let k = 0; k < A; k++) {
            stats.actorLoss[k] += l;
            stats.entropy[k] += ents[k].ent;
          }
        } else
          for (let k = 0; k < A; k++) {
            const ent = { ent: 0 };
            stats.actorLoss[k] += minimizeAndClip(this.nets.actorOpts[k], () => actorLoss(k, ent), cfg.maxGradNorm, 'global');
            stats.entropy[k] += ent.ent;
          }
      }
    }
    const d = Math.max(1, mbs);
    this.lastLosses = {
      criticLoss: stats.criticLoss.map((x) => x / d),
      actorLoss: stats.actorLoss.map((x) => x / d),
      entropy: stats.entropy.map((x) => x / d),
    };
    this.counters.updates += 1;
  }

  /** The current actors as a Policy on one (non-vector) env: greedy by default, sampling with `explore`. */
  policy(opts: { explore?: boolean; seed?: number; name?: string } = {}): Policy {
    const rng = opts.explore ? makeRng(`${opts.seed ?? 0}/mappo/policy`) : undefined;
    return {
      name: opts.name ?? 'mappo',
      act: (observations) => {
        const out: Record<string, unknown> = {};
        this.agents.forEach((id, k) => {
          if (!(id in observations)) return;
          const o = flatten(this.vec.singleObservationSpace(id), observations[id], `agent '${id}' observation`);
          out[id] = this.layout[k].codec.decode(sampleCategorical(this.nets.logitsHost(k, o), this.layout[k].codec.heads, rng));
        });
        return out;
      },
    };
  }

  dispose(): void {
    this.nets.dispose();
  }
}
