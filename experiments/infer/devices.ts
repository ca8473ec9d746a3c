/**
 * Devices for batch inference and how tasks share them (seed 002's model sharing).
 *
 * A device is one NativeExecutor (on a CPU-only machine "a device" is an executor instance with
 * its own streams). With sharing on, a device holds ONE copy of each model's weights and every
 * concurrent task on it runs against that copy (the executor's ModelHandle is shared); with
 * sharing off, each task slot loads its own copy. Device leases: a worker takes a device before
 * using it — locally from an in-process pool, or cluster-wide from Redis (a key per device with a
 * TTL that a heartbeat renews; a dead worker's devices return to the pool when their keys expire).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Graph } from '../../graphs/ir.js';
import { type ModelHandle, NativeExecutor } from '../../native/index.js';

export interface Lease {
  device: number;
  release(): Promise<void>;
}

export interface LeaseAllocator {
  acquire(): Promise<Lease>;
}

/** Deletes `key` if `owner` still holds it (a lease that expired and was retaken is not ours to drop). */
export function releaseIfOwner(redis: Redis, key: string, owner: string): Promise<unknown> {
  return redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, key, owner);
}

/** In-process leases over `n` devices: acquire waits for a free one. */
export class LocalLeases implements LeaseAllocator {
  private readonly free: number[];
  private readonly waiting: ((d: number) => void)[] = [];
  constructor(n: number) {
    this.free = Array.from({ length: n }, (_, i) => i);
  }
  async acquire(): Promise<Lease> {
    const device = this.free.shift() ?? (await new Promise<number>((r) => this.waiting.push(r)));
    return {
      device,
      release: async () => {
        const w = this.waiting.shift();
        if (w) w(device);
        else this.free.push(device);
      },
    };
  }
}

/**
 * Cluster leases in Redis: device i of `pool` is the key `topsched:device:<pool>:<i>`, taken with
 * SET NX PX ttl and renewed every ttl/3 while held; a holder that dies stops renewing and the key
 * expires, returning the device. Release deletes the key only if this holder still owns it.
 */
export class RedisLeases implements LeaseAllocator {
  private readonly owner = randomUUID();
  constructor(
    private readonly redis: Redis,
    readonly pool: string,
    readonly devices: number,
    readonly ttlMs = 10_000,
    private readonly pollMs = 100,
  ) {}

  key(i: number): string {
    return `topsched:device:${this.pool}:${i}`;
  }

  async acquire(): Promise<Lease> {
    for (;;) {
      for (let i = 0; i < this.devices; i++) {
        const ok = await this.redis.set(this.key(i), this.owner, 'PX', this.ttlMs, 'NX');
        if (ok !== 'OK') continue;
        const beat = setInterval(() => {
          // Renew only while we still own it (a lease that expired and was retaken is not ours).
          void this.redis
            .eval(
              "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
              1,
              this.key(i),
              this.owner,
              this.ttlMs,
            )
            .catch(() => {});
        }, this.ttlMs / 3);
        return {
          device: i,
          release: async () => {
            clearInterval(beat);
            await this.redis.eval(
              "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
              1,
              this.key(i),
              this.owner,
            );
          },
        };
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }
}

/** One device: an executor and its models (one shared copy, or one per task slot). */
export class Device {
  readonly executor: NativeExecutor;
  private readonly shared = new Map<string, Promise<ModelHandle>>();
  private readonly own: Promise<ModelHandle>[] = [];
  private slots = 0;

  constructor(
    readonly index: number,
    readonly shareWeights: boolean,
    streams: number,
  ) {
    this.executor = new NativeExecutor({ streams });
  }

  /** The model for a task: the device's shared copy, or (sharing off) a copy of the task's own. */
  model(key: string, graph: Graph, seed: number): { handle: Promise<ModelHandle>; done: () => void } {
    if (this.shareWeights) {
      let h = this.shared.get(key);
      if (!h) this.shared.set(key, (h = this.executor.loadModel(graph, { seed })));
      return { handle: h, done: () => {} };
    }
    const h = this.executor.loadModel(graph, { seed });
    this.own.push(h);
    this.slots++;
    return {
      handle: h,
      done: () => {
        this.slots--;
        void h.then((m) => this.executor.unloadModel(m));
      },
    };
  }

  /** Weight copies resident now. */
  copies(): number {
    return this.shareWeights ? this.shared.size : this.slots;
  }

  close(): void {
    this.executor.close();
  }
}
