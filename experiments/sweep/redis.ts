/**
 * Sweeps through BullMQ on Redis: each run is a job whose id is the hash of its resolved config
 * (plan.ts), so submitting a sweep twice adds nothing new; `topsched worker` processes jobs on any
 * machine that sees the same Redis and the same runs dir, each in a sandboxed process (training
 * blocks the event loop; the sandbox keeps the worker's lock renewed). A worker killed mid-run loses
 * its lock; BullMQ's stalled-job check puts the job back and another worker resumes the run from its
 * last checkpoint (job.ts). A job that fails for a real reason (a bad config, another project
 * version, a cancelled sweep) fails once: UnrecoverableError, no retry loop.
 */
import { type ConnectionOptions, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { compiledSibling } from '../../graphs/package-root.js';
import type { SweepPlan, SweepRun } from './plan.js';

export const QUEUE = 'topsched-sweep';
const PROCESSOR = compiledSibling(import.meta.url, 'processor.js');
export const planKey = (id: string) => `topsched:sweep:${id}`;
export const cancelKey = (id: string) => `topsched:sweep:${id}:cancelled`;

export interface JobData {
  sweep: string;
  version: string;
  redis: string;
  run: SweepRun;
}

export interface WorkerTiming {
  /** How long a job's lock lasts without renewal, ms (a dead worker's job is retried after it). Default 30,000. */
  lockMs?: number;
  /** How often stalled jobs are looked for, ms. Default 15,000. */
  stalledMs?: number;
}

/** A connection that fails fast with a clear error when Redis is not there. */
export async function connect(url: string, forWorker = false): Promise<Redis> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--redis: not a URL: '${url}' (expected redis://host:port)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error(`--redis: expected a redis:// URL, got '${url}'`);
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: forWorker ? null : 3, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    throw new Error(`--redis ${url}: cannot reach Redis: ${(e as Error).message}`);
  }
  // After the first contact, reconnect as usual (a Redis restart should not kill a long sweep).
  client.options.retryStrategy = (n: number) => Math.min(200 * n, 2000);
  return client;
}

/** Adds the plan's runs (ids = config hashes: existing ones are left as they are) and records the plan. */
export async function submitSweep(plan: SweepPlan, url: string): Promise<{ added: number; existing: number }> {
  const redis = await connect(url);
  const queue = new Queue(QUEUE, { connection: redis as unknown as ConnectionOptions });
  try {
    await redis.set(planKey(plan.id), JSON.stringify({ ...plan, runs: plan.runs.map(({ configYaml: _c, ...r }) => r) }));
    await redis.del(cancelKey(plan.id));
    let existing = 0;
    for (const r of plan.runs) if (await queue.getJob(r.jobId)) existing++;
    await queue.addBulk(
      plan.runs.map((run) => ({
        name: run.point || 'run',
        data: { sweep: plan.id, version: plan.version, redis: url, run } satisfies JobData,
        // Retries are for lost workers (a stalled job comes back on its own); a few failures of a run are enough.
        opts: { jobId: run.jobId, attempts: 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
      })),
    );
    return { added: plan.runs.length - existing, existing };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

export interface JobStatus {
  run: Omit<SweepRun, 'configYaml'>;
  state: string;
  attempts: number;
  progress: unknown;
  error?: string;
}

export async function sweepStatus(
  id: string,
  url: string,
): Promise<{ plan: Omit<SweepPlan, 'runs'> & { runs: Omit<SweepRun, 'configYaml'>[] }; jobs: JobStatus[]; cancelled: boolean }> {
  const redis = await connect(url);
  const queue = new Queue(QUEUE, { connection: redis as unknown as ConnectionOptions });
  try {
    const raw = await redis.get(planKey(id));
    if (!raw) throw new Error(`sweep '${id}': not found in Redis at ${url}`);
    const plan = JSON.parse(raw);
    const jobs: JobStatus[] = [];
    for (const run of plan.runs as Omit<SweepRun, 'configYaml'>[]) {
      const job = await queue.getJob(run.jobId);
      if (!job) jobs.push({ run, state: 'removed', attempts: 0, progress: null });
      else jobs.push({ run, state: await job.getState(), attempts: job.attemptsMade, progress: job.progress, error: job.failedReason || undefined });
    }
    return { plan, jobs, cancelled: (await redis.exists(cancelKey(id))) === 1 };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** Marks the sweep cancelled (running jobs stop at their next episode boundary) and removes its waiting jobs. */
export async function cancelSweep(id: string, url: string): Promise<{ removed: number }> {
  const { jobs } = await sweepStatus(id, url);
  const redis = await connect(url);
  const queue = new Queue(QUEUE, { connection: redis as unknown as ConnectionOptions });
  try {
    await redis.set(cancelKey(id), '1');
    let removed = 0;
    for (const j of jobs)
      if (j.state === 'waiting' || j.state === 'delayed' || j.state === 'prioritized') {
        await (await queue.getJob(j.run.jobId))?.remove();
        removed++;
      }
    return { removed };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** Polls until every job of the sweep has ended (completed, failed or removed). */
export async function waitSweep(id: string, url: string, onUpdate?: (jobs: JobStatus[]) => void, everyMs = 1000): Promise<JobStatus[]> {
  for (;;) {
    const { jobs } = await sweepStatus(id, url);
    onUpdate?.(jobs);
    if (jobs.every((j) => j.state === 'completed' || j.state === 'failed' || j.state === 'removed')) return jobs;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `topsched worker`: processes sweep jobs until `stop` resolves, then closes (the active job is left to retry). */
export async function runWorker(
  url: string,
  o: { concurrency?: number; version: string; stop: Promise<unknown>; log?: (line: string) => void } & WorkerTiming,
): Promise<void> {
  const redis = await connect(url, true);
  const lockMs = o.lockMs ?? 30_000;
  const worker = new Worker(QUEUE, PROCESSOR, {
    connection: redis as unknown as ConnectionOptions,
    concurrency: o.concurrency ?? 1,
    lockDuration: lockMs,
    stalledInterval: o.stalledMs ?? 15_000,
    // A run can lose several workers (kill, pre-emption) and still finish: retry stalled jobs, not forever.
    maxStalledCount: 5,
  });
  worker.on('completed', (job) =>
    o.log?.(`completed ${job.id} (${job.data.run.point || 'run'} seed ${job.data.run.seed}): ${JSON.stringify(job.returnvalue)}`),
  );
  worker.on('failed', (job, err) => o.log?.(`failed ${job?.id}: ${err.message}`));
  worker.on('error', (err) => o.log?.(`worker error: ${err.message}`));
  await o.stop;
  await worker.close();
  redis.disconnect();
}
