import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../agents/backend.js';
import { actionCodec, flatten } from '../agents/codec.js';
import { gumbelNoise, gumbelSoftmax, headSoftmax, oneHotHeads, sampleHeads } from '../agents/gumbel.js';
import { type Batch, type MaddpgConfig, MaddpgNetworks, MaddpgTrainer, resolveConfig } from '../agents/maddpg.js';
import { Adam, clipGradient, Mlp, minimizeAndClip } from '../agents/nn.js';
import { ReplayBuffer } from '../agents/replay-buffer.js';
import { makeRng } from '../agents/rng.js';
import { CueGame, MatrixGame, OffsetGame } from '../agents/toy-envs.js';
import { Box, Dict, Discrete, MultiDiscrete } from '../env/spaces.js';
import { meanReturns } from '../experiments/harness/episode.js';

beforeAll(async () => {
  await initBackend('wasm', { log: () => {} });
});

/** Trains in chunks until the greedy policy reaches `target` of the optimum on a stopping set, or `maxSteps`. */
async function trainUntil(trainer: MaddpgTrainer, evalEnv: CueGame | OffsetGame, target: number, maxSteps: number, chunk = 250): Promise<number> {
  while (trainer.counters.step < maxSteps) {
    trainer.train(chunk);
    const r = (await meanReturns(evalEnv, trainer.policy(), { episodes: 20, seed: 1000 })).team;
    if (r >= target * evalEnv.optimalReturn()) break;
  }
  return trainer.counters.step;
}

const FAST = { batchSize: 64, learningStarts: 200, trainFreq: 2, hidden: [32, 32], maxEpisodeSteps: 0, bufferSize: 5000 };

describe('gumbel-softmax', () => {
  it('straight-through samples are one-hot per head and still pass gradients', () => {
    const heads = [3, 2];
    const logits = tf.tensor2d([0.1, 2, -1, 0.5, 0.2, 1, 1, 1, -3, 3], [2, 5]);
    const noise = tf.tensor2d(gumbelNoise(makeRng(1), 10), [2, 5]);
    const y = gumbelSoftmax(logits, noise, heads, { hard: true });
    const v = Array.from(y.dataSync());
    for (let r = 0; r < 2; r++) {
      const row = v.slice(5 * r, 5 * r + 5);
      expect(row.slice(0, 3).reduce((a, b) => a + b)).toBeCloseTo(1, 5);
      expect(row.slice(3).reduce((a, b) => a + b)).toBeCloseTo(1, 5);
      expect(row.every((x) => Math.abs(x) < 1e-6 || Math.abs(x - 1) < 1e-6)).toBe(true);
    }
    const w = tf.tensor2d([[1], [2], [3], [4], [5]]);
    const g = tf.grad((l: tf.Tensor) => tf.sum(tf.matMul(gumbelSoftmax(l as tf.Tensor2D, noise, heads, { hard: true }), w)))(logits);
    expect(Math.max(...Array.from(g.dataSync()).map(Math.abs))).toBeGreaterThan(1e-4);
    tf.dispose([logits, noise, y, w, g]);
  });

  it('soft samples are per-head distributions', () => {
    const logits = tf.tensor2d([[1, 2, 3, 0, 0]]);
    const s = headSoftmax(logits, [3, 2]).dataSync();
    expect(s[0] + s[1] + s[2]).toBeCloseTo(1, 5);
    expect(s[3]).toBeCloseTo(0.5, 5);
    expect(() => headSoftmax(logits, [3, 3])).toThrow(/do not tile/);
    logits.dispose();
  });

  it('Gumbel-max sampling matches softmax frequencies; no rng means argmax', () => {
    const logits = Float32Array.from([0, 1, 2]);
    const p = [0, 1, 2].map((x) => Math.exp(x) / (1 + Math.E + Math.E ** 2));
    const rng = makeRng('freq');
    const counts = [0, 0, 0];
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleHeads(logits, 1, [3], rng)[0]] += 1;
    counts.forEach((c, k) => {
      expect(Math.abs(c / n - p[k])).toBeLessThan(0.015);
    });
    expect(Array.from(sampleHeads(Float32Array.from([0, 5, 1, 3, 2]), 1, [3, 2]))).toEqual([1, 0]);
    expect(Array.from(oneHotHeads([2, 1], [3, 2]))).toEqual([0, 0, 1, 0, 1]);
  });
});

describe('replay buffer', () => {
  it('keeps the newest rows, samples reproducibly, and survives snapshot/restore', () => {
    const buf = new ReplayBuffer(5, { x: 2, r: 1 });
    for (let i = 0; i < 8; i++) buf.add({ x: [i, -i], r: i });
    expect(buf.size).toBe(5);
    const all = buf.gather(Int32Array.from([0, 1, 2, 3, 4]));
    expect(Array.from(all.r).sort()).toEqual([3, 4, 5, 6, 7]);
    const a = buf.sample(16, makeRng(3));
    const b = ReplayBuffer.restore(buf.snapshot()).sample(16, makeRng(3));
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(() => buf.add({ x: [1], r: 0 })).toThrow(/field 'x' has width 2/);
    expect(() => buf.add({ x: [1, 2] })).toThrow(/missing field 'r'/);
  });

  it('grows storage past its first allocation', () => {
    const buf = new ReplayBuffer(5000, { v: 1 });
    for (let i = 0; i < 3000; i++) buf.add({ v: i });
    expect(buf.gather(Int32Array.from([0, 2999])).v).toEqual(Float32Array.from([0, 2999]));
  });
});

describe('codec', () => {
  it('flattens Dict observations and round-trips MultiDiscrete / Dict actions', () => {
    const obs = new Dict({ q: new Box(0, 1, [2]), k: new Discrete(3, 1) });
    expect(Array.from(flatten(obs, { q: Float32Array.from([0.5, 1]), k: 2 }))).toEqual([0.5, 1, 0, 1, 0]);
    expect(() => flatten(obs, { q: [1, 2, 3], k: 1 }, "agent 'x'")).toThrow(/agent 'x'\.q/);
    const c = actionCodec(new Dict({ a: new Discrete(2), b: new MultiDiscrete([3, 4]) }));
    expect(c.heads).toEqual([2, 3, 4]);
    const act = c.decode([1, 2, 3]) as { a: number; b: Int32Array };
    expect(act.a).toBe(1);
    expect(Array.from(act.b)).toEqual([2, 3]);
    expect(Array.from(c.encode(act))).toEqual([1, 2, 3]);
    expect(() => actionCodec(new Box(0, 1, [2]), "agent 'y'")).toThrow(/agent 'y'.*not a discrete action space/);
  });
});

describe('networks and optimizer', () => {
  it('host forward pass equals the tfjs one; Adam minimises a regression; clipping bounds norms', () => {
    const net = new Mlp({ sizes: [3, 8, 2] }, 'nn-test');
    const x = Float32Array.from([0.3, -1, 2]);
    const viaTf = tf.tidy(() => net.apply(tf.tensor2d(x, [1, 3])).dataSync());
    const viaHost = net.forwardHost(x);
    for (let i = 0; i < 2; i++) expect(viaHost[i]).toBeCloseTo(viaTf[i], 5);

    const opt = new Adam(net, { lr: 1e-2 });
    const xs = tf.tensor2d([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1], [4, 3]);
    const ys = tf.tensor2d([1, -1, 2, 0, 0, 3, 1, 1], [4, 2]);
    const loss = () => tf.mean(tf.square(tf.sub(net.apply(xs), ys))) as tf.Scalar;
    const first = minimizeAndClip(opt, loss, 0, 'none');
    let last = first;
    for (let i = 0; i < 300; i++) last = minimizeAndClip(opt, loss, 0, 'none');
    expect(last).toBeLessThan(first * 0.05);
    tf.dispose([xs, ys]);
    net.dispose();

    const g = Float32Array.from([3, 4, 0, 6, 8]);
    clipGradient(
      g,
      [
        { name: 'a', offset: 0, shape: [2], size: 2 },
        { name: 'b', offset: 2, shape: [3], size: 3 },
      ],
      0.5,
      'per-variable',
    );
    expect(Math.hypot(g[0], g[1])).toBeCloseTo(0.5, 5);
    expect(Math.hypot(g[2], g[3], g[4])).toBeCloseTo(0.5, 5);
    const h = Float32Array.from([3, 4, 0, 6, 8]);
    clipGradient(h, [], 1, 'global');
    expect(Math.hypot(...h)).toBeCloseTo(1, 5);
    expect(h[1] / h[0]).toBeCloseTo(4 / 3, 5);
  });

  it('config errors name the field', () => {
    expect(() => resolveConfig({ batchSize: 0 })).toThrow(/'batchSize'/);
    expect(() => resolveConfig({ gamma: 2 })).toThrow(/'gamma'/);
    expect(resolveConfig().lr).toBe(1e-2);
    expect(resolveConfig().learningStarts).toBe(25600);
  });
});

describe('MADDPG', () => {
  it('discounts by gamma^dt and does not bootstrap terminal transitions', () => {
    const codec = actionCodec(new Discrete(2));
    const cfg = resolveConfig({ gamma: 0.5, hidden: [4], lr: 1e-9, gradClip: 0 });
    const nets = new MaddpgNetworks([{ id: 'a', obsDim: 1, codec }], 1, cfg);
    // Online critic ≡ 0, target critic ≡ 1: the TD loss is mean(y²) with y = r + γ^dt (1 − done).
    nets.critics[0].setParams(new Float32Array(nets.critics[0].numParams));
    const ones = new Float32Array(nets.targetCritics[0].numParams);
    ones[ones.length - 1] = 1;
    nets.targetCritics[0].setParams(ones);
    const t = (v: number[], c: number) => tf.tensor2d(v, [v.length / c, c]);
    const b: Batch = {
      rows: 3,
      obs: [t([0, 0, 0], 1)],
      acts: [t([1, 0, 0, 1, 1, 0], 2)],
      rew: [t([0, 0, 0], 1)],
      nextObs: [t([0, 0, 0], 1)],
      state: t([0, 0, 0], 1),
      nextState: t([0, 0, 0], 1),
      done: [Float32Array.from([0, 0, 1])],
      dt: Float32Array.from([1, 2, 1]),
    };
    const loss = nets.criticStep(0, b, makeRng(0));
    expect(loss).toBeCloseTo((0.5 ** 2 + 0.25 ** 2 + 0) / 3, 6);
    tf.dispose([...b.obs, ...b.acts, ...b.rew, ...b.nextObs, b.state, b.nextState]);
    nets.dispose();
  });

  it('solves the cue game to ≥ 95 % of the optimal return on 5 seeds', async () => {
    const random = new CueGame({ k: 3, steps: 10 }).randomReturn();
    for (const seed of [0, 1, 2, 3, 4]) {
      const trainer = new MaddpgTrainer(new CueGame({ k: 3, steps: 10, variableDt: true }), { seed, ...FAST });
      const evalEnv = new CueGame({ k: 3, steps: 10 });
      const steps = await trainUntil(trainer, evalEnv, 0.95, 2500);
      // Judge on episodes the stopping rule never saw.
      const r = (await meanReturns(evalEnv, trainer.policy(), { episodes: 50, seed: 5000 })).team;
      expect(r, `seed ${seed} after ${steps} steps`).toBeGreaterThanOrEqual(0.95 * evalEnv.optimalReturn());
      expect(r).toBeGreaterThan(5 * random);
      trainer.dispose();
    }
  });

  it('parameter sharing: one actor with an agent-id input solves the offset game', async () => {
    const trainer = new MaddpgTrainer(new OffsetGame({ n: 2, k: 3 }), { seed: 0, ...FAST, shareActor: true });
    expect(trainer.nets.actors.length).toBe(1);
    expect(trainer.nets.critics.length).toBe(2);
    const evalEnv = new OffsetGame({ n: 2, k: 3 });
    await trainUntil(trainer, evalEnv, 0.95, 2500);
    const r = (await meanReturns(evalEnv, trainer.policy(), { episodes: 50, seed: 5000 })).team;
    expect(r).toBeGreaterThanOrEqual(0.95 * evalEnv.optimalReturn());
    trainer.dispose();
    expect(() => new MaddpgTrainer(new CueGame(), { shareActor: true })).toThrow(/shareActor needs identical/);
  });

  it('leaks no tensors across training iterations', () => {
    const trainer = new MaddpgTrainer(new CueGame({ variableDt: true }), { seed: 7, ...FAST, learningStarts: 64, trainFreq: 1 });
    trainer.train(80);
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      trainer.train(20);
      counts.push(tf.memory().numTensors);
    }
    expect(trainer.counters.updates).toBeGreaterThan(100);
    expect(counts).toEqual(counts.map(() => before));
    trainer.dispose();
  });

  it('is deterministic for a seed', () => {
    const run = () => {
      const trainer = new MaddpgTrainer(new CueGame({ variableDt: true }), { seed: 11, ...FAST, learningStarts: 50 });
      const losses: number[] = [];
      trainer.train(150, (_s, m) => {
        if ('loss/critic/cued' in m) losses.push(m['loss/critic/cued'], m['loss/actor/blind']);
      });
      const params = Array.from(trainer.nets.actors[1].host);
      trainer.dispose();
      return { losses, params };
    };
    const a = run();
    const b = run();
    expect(a.losses.length).toBeGreaterThan(40);
    expect(b.losses).toEqual(a.losses);
    expect(b.params).toEqual(a.params);
  });
});

describe('MADDPG on games with relative overgeneralisation', () => {
  const BASE = { batchSize: 64, trainFreq: 1, learningStarts: 200, hidden: [16], maxEpisodeSteps: 0, bufferSize: 5000, lr: 1e-2, gamma: 0.95 };
  /** Greedy payoff after training, one per seed. */
  async function payoffs(game: string, cfg: Partial<MaddpgConfig>, steps = 3000): Promise<number[]> {
    const out: number[] = [];
    for (const seed of [0, 1, 2, 3, 4]) {
      const t = new MaddpgTrainer(MatrixGame.named(game), { seed, ...BASE, ...cfg });
      t.train(steps);
      out.push((await meanReturns(MatrixGame.named(game), t.policy(), { episodes: 1 })).team);
      t.dispose();
    }
    return out;
  }

  it('penalty game: TOP-faithful MADDPG settles on the safe action; lenient best-response coordination reaches an optimum on ≥ 4 of 5 seeds', async () => {
    const faithful = await payoffs('penalty', {});
    expect(faithful.filter((p) => p === 10).length).toBeLessThanOrEqual(2);
    const lenient = await payoffs('penalty', { otherActions: 'best-response', optimismUpdates: 1500, learningStarts: 500 });
    expect(lenient.filter((p) => p === 10).length, `payoffs ${lenient}`).toBeGreaterThanOrEqual(4);
  }, 300_000);

  it('climbing game: TOP-faithful MADDPG never finds the optimum (11); best-response coordination with a critic warm-up does on ≥ 4 of 5 seeds', async () => {
    const faithful = await payoffs('climbing', {});
    expect(faithful).not.toContain(11);
    // Without the warm-up the actors saturate on (1, 1) = 7 before the critic has learned the table.
    const optimistic = await payoffs('climbing', { otherActions: 'best-response', optimismUpdates: 2500, actorDelay: 500 }, 4000);
    expect(optimistic.filter((p) => p === 11).length, `payoffs ${optimistic}`).toBeGreaterThanOrEqual(4);
  }, 300_000);

  it('the coordination options are checked', () => {
    expect(() => new MaddpgTrainer(MatrixGame.named('climbing'), { otherActions: 'psychic' as never })).toThrow(
      /otherActions' must be 'buffer', 'current' or 'best-response'/,
    );
    expect(() => new MaddpgTrainer(MatrixGame.named('climbing'), { hysteresis: 0 })).toThrow(/hysteresis' must be in \(0, 1\]/);
    expect(() => new MaddpgTrainer(MatrixGame.named('climbing'), { actorDelay: -1 })).toThrow(/actorDelay' must be a non-negative integer, got -1/);
    expect(() => MatrixGame.named('chicken')).toThrow(/no matrix game 'chicken' \(games: climbing, penalty\)/);
  });
});
