/**
 * One sweep run, wherever it executes (a local pool process or a BullMQ sandboxed processor): a new
 * run is trained from its config into its run directory; a run directory that exists is resumed from
 * its last checkpoint (or trained again from step 0 if it died before one), so a retried job — its
 * worker killed or stalled — continues where the first attempt stopped and, training being
 * bit-reproducible, ends identical to an uninterrupted run. A completed run is not trained again.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { trainRun } from '../commands/train.js';
import { resolveRunConfig } from '../config/load.js';
import { RUN_FILES, readMeta } from '../run-dir.js';
import type { SweepRun } from './plan.js';

export interface JobOutcome {
  runDir: string;
  /** 'trained' (from step 0), 'resumed' (from a checkpoint or restarted) or 'done' (already completed). */
  how: 'trained' | 'resumed' | 'done';
  steps: number;
  /** Time spent in this function (training and final evaluation included), ms. */
  wallMs: number;
}

export async function runSweepJob(run: Pick<SweepRun, 'configYaml' | 'runDir'>, o: JobOptions = {}): Promise<JobOutcome> {
  const t0 = performance.now();
  const r = await train(run, o);
  return { ...r, wallMs: performance.now() - t0 };
}

interface JobOptions {
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** A queue job: a run lock from another host belongs to a worker the queue has given up on. */
  takeOverForeignLock?: boolean;
}

async function train(run: Pick<SweepRun, 'configYaml' | 'runDir'>, o: JobOptions): Promise<Omit<JobOutcome, 'wallMs'>> {
  if (existsSync(join(run.runDir, RUN_FILES.meta))) {
    const meta = readMeta(run.runDir);
    if (meta.status === 'completed') return { runDir: run.runDir, how: 'done', steps: meta.step };
    const r = await trainRun({ resume: run.runDir, restart: true, takeOverForeignLock: o.takeOverForeignLock, signal: o.signal, log: o.log, progress: false });
    if (r.status !== 'completed') throw new Error(`${run.runDir}: stopped (${r.status}) at step ${r.steps}`);
    return { runDir: run.runDir, how: 'resumed', steps: r.steps };
  }
  const cfg = resolveRunConfig(parseYaml(run.configYaml), [], `${run.runDir} (sweep job config)`);
  const r = await trainRun({ config: cfg, runDir: run.runDir, signal: o.signal, log: o.log, progress: false });
  if (r.status !== 'completed') throw new Error(`${run.runDir}: stopped (${r.status}) at step ${r.steps}`);
  return { runDir: run.runDir, how: 'trained', steps: r.steps };
}
