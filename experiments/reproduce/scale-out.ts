/**
 * Scale-out: a sweep of 8 short training runs (2 learning rates × 4 seeds) three ways — the
 * embedded pool on 2 worker processes, the same pool on 1 (the runs one after another), and BullMQ
 * on a private local Redis with 2 `topsched worker` processes, one of which is killed (SIGKILL)
 * while its run trains; a replacement worker joins. Reported: every run completes, the killed run's
 * job resumes from its checkpoint, and the Redis aggregate equals the embedded one exactly. Then the
 * queue's overhead per job: 8 tiny runs through Redis on one worker, the time from submission to
 * the last completion minus the time the jobs spent inside runSweepJob. Last, batch inference
 * (`infer-batch`) throughput vs devices and tasks per device with weights shared or not, and how
 * many tasks fit a device's memory either way. Writes docs/results/scale-out.md and scale-out.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { writeNpy } from '../../graphs/npy.js';
import { packageRoot } from '../../graphs/package-root.js';
import { buildModel } from '../../graphs/zoo/index.js';
import { bytes, table } from '../format.js';
import { listInputs, runInferBatch, tasksWithinBudget } from '../infer/batch.js';
import { machineInfo, machineLine, writeFileAtomic } from '../machine.js';
import { aggregateSweep } from '../sweep/aggregate.js';
import { runLocalSweep } from '../sweep/local.js';
import { parseGrid, parseSeeds, planSweep, type SweepPlan } from '../sweep/plan.js';
import { connect, QUEUE, submitSweep, waitSweep } from '../sweep/redis.js';
import { startRedis } from '../sweep/redis-server.js';
import { projectVersion } from '../version.js';

const CLI = join(packageRoot(), 'dist', 'experiments', 'cli.js');

/** A digest of every output file of an infer-batch folder (names and bytes). */
function shardDigest(out: string): string {
  const h = createHash('sha256');
  for (const s of readdirSync(out)
    .filter((d) => d.startsWith('shard-'))
    .sort())
    for (const f of readdirSync(join(out, s)).sort()) h.update(f).update(readFileSync(join(out, s, f)));
  return h.digest('hex');
}
const CONFIG = join(packageRoot(), 'experiments', 'configs', 'sweep-short.yaml');

export async function scaleOut(o: { out?: string; log?: (line: string) => void } = {}): Promise<string> {
  const log = o.log ?? (() => {});
  const tmp = mkdtempSync(join(tmpdir(), 'topsched-scale-out-'));
  const redis = await startRedis();
  const workers: ChildProcess[] = [];
  try {
    const c0 = await connect(redis.url);
    await c0.flushdb();
    c0.disconnect();
    const mk = (runs: string, steps?: number): SweepPlan =>
      planSweep({
        config: CONFIG,
        grid: parseGrid(['agent.lr=0.001,0.0003', ...(steps ? [`train.steps=${steps}`] : [])]),
        seeds: parseSeeds('0..3'),
        runsDir: join(tmp, runs),
        version: projectVersion(),
      });
    const time = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
      const t = performance.now();
      const r = await f();
      return [r, (performance.now() - t) / 1000];
    };

    log('embedded pool, 2 worker processes');
    const embedded = mk('embedded');
    const [emb, embS] = await time(() => runLocalSweep(embedded, { workers: 2 }));
    log(`  ${emb.filter((s) => s.state === 'completed').length}/8 completed in ${embS.toFixed(1)} s`);
    log('embedded pool, 1 worker process (the runs one after another)');
    const [seq, seqS] = await time(() => runLocalSweep(mk('sequential'), { workers: 1 }));
    log(`  ${seq.filter((s) => s.state === 'completed').length}/8 completed in ${seqS.toFixed(1)} s`);

    log('BullMQ on Redis, 2 workers, one killed mid-run');
    const viaRedis = mk('redis');
    const startWorker = () => {
      const w = spawn(process.execPath, [CLI, 'worker', '--redis', redis.url, '--lock-ms', '3000', '--stalled-ms', '1000'], { stdio: 'ignore' });
      workers.push(w);
      return w;
    };
    const [, redisS] = await time(async () => {
      await submitSweep(viaRedis, redis.url);
      const a = startWorker();
      startWorker();
      // The first run worker a holds: found by its run lock's sandbox pid, whose parent is a.
      let victim: string | null = null;
      for (let i = 0; i < 1200 && !victim; i++) {
        for (const r of viaRedis.runs) {
          const lock = join(r.runDir, 'run.lock');
          const meta = join(r.runDir, 'meta.json');
          if (!existsSync(lock) || !existsSync(meta)) continue;
          const step = JSON.parse(readFileSync(meta, 'utf8')).step as number;
          let pid = 0;
          try {
            pid = JSON.parse(readFileSync(lock, 'utf8')).pid;
          } catch {
            continue;
          }
          const ppid = existsSync(`/proc/${pid}/stat`) ? Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]) : -1;
          if (ppid === a.pid && step >= 120 && step < 600) victim = r.runDir;
        }
        if (!victim) await new Promise((r) => setTimeout(r, 50));
      }
      if (!victim) throw new Error('scale-out: worker a never held a run past its third checkpoint');
      log(`  SIGKILL worker ${a.pid} while it trains ${victim}`);
      a.kill('SIGKILL');
      startWorker();
      return waitSweep(viaRedis.id, redis.url, undefined, 500);
    });
    const c = await connect(redis.url);
    const q = new Queue(QUEUE, { connection: c as never });
    const jobs = await Promise.all(viaRedis.runs.map((r) => q.getJob(r.jobId)));
    const outcomes = jobs.map((j, i) => ({
      run: viaRedis.runs[i].runDir.slice(tmp.length + 1),
      state: j?.finishedOn ? (j.returnvalue ? 'completed' : 'failed') : 'unfinished',
      how: j?.returnvalue?.how ?? '-',
      attempts: j?.attemptsMade ?? 0,
      stalled: (j as unknown as { stalledCounter?: number })?.stalledCounter ?? 0,
    }));
    await q.close();
    c.disconnect();
    log(
      `  ${outcomes.filter((x) => x.state === 'completed').length}/8 completed in ${redisS.toFixed(1)} s; resumed: ${outcomes.filter((x) => x.how === 'resumed').length}`,
    );
    const aggEmb = aggregateSweep(embedded);
    const aggRedis = aggregateSweep(viaRedis);
    const equal = JSON.stringify(aggEmb.points) === JSON.stringify(aggRedis.points);
    for (const w of workers) w.kill('SIGTERM');

    log('queue overhead: 8 tiny runs through Redis on 1 worker: wall time minus the time the jobs spent running');
    const overRedis = mk('overhead', 40);
    const w1 = startWorker();
    // The worker's sandbox process starts on its first job: warm it with one run outside the timing.
    const warm = planSweep({
      config: CONFIG,
      grid: parseGrid(['train.steps=40']),
      seeds: parseSeeds('99'),
      runsDir: join(tmp, 'warm'),
      version: projectVersion(),
    });
    await submitSweep(warm, redis.url);
    await waitSweep(warm.id, redis.url, undefined, 50);
    const c2 = await connect(redis.url);
    const q2 = new Queue(QUEUE, { connection: c2 as never });
    const t0 = Date.now();
    await submitSweep(overRedis, redis.url);
    await waitSweep(overRedis.id, redis.url, undefined, 20);
    const done = await Promise.all(overRedis.runs.map((r) => q2.getJob(r.jobId)));
    // From submission to the last job's completion (Redis' own timestamps), minus the jobs' own run time.
    const spanMs = Math.max(...done.map((j) => j?.finishedOn ?? Number.NaN)) - t0;
    const inJobsMs = done.reduce((s, j) => s + (j?.returnvalue?.wallMs ?? Number.NaN), 0);
    await q2.close();
    c2.disconnect();
    w1.kill('SIGTERM');
    const perJobMs = (spanMs - inJobsMs) / overRedis.runs.length;
    const inProcS = inJobsMs / 1000;
    const overRedisS = spanMs / 1000;
    log(`  ${overRedisS.toFixed(2)} s from submission to the last completion, ${inProcS.toFixed(2)} s inside the jobs: ${perJobMs.toFixed(1)} ms per job`);

    log('infer-batch: squeezenet1_1 over 48 inputs, devices × tasks per device, weights shared or per task');
    const inDir = join(tmp, 'infer-inputs');
    for (let i = 0; i < 48; i++)
      writeNpy(join(inDir, `x${String(i).padStart(2, '0')}.npy`), {
        shape: [1, 3, 224, 224],
        dtype: 'float32',
        data: Float32Array.from({ length: 3 * 224 * 224 }, (_, j) => Math.sin(i * 1.7 + j * 1e-3)),
      });
    const squeeze = buildModel('squeezenet1_1', { batch: 1 });
    const inferInputs = listInputs(inDir);
    const infer: { devices: number; tasks: number; share: boolean; throughput: number; copies: number }[] = [];
    let reference: string | null = null;
    let identical = true;
    for (const devices of [1, 2])
      for (const tasks of [1, 2, 4])
        for (const share of [true, false]) {
          const out = join(tmp, `infer-${devices}-${tasks}-${share}`);
          const r = await runInferBatch({
            name: 'squeezenet1_1',
            graph: squeeze,
            inputs: inferInputs,
            out,
            shardSize: 4,
            devices,
            tasksPerDevice: tasks,
            shareWeights: share,
          });
          infer.push({ devices, tasks, share, throughput: r.throughput, copies: r.maxCopiesPerDevice });
          const digest = shardDigest(out);
          reference ??= digest;
          if (digest !== reference) identical = false;
          log(`  ${devices} device(s) × ${tasks} task(s), weights ${share ? 'shared' : 'per task'}: ${r.throughput.toFixed(1)} inputs/s`);
        }
    const budgets = ['squeezenet1_1', 'resnet50', 'bert_layer'].map((m) => ({ model: m, ...tasksWithinBudget(buildModel(m, { batch: 1 }), 2 ** 30) }));

    const machine = machineInfo();
    const command = 'npx topsched reproduce scale-out';
    const result = {
      machine,
      command,
      sweep: { config: 'experiments/configs/sweep-short.yaml', grid: 'agent.lr ∈ {0.001, 0.0003}', seeds: '0..3', runs: 8 },
      embedded2S: embS,
      sequentialS: seqS,
      redisS,
      outcomes,
      aggregateEqual: equal,
      aggregate: aggRedis.points.map((p) => ({ point: p.point, throughput: p.metrics.throughput, sloAttainment: p.metrics.sloAttainment })),
      overhead: { inJobsS: inProcS, submissionToLastCompletionS: overRedisS, perJobMs },
      inferBatch: { model: 'squeezenet1_1', inputs: 48, shardSize: 4, runs: infer, outputsIdentical: identical, budget1GiB: budgets },
    };
    const md = [
      '# Scale-out: sweeps on local worker processes and on BullMQ/Redis',
      '',
      'A sweep of 8 short MADDPG runs (`experiments/configs/sweep-short.yaml`, 600 steps each, checkpoints every 40;',
      'agent.lr ∈ {0.001, 0.0003} × seeds 0..3) run three ways: the embedded pool with 2 worker processes, the same pool with',
      "1 (the runs one after another), and BullMQ on a private local Redis (Debian's redis-server, no persistence) with 2",
      '`topsched worker` processes, one of which is killed with SIGKILL while its run trains (past its third checkpoint); a',
      'replacement worker joins. The queue overhead: 8 tiny runs (40 steps) through Redis on one warm worker, the time from',
      'submission to the last completion (Redis timestamps) minus the time the jobs spent training, per job: submission,',
      'queueing, locks, the sandbox round trip and completion.',
      '',
      `Machine: ${machineLine(machine)}`,
      '',
      `Command: \`${command}\``,
      '',
      '## Result',
      '',
      table(
        ['', 'measured', 'target', ''],
        [
          [
            'runs completed through Redis after SIGKILL of a worker',
            `${outcomes.filter((x) => x.state === 'completed').length}/8, ${outcomes.filter((x) => x.how === 'resumed').length} resumed from a checkpoint`,
            'every run; the killed one resumes',
            outcomes.every((x) => x.state === 'completed') && outcomes.some((x) => x.how === 'resumed') ? 'met' : 'MISSED',
          ],
          ['aggregate (mean and 95 % CI per grid point), Redis vs embedded', equal ? 'identical' : 'different', 'identical', equal ? 'met' : 'MISSED'],
          [
            'queue overhead per job',
            `${perJobMs.toFixed(1)} ms (${overRedisS.toFixed(2)} s from submission to the last completion, ${inProcS.toFixed(2)} s inside the jobs)`,
            '≤ 50 ms',
            perJobMs <= 50 ? 'met' : 'MISSED',
          ],
          ['embedded pool (2 processes) vs one after another', `${embS.toFixed(1)} s vs ${seqS.toFixed(1)} s`, 'no slower', embS <= seqS ? 'met' : 'MISSED'],
        ],
      ),
      '',
      `Through Redis: ${redisS.toFixed(1)} s for the 8 runs, the kill and the retry included.`,
      '',
      '## Batch inference with model sharing (`topsched infer-batch`)',
      '',
      'squeezenet1_1 over 48 inputs (shards of 4) on leased devices (a device is a native executor instance on this CPU-only',
      `machine), each running its tasks against one shared copy of the weights or one copy per task. Outputs of every`,
      `configuration ${identical ? 'are byte-identical' : 'DIFFER'} (compared as files).`,
      '',
      table(
        ['devices', 'tasks per device', 'weights', 'inputs/s', 'most copies on a device'],
        infer.map((x) => [x.devices, x.tasks, x.share ? 'shared' : 'per task', x.throughput.toFixed(1), x.copies]),
      ),
      '',
      "Tasks that fit a device with 1 GiB of memory (weights + each task's planned activation arena):",
      '',
      table(
        ['model', 'weights', 'activations per task', 'tasks, shared weights', 'tasks, a copy per task', 'ratio', 'target ≥ 3×'],
        budgets.map((b) => [
          b.model,
          bytes(b.weightBytes),
          bytes(b.activationBytes),
          b.shared,
          b.unshared,
          `${(b.shared / b.unshared).toFixed(1)}×`,
          b.shared >= 3 * b.unshared ? 'met' : 'missed',
        ]),
      ),
      '',
      '## Jobs',
      '',
      table(
        ['run', 'state', 'how', 'attempts', 'stalled'],
        outcomes.map((x) => [x.run, x.state, x.how, x.attempts, x.stalled]),
      ),
      '',
      '## Aggregate (learned policy, final evaluation, mean over 4 seeds)',
      '',
      table(
        ['grid point', 'throughput req/s [95 % CI]', 'SLO attainment [95 % CI]'],
        result.aggregate.map((p) => [
          p.point,
          `${p.throughput.mean.toFixed(2)} [${p.throughput.ci95.map((x) => x.toFixed(2)).join(', ')}]`,
          `${p.sloAttainment.mean.toFixed(3)} [${p.sloAttainment.ci95.map((x) => x.toFixed(3)).join(', ')}]`,
        ]),
      ),
      '',
    ].join('\n');
    if (o.out) {
      writeFileAtomic(o.out, md);
      writeFileAtomic(o.out.replace(/\.md$/, '.json'), `${JSON.stringify(result, null, 1)}\n`);
    }
    return md;
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await redis.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
