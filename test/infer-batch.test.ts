/**
 * Batch inference with model sharing: outputs byte-equal to single runs, shards atomic and skipped
 * when done, sharing on vs off, the memory-budget arithmetic, and Redis device leases (a dead
 * holder's device comes back when its key expires) and shard claims (two workers, one folder).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { listInputs, runInferBatch, shardDir, tasksWithinBudget } from '../experiments/infer/batch.js';
import { RedisLeases } from '../experiments/infer/devices.js';
import { connect } from '../experiments/sweep/redis.js';
import { type LocalRedis, redisUnavailable, startRedis } from '../experiments/sweep/redis-server.js';
import { GraphBuilder } from '../graphs/builder.js';
import { devicePreset, RooflineCostModel } from '../graphs/cost/roofline.js';
import type { Graph } from '../graphs/ir.js';
import { writeNpy } from '../graphs/npy.js';
import { partition } from '../graphs/partition/index.js';
import { NativeExecutor, nativeAvailable } from '../native/index.js';

const dir = mkdtempSync(join(tmpdir(), 'topsched-infer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function net(name: string, hidden = 16): Graph {
  const b = new GraphBuilder(name);
  let x = b.input('x', [1, 4, 12, 12]);
  x = b.relu(b.conv(x, { out: 8, kernel: 3, pad: 1 }));
  b.output(b.linear(b.flatten(b.globalAvgPool(x)), hidden));
  return b.build();
}
const graph = net('net');
const inputsDir = join(dir, 'inputs');
const N = 22;
const sample = (i: number) => Float32Array.from({ length: 4 * 12 * 12 }, (_, j) => Math.cos(i * 3.1 + j * 0.07));
beforeAll(() => {
  for (let i = 0; i < N; i++) writeNpy(join(inputsDir, `s${String(i).padStart(2, '0')}.npy`), { shape: [1, 4, 12, 12], dtype: 'float32', data: sample(i) });
});
const outputBytes = (out: string) => {
  const files: Record<string, Buffer> = {};
  for (const s of readdirSync(out).filter((d) => d.startsWith('shard-'))) for (const f of readdirSync(join(out, s))) files[f] = readFileSync(join(out, s, f));
  return files;
};

describe.runIf(nativeAvailable())('infer-batch', () => {
  test('outputs equal single runs byte for byte, with weights shared or not; finished shards are skipped', async () => {
    const inputs = listInputs(inputsDir);
    expect(inputs).toHaveLength(N);
    // The reference: each input alone on one executor.
    const ex = new NativeExecutor({ streams: 1 });
    const h = await ex.loadModel(graph, { seed: 0 });
    const schedule = partition(graph, 'sequential', new RooflineCostModel(devicePreset('cpu-2core'))).schedule;
    const want: Record<string, Buffer> = {};
    for (let i = 0; i < N; i++) {
      const r = await ex.run([{ model: h, schedule, inputs: [sample(i)] }], { outputs: true });
      const o = r.tasks[0].outputs?.[graph.outputs[0].name] as Float32Array;
      want[`s${String(i).padStart(2, '0')}.${graph.outputs[0].name.replace(/[^A-Za-z0-9._-]/g, '_')}.npy`] = Buffer.from(o.buffer, o.byteOffset, o.byteLength);
    }
    ex.close();
    for (const share of [true, false]) {
      const out = join(dir, `out-${share}`);
      const r = await runInferBatch({ name: 'net', graph, inputs, out, shardSize: 5, devices: 2, tasksPerDevice: 2, shareWeights: share });
      expect(r).toMatchObject({ inputs: N, shards: 5, skipped: 0 });
      expect(r.maxCopiesPerDevice).toBe(share ? 1 : 2);
      const got = outputBytes(out);
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      // The .npy payload (after its header) is the output's bytes.
      for (const [f, b] of Object.entries(want)) expect(got[f].subarray(got[f].length - b.length).equals(b), f).toBe(true);
    }
    // A re-run finds every shard done; a shard folder that vanished is run again.
    const out = join(dir, 'out-true');
    rmSync(shardDir(out, 3), { recursive: true });
    const again = await runInferBatch({ name: 'net', graph, inputs, out, shardSize: 5, devices: 1 });
    expect(again).toMatchObject({ skipped: 4 });
    expect(existsSync(shardDir(out, 3))).toBe(true);
    await expect(runInferBatch({ name: 'net', graph, inputs, out, shardSize: 4 })).rejects.toThrow(
      /holds shards of another run \(model net, shard size 5, 22 inputs\)/,
    );
  });

  test('bad inputs are named; the memory budget favours sharing for weight-heavy models', async () => {
    const bad = join(dir, 'bad');
    writeNpy(join(bad, 'a.npy'), { shape: [1, 4, 12], dtype: 'float32', data: new Float32Array(48) });
    await expect(runInferBatch({ name: 'net', graph, inputs: listInputs(bad), out: join(dir, 'bad-out') })).rejects.toThrow(
      /a\.npy: float32 \[1,4,12\] but 'net' takes float32 \[1,4,12,12\]/,
    );
    expect(() => listInputs(join(dir, 'none'))).toThrow(/no such file or folder/);
    const hb = new GraphBuilder('heavy');
    hb.output(hb.linear(hb.relu(hb.linear(hb.input('x', [1, 512]), 2048)), 512));
    const heavy = hb.build();
    const b = tasksWithinBudget(heavy, 64 * 2 ** 20);
    expect(b.weightBytes).toBeGreaterThan(10 * b.activationBytes);
    expect(b.shared).toBeGreaterThanOrEqual(3 * b.unshared);
    expect(b.shared).toBe(Math.floor((64 * 2 ** 20 - b.weightBytes) / b.activationBytes));
  });
});

const skip = redisUnavailable();
if (skip && process.env.CI) throw new Error(`CI needs Redis for the infer-batch lease tests: ${skip}`);

describe.runIf(!skip && nativeAvailable())('infer-batch on Redis', () => {
  let redis: LocalRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => redis?.stop());

  test("device leases: one holder per device; a dead holder's device returns when its key expires", async () => {
    const c = await connect(redis.url);
    const pool = `test-${process.pid}`;
    // A holder in another process takes the pool's only device, then dies without releasing it.
    const script = `import { Redis } from 'ioredis'; import { RedisLeases } from '${join(process.cwd(), 'dist', 'experiments', 'infer', 'devices.js')}';
const r = new Redis('${redis.url}'); const l = await new RedisLeases(r, '${pool}', 1, 600).acquire(); console.log('held', l.device);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (d) => String(d).includes('held') && resolve()));
    const mine = new RedisLeases(c, pool, 1, 600, 20);
    // While it lives its heartbeat keeps the device past the 600 ms TTL.
    const holder = await c.get(mine.key(0));
    await new Promise((r) => setTimeout(r, 900));
    expect(holder).not.toBeNull();
    expect(await c.get(mine.key(0))).toBe(holder);
    child.kill('SIGKILL');
    const t = performance.now();
    const lease = await mine.acquire();
    expect(lease.device).toBe(0);
    expect(performance.now() - t).toBeLessThan(3000);
    await lease.release();
    expect(await c.exists(mine.key(0))).toBe(0);
    c.disconnect();
  }, 20_000);

  test('two workers over one folder claim shards in Redis: each shard runs once, all outputs there', async () => {
    const a = await connect(redis.url);
    const b = await connect(redis.url);
    const inputs = listInputs(inputsDir);
    const out = join(dir, 'shared-out');
    const [ra, rb] = await Promise.all(
      [a, b].map((r) =>
        runInferBatch({
          name: 'net',
          graph,
          inputs,
          out,
          shardSize: 2,
          devices: 1,
          tasksPerDevice: 1,
          redis: r,
          leases: new RedisLeases(r, `w-${Math.random()}`, 1),
        }),
      ),
    );
    expect(Object.keys(outputBytes(out))).toHaveLength(N);
    // Every shard was run by exactly one of them (the other skipped it as done or held).
    const ranA = ra.shards - ra.skipped - ra.claimedElsewhere;
    const ranB = rb.shards - rb.skipped - rb.claimedElsewhere;
    expect(ranA + ranB).toBe(11);
    a.disconnect();
    b.disconnect();
  }, 30_000);
});
