/**
 * The embedded default: a sweep's runs on a pool of local worker processes (default one per core),
 * no Redis. Each run gets its own forked process (child.ts); runs finished before (a re-run of the
 * same sweep) are skipped by the job itself.
 */
import { fork } from 'node:child_process';
import { cpus } from 'node:os';
import { compiledSibling } from '../../graphs/package-root.js';
import type { JobOutcome } from './job.js';
import type { SweepPlan, SweepRun } from './plan.js';

const CHILD = compiledSibling(import.meta.url, 'child.js');

export interface RunState {
  run: SweepRun;
  state: 'waiting' | 'active' | 'completed' | 'failed';
  outcome?: JobOutcome;
  error?: string;
}

function runInChild(run: SweepRun): Promise<JobOutcome> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let reply: { ok: boolean; outcome?: JobOutcome; error?: string } | null = null;
    child.stderr?.on('data', (c) => (stderr += c));
    child.on('message', (m) => (reply = m as typeof reply));
    child.on('exit', (code, signal) => {
      const r = reply as { ok: boolean; outcome?: JobOutcome; error?: string } | null;
      if (r?.ok && r.outcome) resolve(r.outcome);
      else reject(new Error(r?.error ?? `worker process ended (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-500)}`));
    });
    child.send(run);
  });
}

export async function runLocalSweep(plan: SweepPlan, o: { workers?: number; onUpdate?: (states: RunState[]) => void } = {}): Promise<RunState[]> {
  const workers = o.workers ?? cpus().length;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${workers}`);
  const states: RunState[] = plan.runs.map((run) => ({ run, state: 'waiting' }));
  let next = 0;
  const worker = async () => {
    while (next < states.length) {
      const s = states[next++];
      s.state = 'active';
      o.onUpdate?.(states);
      try {
        s.outcome = await runInChild(s.run);
        s.state = 'completed';
      } catch (e) {
        s.error = (e as Error).message;
        s.state = 'failed';
      }
      o.onUpdate?.(states);
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, states.length) }, worker));
  return states;
}
