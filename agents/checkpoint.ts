/**
 * Checkpoints: a folder with `meta.json` (config, counters, RNG states, the layout of every array)
 * and `arrays.bin` (every Float32Array back to back, little-endian), written atomically — the
 * folder is built under a temporary name, synced, then renamed into place, so a crash leaves
 * either the old checkpoint or the new one, never a mix. The last two are kept (`<dir>` and
 * `<dir>.previous`); `recoverCheckpoint` finds a complete one after a crash at any point of the
 * swap. The JSON records the SHA-256 of the binary, checked on load.
 *
 * `saveMaddpg` / `loadMaddpg` capture a MADDPG trainer completely: networks and targets, Adam
 * moments and step counts, the replay buffer, the RNG streams, the step / episode / update
 * counters. `saveMappo` / `loadMappo` do the same for MAPPO (no replay buffer; its value-normalisation
 * statistics instead). A trainer saved between episodes and loaded again continues exactly as if it had never
 * stopped (the env is re-seeded per episode from the episode index).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ParallelEnv } from '../env/core.js';
import type { VectorParallelEnv } from '../env/vector.js';
import { type MaddpgConfig, MaddpgTrainer } from './maddpg.js';
import { type MappoConfig, MappoTrainer } from './mappo.js';
import type { Adam, Mlp } from './nn.js';
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
  syncDir(tmp);
  // A directory cannot be renamed over a non-empty one. The current checkpoint becomes the
  // previous one (the one before that is dropped) only now that the new one is complete; a kill
  // between the two renames leaves `<dir>.previous` and the complete temporary, which
  // recoverCheckpoint finds.
  const target = path.resolve(dir);
  const previous = `${target}.previous`;
  if (fs.existsSync(target)) {
    fs.rmSync(previous, { recursive: true, force: true });
    fs.renameSync(target, previous);
  }
  fs.renameSync(tmp, target);
  syncDir(parent);
  removeStale(target, tmp);
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some file systems cannot sync a directory; the renames are still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Leftovers of earlier writes beside `target` (`.tmp-*`, `.old-*`), newest first. */
function leftovers(target: string): string[] {
  const parent = path.dirname(target);
  const base = path.basename(target);
  if (!fs.existsSync(parent)) return [];
  return fs
    .readdirSync(parent)
    .filter((f) => f.startsWith(`${base}.tmp-`) || f.startsWith(`${base}.old-`))
    .map((f) => path.join(parent, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
}

/** Removes temporaries of writes that can no longer finish (all but `keep`). */
function removeStale(target: string, keep?: string): void {
  for (const f of leftovers(target)) if (f !== keep) fs.rmSync(f, { recursive: true, force: true });
}

/** Whether `dir` holds a complete checkpoint (meta.json parses, arrays.bin matches its SHA-256). */
export function checkpointError(dir: string): string | null {
  try {
    readCheckpoint(dir);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * The checkpoint to resume from at `dir`: `dir` itself when complete; else the newest complete
 * leftover of an interrupted swap (`.tmp-*`, `.old-*`), else `<dir>.previous`. A recovered one is
 * moved into place as `dir`, stale temporaries are removed, and `note` says what happened. Throws
 * naming every candidate and its problem when none is usable.
 */
export function recoverCheckpoint(dir: string, note: (line: string) => void = () => {}): string {
  const target = path.resolve(dir);
  const problems: string[] = [];
  const current = fs.existsSync(target) ? checkpointError(target) : 'missing';
  if (current === null) {
    removeStale(target);
    return target;
  }
  problems.push(`${target}: ${current}`);
  for (const candidate of [...leftovers(target), `${target}.previous`]) {
    if (!fs.existsSync(candidate)) continue;
    const err = checkpointError(candidate);
    if (err) {
      problems.push(`${candidate}: ${err}`);
      continue;
    }
    if (fs.existsSync(target)) fs.renameSync(target, `${target}.corrupt-${Date.now()}`);
    if (candidate.endsWith('.previous')) fs.cpSync(candidate, target, { recursive: true });
    else fs.renameSync(candidate, target);
    removeStale(target);
    note(`recovered the checkpoint from ${path.basename(candidate)} (${path.basename(target)} was ${current})`);
    return target;
  }
  throw new Error(`no usable checkpoint: ${problems.join('; ')}`);
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
    if (!doc || typeof doc !== 'object') throw new Error(`expected an object, got ${JSON.stringify(doc)}`);
  } catch (e) {
    throw new Error(`${metaPath}: invalid JSON: ${(e as Error).message}`);
  }
  if (doc.format !== FORMAT) throw new Error(`${metaPath}: format is ${JSON.stringify(doc.format)}, expected '${FORMAT}'`);
  if (expectKind && doc.kind !== expectKind) throw new Error(`${metaPath}: a '${doc.kind}' checkpoint, expected '${expectKind}'`);
  let raw: Buffer;
  try {
    raw = fs.readFileSync(path.join(dir, 'arrays.bin'));
  } catch (e) {
    throw new Error(`${dir}/arrays.bin: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
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

/** Every network's parameters and every Adam state of a trainer, as checkpoint arrays (restoreCommon reads them back). */
function networkArrays(trainer: Pick<CommonTrainer, 'nets'>): { arrays: Record<string, Float32Array>; optimizerSteps: Record<string, number> } {
  const arrays: Record<string, Float32Array> = {};
  for (const [name, net] of trainer.nets.named()) arrays[`net/${name}`] = net.host;
  const optimizerSteps: Record<string, number> = {};
  for (const [name, opt] of trainer.nets.namedOptimizers()) {
    arrays[`adam/${name}/m`] = opt.m;
    arrays[`adam/${name}/v`] = opt.v;
    optimizerSteps[name] = opt.step;
  }
  return { arrays, optimizerSteps };
}

/** Saves a trainer. Refuses mid-episode (the env's inner state is not captured) unless allowed. */
export function saveMaddpg(trainer: MaddpgTrainer, dir: string, opts: { allowMidEpisode?: boolean } = {}): void {
  if (!trainer.betweenEpisodes && !opts.allowMidEpisode)
    throw new Error(`saveMaddpg(${dir}): the trainer is mid-episode; save between episodes for an exact resume (or pass allowMidEpisode)`);
  const { arrays, optimizerSteps } = networkArrays(trainer);
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

/** What both checkpoint kinds store of their trainer's layout, networks and optimizers. */
interface CommonMeta {
  agents: string[];
  layout: { obsDim: number; heads: number[] }[];
  stateDim: number;
  optimizerSteps: Record<string, number>;
}

interface CommonTrainer {
  agents: string[];
  layout: { id: string; obsDim: number; codec: { heads: number[] } }[];
  stateDim: number;
  nets: { named(): [string, { host: Float32Array; setParams(v: Float32Array): void }][]; namedOptimizers(): [string, Adam<Mlp>][] };
}

/**
 * Checks a rebuilt trainer's agents, layouts and state width against the checkpoint, then restores
 * every network and Adam state; returns the array lookup (missing arrays are errors naming them).
 */
function restoreCommon(trainer: CommonTrainer, meta: CommonMeta, arrays: Record<string, Float32Array>, where: string): (key: string) => Float32Array {
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
  return need;
}

/** Rebuilds a trainer on `env` from a checkpoint; the env must have the same agents and spaces. */
export function loadMaddpg(dir: string, env: ParallelEnv<unknown, unknown>): MaddpgTrainer {
  const { meta: rawMeta, arrays } = readCheckpoint(dir, 'maddpg');
  const meta = rawMeta as unknown as MaddpgMeta;
  const trainer = new MaddpgTrainer(env, meta.config);
  const where = `checkpoint ${dir}`;
  const need = restoreCommon(trainer, meta, arrays, where);
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

interface MappoMeta {
  config: MappoConfig;
  agents: string[];
  layout: { obsDim: number; heads: number[] }[];
  stateDim: number;
  numEnvs: number;
  counters: MappoTrainer['counters'];
  rngs: Record<'act' | 'shuffle', RngState>;
  lastLosses: MappoTrainer['lastLosses'];
  optimizerSteps: Record<string, number>;
  /** Float64 statistics as JSON numbers (exact round trip). */
  norm: { mean: number[]; var: number[]; count: number };
  rho: number[];
}

/**
 * Saves a MAPPO trainer. Exact resume needs a save between iterations (the vector env's sub-envs
 * are not captured); `allowMidIteration` saves anyway, and the loaded trainer starts a new
 * iteration (a final checkpoint, as MADDPG's mid-episode one).
 */
export function saveMappo(trainer: MappoTrainer, dir: string, opts: { allowMidIteration?: boolean } = {}): void {
  if (!trainer.betweenEpisodes && !opts.allowMidIteration)
    throw new Error(`saveMappo(${dir}): the trainer is mid-iteration; save between iterations for an exact resume (or pass allowMidIteration)`);
  const { arrays, optimizerSteps } = networkArrays(trainer);
  const meta: MappoMeta = {
    config: trainer.cfg,
    agents: trainer.agents,
    layout: trainer.layout.map((a) => ({ obsDim: a.obsDim, heads: a.codec.heads })),
    stateDim: trainer.stateDim,
    numEnvs: trainer.numEnvs,
    counters: { ...trainer.counters },
    rngs: { act: trainer.rngs.act.state(), shuffle: trainer.rngs.shuffle.state() },
    lastLosses: trainer.lastLosses,
    optimizerSteps,
    norm: { mean: [...trainer.norm.mean], var: [...trainer.norm.var], count: trainer.norm.count },
    rho: [...trainer.rho],
  };
  writeCheckpoint(dir, 'mappo', meta as unknown as Record<string, unknown>, arrays);
}

/** Rebuilds a MAPPO trainer on `vec` (same agents, spaces and number of sub-envs). */
export function loadMappo(dir: string, vec: VectorParallelEnv<unknown, unknown>): MappoTrainer {
  const { meta: rawMeta, arrays } = readCheckpoint(dir, 'mappo');
  const meta = rawMeta as unknown as MappoMeta;
  const where = `checkpoint ${dir}`;
  if (vec.numEnvs !== meta.numEnvs) throw new Error(`${where}: trained on ${meta.numEnvs} sub-envs, the vector env has ${vec.numEnvs}`);
  const trainer = new MappoTrainer(vec, meta.config);
  restoreCommon(trainer, meta, arrays, where);
  trainer.norm.mean.set(meta.norm.mean);
  trainer.norm.var.set(meta.norm.var);
  trainer.norm.count = meta.norm.count;
  trainer.rho.set(meta.rho);
  trainer.rngs = { act: restoreRng(meta.rngs.act, `${where} rngs.act`), shuffle: restoreRng(meta.rngs.shuffle, `${where} rngs.shuffle`) };
  trainer.counters = { ...meta.counters };
  const num = (xs: (number | null)[]) => xs.map((x) => (x === null ? Number.NaN : x));
  trainer.lastLosses = { criticLoss: num(meta.lastLosses.criticLoss), actorLoss: num(meta.lastLosses.actorLoss), entropy: num(meta.lastLosses.entropy) };
  return trainer;
}
