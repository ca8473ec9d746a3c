/**
 * A local sweep worker process (local.ts forks one per run): receives a run over IPC, trains it with
 * runSweepJob, replies with the outcome or the error, and exits. A process per run, because training
 * blocks the event loop and its memory (tfjs) is returned to the system when the process ends.
 */
import { runSweepJob } from './job.js';
import type { SweepRun } from './plan.js';

process.once('message', (run: SweepRun) => {
  runSweepJob(run).then(
    (outcome) => process.send?.({ ok: true, outcome }, () => process.exit(0)),
    (e: Error) => process.send?.({ ok: false, error: e.message }, () => process.exit(1)),
  );
});
// The parent went away (killed): stop rather than train on as an orphan.
process.on('disconnect', () => process.exit(1));
