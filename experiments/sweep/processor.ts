/**
 * The BullMQ sandboxed processor of sweep jobs (redis.ts): a separate process per worker slot, so
 * training never blocks the worker's lock renewal. Refuses jobs of another project version and of a
 * cancelled sweep (UnrecoverableError: failed once, not retried); a cancel that comes while the run
 * trains stops it at the next episode boundary with a checkpoint.
 */
import { type SandboxedJob, UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import { projectVersion } from '../version.js';
import { runSweepJob } from './job.js';
import type { JobData } from './redis.js';
import { cancelKey } from './redis.js';

// Killed worker (kill -9): this sandbox loses its parent; stop instead of training on as an orphan.
process.on('disconnect', () => process.exit(1));

export default async function processSweepJob(job: SandboxedJob<JobData>) {
  const d = job.data;
  const mine = projectVersion();
  if (d.version !== mine)
    throw new UnrecoverableError(`sweep ${d.sweep} was planned by topsched ${d.version}; this worker is ${mine}: run a worker of the same version`);
  const redis = new Redis(d.redis, { maxRetriesPerRequest: 3 });
  redis.on('error', () => {});
  const abort = new AbortController();
  const poll = setInterval(() => {
    redis.exists(cancelKey(d.sweep)).then(
      (n) => {
        if (n === 1) abort.abort();
      },
      () => {},
    );
  }, 1000);
  try {
    if ((await redis.exists(cancelKey(d.sweep))) === 1) throw new UnrecoverableError(`sweep ${d.sweep} was cancelled`);
    let last = 0;
    const outcome = await runSweepJob(d.run, {
      signal: abort.signal,
      // BullMQ gave this job to us: a lock from another machine belongs to a worker it declared lost.
      takeOverForeignLock: true,
      log: (line) => {
        const now = Date.now();
        if (now - last < 500) return;
        last = now;
        void job.updateProgress({ line }).catch(() => {});
      },
    });
    return outcome;
  } catch (e) {
    if (abort.signal.aborted) throw new UnrecoverableError(`sweep ${d.sweep} was cancelled`);
    // A bad config (its error names the path) is not worth retrying.
    if (/config|expected|unknown key/i.test((e as Error).message)) throw new UnrecoverableError((e as Error).message);
    throw e;
  } finally {
    clearInterval(poll);
    redis.disconnect();
  }
}
