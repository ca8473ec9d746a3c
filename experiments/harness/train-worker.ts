/**
 * One learner × seed trained in a worker thread (learners.ts `trainLearners`): the tfjs backend
 * the parent uses, then `trainLearner`, then the exported actors posted back as plain data.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendChoice, initBackend } from '../../agents/backend.js';
import { type TrainJob, trainLearner } from './learners.js';

const { job, backend } = workerData as { job: TrainJob; backend: BackendChoice };
try {
  await initBackend(backend, { log: () => {} });
  const result = trainLearner(job.name, job.learner, job.seed, job.base, job.train, job.trainLoads);
  parentPort?.postMessage({ ok: true, result });
} catch (e) {
  parentPort?.postMessage({ ok: false, error: (e as Error).stack ?? String(e) });
}
