/**
 * `topsched infer-batch`: a model over many inputs (one .npy per request), split into shards. Devices
 * (devices.ts) are leased; each runs `tasksPerDevice` concurrent tasks against one shared copy of
 * the weights (or one copy per task, sharing off). A shard's outputs are written into a temporary
 * folder renamed into place, so a shard is either complete or absent; a re-run skips finished
 * shards. With Redis, workers on several machines share the work over one output folder: devices
 * come from Redis leases, and a shard is claimed with a Redis key (TTL, renewed while it runs) so
 * no two workers run it; a dead worker's claim expires and a re-run takes the shard.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { writeFileAtomic } from '../../graphs/atomic-write.js';
import { devicePreset, RooflineCostModel } from '../../graphs/cost/roofline.js';
import { dtypeBytes, type Graph, numel } from '../../graphs/ir.js';
import { planMemory } from '../../graphs/memory/planner.js';
import { readNpy, writeNpy } from '../../graphs/npy.js';
import { partition } from '../../graphs/partition/index.js';
import { outputFiles } from '../commands/run-io.js';
import { Device, type LeaseAllocator, LocalLeases, releaseIfOwner } from './devices.js';

export interface InferBatchOptions {
  /** The model's name in output paths and claims. */
  name: string;
  graph: Graph;
  inputs: string[];
  out: string;
  shardSize?: number;
  devices?: number;
  tasksPerDevice?: number;
  shareWeights?: boolean;
  seed?: number;
  leases?: LeaseAllocator;
  /** Claims shards in Redis (several workers over one output folder). */
  redis?: Redis;
  log?: (line: string) => void;
}

export interface InferBatchResult {
  inputs: number;
  shards: number;
  /** Shards found finished and skipped. */
  skipped: number;
  /** Shards another worker held. */
  claimedElsewhere: number;
  seconds: number;
  /** Inputs inferred per second by this run (skipped shards excluded). */
  throughput: number;
  /** Most weight copies resident on one device at once. */
  maxCopiesPerDevice: number;
}

/** The inputs of `--inputs`: a folder's .npy files (sorted), or a list file of paths (relative to it). */
export function listInputs(spec: string): string[] {
  const abs = resolve(spec);
  if (!existsSync(abs)) throw new Error(`--inputs ${spec}: no such file or folder`);
  let files: string[];
  if (statSync(abs).isDirectory())
    files = readdirSync(abs)
      .filter((f) => f.endsWith('.npy'))
      .sort()
      .map((f) => join(abs, f));
  else
    files = readFileSync(abs, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => resolve(dirname(abs), l));
  if (!files.length) throw new Error(`--inputs ${spec}: no .npy inputs`);
  const names = new Set<string>();
  for (const f of files) {
    const b = basename(f, '.npy');
    if (names.has(b)) throw new Error(`--inputs ${spec}: two inputs named '${b}' (outputs are named after inputs)`);
    names.add(b);
  }
  return files;
}

export const shardDir = (out: string, k: number) => join(out, `shard-${String(k).padStart(5, '0')}`);

/** Tasks per device within `budgetBytes`, with one shared weight copy and with a copy per task. */
export function tasksWithinBudget(graph: Graph, budgetBytes: number): { weightBytes: number; activationBytes: number; shared: number; unshared: number } {
  const weightBytes = graph.initializers.reduce((s, v) => s + numel(v.shape) * dtypeBytes(v.dtype), 0);
  const activationBytes = planMemory(graph, partition(graph, 'sequential', new RooflineCostModel(devicePreset('cpu-2core'))).schedule).arenaBytes;
  return {
    weightBytes,
    activationBytes,
    shared: Math.max(0, Math.floor((budgetBytes - weightBytes) / activationBytes)),
    unshared: Math.floor(budgetBytes / (weightBytes + activationBytes)),
  };
}

export async function runInferBatch(o: InferBatchOptions): Promise<InferBatchResult> {
  const g = o.graph;
  if (g.inputs.length !== 1)
    throw new Error(`infer-batch: '${o.name}' has ${g.inputs.length} inputs; infer-batch feeds one .npy per request to single-input models`);
  const shardSize = o.shardSize ?? 16;
  const nDevices = o.devices ?? 1;
  const perDevice = o.tasksPerDevice ?? 2;
  for (const [k, v] of Object.entries({ '--shard-size': shardSize, '--devices': nDevices, '--tasks-per-device': perDevice }))
    if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer, got ${v}`);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  // Shard k means the same inputs on every run over this folder: the plan is recorded and checked.
  const manifest = { format: 'topsched.infer-batch/1', model: o.name, shardSize, inputs: o.inputs.map((f) => resolve(f)) };
  const mfile = join(out, 'manifest.json');
  if (existsSync(mfile)) {
    const old = JSON.parse(readFileSync(mfile, 'utf8'));
    if (JSON.stringify(old) !== JSON.stringify(manifest))
      throw new Error(
        `--out ${o.out}: holds shards of another run (model ${old.model}, shard size ${old.shardSize}, ${old.inputs?.length} inputs); use that plan or another --out`,
      );
  } else writeFileAtomic(mfile, `${JSON.stringify(manifest, null, 1)}\n`);
  const schedule = partition(g, 'sequential', new RooflineCostModel(devicePreset('cpu-2core'))).schedule;
  const files = outputFiles(g.outputs.map((v) => v.name));
  const shards: string[][] = [];
  for (let i = 0; i < o.inputs.length; i += shardSize) shards.push(o.inputs.slice(i, i + shardSize));
  const claimPrefix = `topsched:infer:${createHash('sha256').update(`${out}\n${o.name}`).digest('hex').slice(0, 16)}`;
  const owner = randomUUID();
  const leases = o.leases ?? new LocalLeases(nDevices);
  let next = 0;
  let skipped = 0;
  let claimedElsewhere = 0;
  let inferred = 0;
  let maxCopies = 0;
  const t0 = performance.now();

  /** Claims shard k in Redis (NX with a TTL renewed while held); returns the release, or null when another worker has it. */
  const claim = async (k: number): Promise<(() => Promise<void>) | null> => {
    if (!o.redis) return async () => {};
    const key = `${claimPrefix}:${k}`;
    if ((await o.redis.set(key, owner, 'PX', 30_000, 'NX')) !== 'OK') return null;
    const redis = o.redis;
    const beat = setInterval(() => void redis.pexpire(key, 30_000).catch(() => {}), 10_000);
    return async () => {
      clearInterval(beat);
      await releaseIfOwner(redis, key, owner);
    };
  };

  const runShard = async (dev: Device, k: number) => {
    const model = dev.model(o.name, g, o.seed ?? 0);
    maxCopies = Math.max(maxCopies, dev.copies());
    try {
      const handle = await model.handle;
      const tmp = join(out, `.shard-${k}.${owner}.tmp`);
      mkdirSync(tmp, { recursive: true });
      for (const file of shards[k]) {
        const t = readNpy(file);
        const v = g.inputs[0];
        if (t.dtype !== v.dtype || t.shape.join() !== v.shape.join())
          throw new Error(`${file}: ${t.dtype} [${t.shape}] but '${o.name}' takes ${v.dtype} [${v.shape}] (input '${v.name}')`);
        const r = await dev.executor.run([{ model: handle, schedule, inputs: [t.data] }], { outputs: true });
        const outs = r.tasks[0].outputs ?? {};
        g.outputs.forEach((ov, j) => {
          const data = outs[ov.name];
          writeNpy(join(tmp, `${basename(file, '.npy')}.${files[j]}`), { shape: ov.shape, dtype: data instanceof BigInt64Array ? 'int64' : 'float32', data });
        });
        inferred++;
      }
      // Complete or absent: the folder appears by one rename. A worker that finished it first wins.
      try {
        renameSync(tmp, shardDir(out, k));
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        if (!existsSync(shardDir(out, k))) throw e;
      }
    } finally {
      model.done();
    }
  };

  const deviceLoop = async () => {
    const lease = await leases.acquire();
    const dev = new Device(lease.device, o.shareWeights ?? true, perDevice);
    try {
      await Promise.all(
        Array.from({ length: perDevice }, async () => {
          while (next < shards.length) {
            const k = next++;
            if (existsSync(shardDir(out, k))) {
              skipped++;
              continue;
            }
            const release = await claim(k);
            if (!release) {
              claimedElsewhere++;
              continue;
            }
            try {
              await runShard(dev, k);
            } finally {
              await release();
            }
          }
        }),
      );
    } finally {
      dev.close();
      await lease.release();
    }
  };
  await Promise.all(Array.from({ length: nDevices }, deviceLoop));
  const seconds = (performance.now() - t0) / 1000;
  o.log?.(`${inferred} inputs in ${seconds.toFixed(2)} s; ${skipped} shard(s) already done, ${claimedElsewhere} held by another worker`);
  return { inputs: o.inputs.length, shards: shards.length, skipped, claimedElsewhere, seconds, throughput: inferred / seconds, maxCopiesPerDevice: maxCopies };
}
