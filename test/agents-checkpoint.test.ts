import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../agents/backend.js';
import { loadMaddpg, readCheckpoint, recoverCheckpoint, saveMaddpg, writeCheckpoint } from '../agents/checkpoint.js';
import { MaddpgTrainer } from '../agents/maddpg.js';
import { CueGame } from '../agents/toy-envs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'topsched-ckpt-'));
beforeAll(async () => {
  await initBackend('wasm', { log: () => {} });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CFG = { seed: 5, batchSize: 32, learningStarts: 60, trainFreq: 2, hidden: [16, 16], maxEpisodeSteps: 0, bufferSize: 150 };
const env = () => new CueGame({ k: 3, steps: 10, variableDt: true });

type Trace = number[][];
function record(trace: Trace) {
  return (step: number, m: Record<string, number>) => {
    if ('loss/critic/cued' in m) trace.push([step, m['loss/critic/cued'], m['loss/critic/blind'], m['loss/actor/cued'], m['loss/actor/blind']]);
  };
}

function weights(t: MaddpgTrainer): number[][] {
  return t.nets.named().map(([, net]) => Array.from(net.host));
}

describe('checkpoints', () => {
  it('N straight steps equal N/2 + save + load + N/2, loss for loss and weight for weight', () => {
    const N = 400; // 40 episodes of 10 steps; the buffer (150) wraps, so its ring state is exercised too
    const straight: Trace = [];
    const a = new MaddpgTrainer(env(), CFG);
    a.train(N, record(straight));

    const split: Trace = [];
    const b = new MaddpgTrainer(env(), CFG);
    b.train(N / 2, record(split));
    const dir = path.join(tmp, 'run');
    saveMaddpg(b, dir);
    const half = weights(b);
    b.dispose();
    const c = loadMaddpg(dir, env());
    expect(weights(c)).toEqual(half);
    expect(c.counters).toEqual({ step: N / 2, episode: N / 20, updates: split.length });
    c.train(N / 2, record(split));

    expect(straight.length).toBeGreaterThan(150);
    expect(split).toEqual(straight);
    expect(weights(c)).toEqual(weights(a));
    expect(c.nets.namedOptimizers().map(([, o]) => [o.step, Array.from(o.m)])).toEqual(a.nets.namedOptimizers().map(([, o]) => [o.step, Array.from(o.m)]));
    a.dispose();
    c.dispose();
  });

  it('recovers from a kill between the swap renames, prefers the newest complete leftover, and names every candidate when none is usable', () => {
    const dir = path.join(tmp, 'swap', 'latest');
    writeCheckpoint(dir, 'test', { v: 1 }, { x: Float32Array.from([1]) });
    writeCheckpoint(dir, 'test', { v: 2 }, { x: Float32Array.from([2]) });
    // Killed after `latest` became `latest.previous` and before the complete temporary was renamed.
    fs.rmSync(`${dir}.previous`, { recursive: true });
    fs.renameSync(dir, `${dir}.previous`);
    writeCheckpoint(path.join(tmp, 'swap', 'scratch'), 'test', { v: 3 }, { x: Float32Array.from([3]) });
    fs.renameSync(path.join(tmp, 'swap', 'scratch'), `${dir}.tmp-999-1`);
    // And an incomplete temporary of a write killed earlier.
    fs.mkdirSync(`${dir}.tmp-998-0`);
    fs.writeFileSync(`${dir}.tmp-998-0/arrays.bin`, 'partial');
    fs.utimesSync(`${dir}.tmp-998-0`, new Date(0), new Date(0));
    expect(fs.existsSync(dir)).toBe(false);
    expect(recoverCheckpoint(dir)).toBe(dir);
    expect(readCheckpoint(dir).meta).toEqual({ v: 3 });
    expect(fs.readdirSync(path.join(tmp, 'swap')).sort()).toEqual(['latest', 'latest.previous']);

    const empty = path.join(tmp, 'swap-none', 'latest');
    fs.mkdirSync(empty, { recursive: true });
    expect(() => recoverCheckpoint(empty)).toThrow(/no usable checkpoint: .*latest: .*no meta.json/);
  });

  it('replaces a checkpoint atomically, detects corruption, and refuses mid-episode saves', () => {
    const dir = path.join(tmp, 'atomic');
    writeCheckpoint(dir, 'test', { v: 1 }, { x: Float32Array.from([1, 2, 3]) });
    writeCheckpoint(dir, 'test', { v: 2 }, { x: Float32Array.from([4, 5]), y: Float32Array.from([6]) });
    const back = readCheckpoint(dir, 'test');
    expect(back.meta).toEqual({ v: 2 });
    expect(Array.from(back.arrays.y)).toEqual([6]);
    // The last two are kept: the new one and the one it replaced.
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('atomic'))).toEqual(['atomic', 'atomic.previous']);
    expect(readCheckpoint(`${dir}.previous`).meta).toEqual({ v: 1 });
    expect(() => readCheckpoint(dir, 'maddpg')).toThrow(/a 'test' checkpoint, expected 'maddpg'/);
    const bin = path.join(dir, 'arrays.bin');
    const bytes = fs.readFileSync(bin);
    bytes[0] ^= 0xff;
    fs.writeFileSync(bin, bytes);
    expect(() => readCheckpoint(dir)).toThrow(/SHA-256 .* corrupt/);
    expect(() => readCheckpoint(path.join(tmp, 'nope'))).toThrow(/no meta.json/);

    // A corrupt checkpoint is not used silently: recovery falls back to the previous one.
    const notes: string[] = [];
    expect(recoverCheckpoint(dir, (l) => notes.push(l))).toBe(dir);
    expect(readCheckpoint(dir).meta).toEqual({ v: 1 });
    expect(notes.join()).toMatch(/recovered the checkpoint from atomic.previous/);

    const t = new MaddpgTrainer(env(), CFG);
    t.train(5);
    expect(() => saveMaddpg(t, path.join(tmp, 'mid'))).toThrow(/mid-episode/);
    t.train(5);
    saveMaddpg(t, path.join(tmp, 'ok'));
    expect(() => loadMaddpg(path.join(tmp, 'ok'), new CueGame({ k: 4 }))).toThrow(/agent 'cued' had obs 3/);
    t.dispose();
  });
});
