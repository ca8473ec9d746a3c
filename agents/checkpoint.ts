/**
 * Checkpoints: a folder with `meta.json` (config, counters, RNG states, the layout of every array)
 * and `arrays.bin` (every Float32Array back to back, little-endian), written atomically — the
 * folder is built under a temporary name, synced, then renamed into place, so a crash leaves
 * either the old checkpoint or the new one, never a mix. The JSON records the SHA-256 of the
 * binary, checked on load.
 *
 * `saveMaddpg` / `loadMaddpg` capture a MADDPG trainer completely: networks and targets, Adam
 * moments and step counts, the replay buffer, the RNG streams, the step / episode / update
 * counters. A trainer saved between episodes and loaded again continues exactly as if it had never
 * stopped (the env is re-seeded per episode from the episode index).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ParallelEnv } from '../env/core.js';
import { type MaddpgConfig, MaddpgTrainer } from './maddpg.js';
import { ReplayBuffer } from './replay-buffer.js';
import { type RngState, restoreRng } from './rng.js';

const FORMAT = 'topsched.checkpoint/1';

interface ArrayEntry {
  key: string;
  /** Offset in arrays.bin, in float32 elements. */
  offset: number;
  length: number;
}

/** Writes `meta` and `arrays` to `dir` atomically (replacing an existing checkpoint there). */
export function writeCheckpoint(dir: string, kind: string, meta: Record<string, unknown>, arrays: Record<string, Float32Array>): void {
  const entries: ArrayEntry[] = [];
  let total = 0;
  for (const [key, a] of Object.entries(arrays)) {
    entries.push({ key, offset: total, length: a.length });
    total += a.length;
  }
  const bin = new Float32Array(total);
  for (const e of entries) bin.set(arrays[e.key], e.offset);
  const bytes = new Uint8Array(bin.buffer, bin.byteOffset, bin.byteLength);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const doc = { format: FORMAT, kind, littleEndian: true, arrays: entries, sha256, meta };

  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = `${path.resolve(dir)}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp);
  const writeSynced = (file: string, data: Uint8Array) => {
    const fd = fs.openSync(path.join(tmp, file), 'w');
    try {
      for (let at = 0; at < data.byteLength; ) at += fs.writeSync(fd, data, at, data.byteLength - at);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  };
  writeSynced('arrays.bin', bytes);
  writeSynced('meta.json', Buffer.from(`${JSON.stringify(doc, null, 1)}\n`, 'utf8'));
  // A directory cannot be renamed over a non-empty one: move the old one aside first.
  const old = `${path.resolve(dir)}.old-${process.pid}-${Date.now()}`;
  const hadOld = fs.existsSync(dir);
  if (hadOld) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  if (hadOld) fs.rmSync(old, { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  kind: string;
  meta: Record<string, unknown>;
  arrays: Record<string, Float32Array>;
}

export function readCheckpoint(dir: string, expectKind?: string): LoadedCheckpoint {
  const metaPath = path.join(dir, 'meta.json');
  if (!fs.existsSync(metaPath)) throw new Error(`${dir}: not a checkpoint (no meta.json)`);
  let doc: { format?: string; kind?: string; arrays?: ArrayEntry[]; sha256?: string; meta?: Record<string, unknown> };
  try {
    doc = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
  } catch (e) {
    throw new Error(`${metaPath}: invalid JSON: ${(e as Error).message}`);
  }
  if (doc.format !== FORMAT) throw new Error(`${metaPath}: format is ${JSON.stringify(doc.format)}, expected '${FORMAT}'`);
  if (expectKind && doc.kind !== expectKind) throw new Error(`${metaPath}: a '${doc.kind}' checkpoint, expected '${expectKind}'`);
  const raw = fs.readFileSync(path.join(dir, 'arrays.bin'));
  const sha = createHash('sha256').update(raw).digest('hex');
  if (sha !== doc.sha256) throw new Error(`${dir}/arrays.bin: SHA-256 ${sha} does not match meta.json (${doc.sha256}); the checkpoint is corrupt`);
  if (raw.byteLength % 4) throw new Error(`${dir}/arrays.bin: ${raw.byteLength} bytes is not a whole number of float32`);
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const arrays: Record<string, Float32Array> = {};
  for (const e of doc.arrays ?? []) {
    if (e.offset + e.length > all.length) throw new Error(`${metaPath}: array '${e.key}' runs past the end of arrays.bin`);
    arrays[e.key] = all.slice(e.offset, e.offset + e.length);
  }
  return { kind: doc.kind ?? '', meta: doc.meta ?? {}, arrays };
}

// ─── MADDPG ─────────────────────────────────────────────────────────────────────────────────────

interface MaddpgMeta {
  config: MaddpgConfig;
  agents: string[];
  layout: { obsDim: number; heads: number[] }[];
  stateDim: number;
  counters: MaddpgTrainer['counters'];
  rngs: Record<'act' | 'sample' | 'noise', RngState>;
  lastLosses: MaddpgTrainer['lastLosses'];
  optimizerSteps: Record<string, number>;
  replay: { capacity: number; fields: Record<string, number>; size: number; next: number };
}

/** Saves a trainer. Refuses mid-episode (the env's inner state is not captured) unless allowed. */
export function saveMaddpg(trainer: MaddpgTrainer, dir: string, opts: { allowMidEpisode?: boolean } = {}): void {
  if (!trainer.betweenEpisodes && !opts.allowMidEpisode)
    throw new Error(`saveMaddpg(${dir}): the trainer is mid-episode; save between episodes for an exact resume (or pass allowMidEpisode)`);
  const arrays: Record<string, Float32Array> = {};
  for (const [name, net] of trainer.nets.named()) arrays[`net/${name}`] = net.host;
  const optimizerSteps: Record<string, number> = {};
  for (const [name, opt] of trainer.nets.namedOptimizers()) {
    arrays[`adam/${name}/m`] = opt.m;
    arrays[`adam/${name}/v`] = opt.v;
    optimizerSteps[name] = opt.step;
  }
  const snap = trainer.buffer.snapshot();
  for (const [k, a] of Object.entries(snap.data)) arrays[`replay/${k}`] = a;
  const meta: MaddpgMeta = {
    config: trainer.cfg,
    agents: trainer.agents,
    layout: trainer.layout.map((a) => ({ obsDim: a.obsDim, heads: a.codec.heads })),
    stateDim: trainer.stateDim,
    counters: { ...trainer.counters },
    rngs: { act: trainer.rngs.act.state(), sample: trainer.rngs.sample.state(), noise: trainer.rngs.noise.state() },
    lastLosses: trainer.lastLosses,
    optimizerSteps,
    replay: { capacity: snap.capacity, fields: snap.fields, size: snap.size, next: snap.next },
  };
  writeCheckpoint(dir, 'maddpg', meta as unknown as Record<string, unknown>, arrays);
}

/** Rebuilds a trainer on `env` from a checkpoint; the env must have the same agents and spaces. */
export function loadMaddpg(dir: string, env: ParallelEnv<unknown, unknown>): MaddpgTrainer {
  const { meta: rawMeta, arrays } = readCheckpoint(dir, 'maddpg');
  const meta = rawMeta as unknown as MaddpgMeta;
  const trainer = new MaddpgTrainer(env, meta.config);
  const where = `checkpoint ${dir}`;
  if (trainer.agents.join() !== meta.agents.join()) throw new Error(`${where}: saved agents [${meta.agents}], env has [${trainer.agents}]`);
  trainer.layout.forEach((a, k) => {
    const s = meta.layout[k];
    if (a.obsDim !== s.obsDim || a.codec.heads.join() !== s.heads.join())
      throw new Error(`${where}: agent '${a.id}' had obs ${s.obsDim} / heads [${s.heads}], env gives obs ${a.obsDim} / heads [${a.codec.heads}]`);
  });
  if (trainer.stateDim !== meta.stateDim) throw new Error(`${where}: state width ${meta.stateDim}, env gives ${trainer.stateDim}`);
  const need = (key: string) => {
    const a = arrays[key];
    if (!a) throw new Error(`${where}: missing array '${key}'`);
    return a;
  };
  for (const [name, net] of trainer.nets.named()) net.setParams(need(`net/${name}`));
  for (const [name, opt] of trainer.nets.namedOptimizers())
    opt.setState({ step: meta.optimizerSteps[name], m: need(`adam/${name}/m`), v: need(`adam/${name}/v`) }, `${where} optimizer '${name}'`);
  const data: Record<string, Float32Array> = {};
  for (const k of Object.keys(meta.replay.fields)) data[k] = need(`replay/${k}`);
  trainer.buffer = ReplayBuffer.restore({ ...meta.replay, data }, `${where} replay buffer`);
  trainer.rngs = {
    act: restoreRng(meta.rngs.act, `${where} rngs.act`),
    sample: restoreRng(meta.rngs.sample, `${where} rngs.sample`),
    noise: restoreRng(meta.rngs.noise, `${where} rngs.noise`),
  };
  trainer.counters = { ...meta.counters };
  // JSON has no NaN: losses before the first update come back as null.
  const num = (xs: (number | null)[]) => xs.map((x) => (x === null ? Number.NaN : x));
  trainer.lastLosses = { criticLoss: num(meta.lastLosses.criticLoss), actorLoss: num(meta.lastLosses.actorLoss) };
  return trainer;
}
