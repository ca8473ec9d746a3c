/**
 * `topsched train <config.yaml> [key=value...]`: MADDPG (agents/maddpg.ts) on the AsyncInference
 * env of a run config, into a run directory (experiments/run-dir.ts): logs, metrics, TensorBoard
 * events, checkpoints, and a final evaluation against the baselines (results.json).
 *
 * Stopping and resuming. A checkpoint resumes bit-exactly only between episodes (the env's inner
 * state — queues, tasks in flight, arrival streams — is not in it; the trainer re-seeds each episode
 * from its index). So Ctrl-C (SIGINT, or `signal`) lets the current step finish, then keeps stepping
 * to the end of the current episode (at most env.maxSteps / agent.maxEpisodeSteps steps), writes
 * checkpoints/latest, marks the run interrupted and exits 130. A second Ctrl-C exits at once: the
 * run dir keeps its last periodic checkpoint and `--resume` replays from there (the logs are cut
 * back to that step). `train --resume <run-dir>` continues to train.steps and ends bit-identical to
 * a run that never stopped. (The final checkpoint of a completed run may fall mid-episode; raising
 * train.steps and resuming it starts a fresh episode there, which an uninterrupted longer run would
 * not — exact, but a different trajectory.)
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { type BackendChoice, initBackend } from '../../agents/backend.js';
import { loadMaddpg, loadMappo, recoverCheckpoint, saveMaddpg, saveMappo } from '../../agents/checkpoint.js';
import { MaddpgTrainer } from '../../agents/maddpg.js';
import { MappoTrainer } from '../../agents/mappo.js';
import { fanOut } from '../../agents/metrics.js';
import { ProgressBar } from '../../agents/progress.js';
import { type MetricsSink, TensorBoardWriter } from '../../agents/tensorboard.js';
import { AsyncInferenceEnv, LAUNCHER } from '../../env/async-inference-env.js';
import type { VectorEnv } from '../../env/vector.js';
import { DEFAULT_RUN_CONFIG } from '../config/defaults.js';
import { configToYaml, loadRunConfig } from '../config/load.js';
import { parseOverride } from '../config/overrides.js';
import type { RunConfig } from '../config/schema.js';
import { printJson } from '../format.js';
import { writeFileAtomic } from '../machine.js';
import {
  createRunDir,
  lockRunDir,
  RUN_FILES,
  type RunMeta,
  type RunStatus,
  readMeta,
  runDirName,
  trainingDigest,
  writeJsonAtomic,
  writeMeta,
} from '../run-dir.js';
import { agentPolicy, type EvalReport, envOptions, evalTable, evaluatePolicies, evaluateRun, mappoConfig, mappoVector } from './eval.js';

export interface TrainRunOptions {
  /** A new run: the resolved config. */
  config?: RunConfig;
  /** Or continue the run in this directory. */
  resume?: string;
  /** Where a new run goes (default runs/<name>_<digest>_seed<seed>). */
  runDir?: string;
  root?: string;
  /** Resume only: overrides of train.* / eval.* (e.g. train.steps=60000 to train longer). */
  overrides?: string[];
  /** Aborting stops at the next episode boundary with a checkpoint (what SIGINT does). */
  signal?: AbortSignal;
  /** Progress lines (train.log gets them too). */
  log?: (line: string) => void;
  progress?: boolean;
  argv?: string[];
  /** Skip the final evaluation (tests of the loop itself). */
  skipFinalEval?: boolean;
  /** Resume only: when the run has no usable checkpoint, train it again from step 0 instead of failing. */
  restart?: boolean;
  /** Resume only: continue even though config.yaml's seed / env / agent differ from the run's. */
  allowConfigChange?: boolean;
  /** Resume only: take over a run lock held from another host (a sweep job retried after its worker died). */
  takeOverForeignLock?: boolean;
}

export interface TrainResult {
  dir: string;
  status: RunStatus;
  steps: number;
  episodes: number;
  updates: number;
  /** Wall seconds of this session. */
  wallS: number;
  results?: EvalReport;
}

/** metrics.csv in agents/metrics.ts's long format, appended (so a resumed run keeps its history). */
class AppendCsv implements MetricsSink {
  constructor(readonly file: string) {
    if (!existsSync(file)) writeFileSync(file, 'step,tag,value,wall_time\n');
  }
  scalar(tag: string, value: number, step: number): void {
    appendFileSync(this.file, `${step},${tag},${value},${(Date.now() / 1000).toFixed(3)}\n`);
  }
  scalars(values: Record<string, number>, step: number): void {
    const rows = Object.entries(values).map(([t, v]) => `${step},${t},${v},${(Date.now() / 1000).toFixed(3)}\n`);
    if (rows.length) appendFileSync(this.file, rows.join(''));
  }
  close(): void {}
}

/** Drops rows past `step` (logged after the checkpoint a resume restarts from). */
function cutCsv(file: string, step: number): void {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const kept = [lines[0], ...lines.slice(1).filter((l) => Number(l.slice(0, l.indexOf(','))) <= step)];
  writeFileAtomic(file, `${kept.join('\n')}\n`);
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

/** Trains (or resumes) a run; never calls process.exit. */
export async function trainRun(o: TrainRunOptions): Promise<TrainResult> {
  let dir: string;
  let meta: RunMeta;
  let release: () => void;
  if (o.resume) {
    dir = resolve(o.resume);
    readMeta(dir); // not a run directory: an error before anything is locked or written
    release = lockRunDir(dir, { takeOverForeign: o.takeOverForeignLock });
    meta = readMeta(dir);
  } else {
    if (!o.config) throw new Error('trainRun: a config or a run directory to resume is needed');
    ({ dir, meta, release } = createRunDir(o.config, { dir: o.runDir, root: o.root, argv: o.argv }));
  }
  try {
    return await trainLocked(o, dir, meta, o.config);
  } finally {
    release();
  }
}

/** Where a resume starts: the recovered checkpoint, or null for a restart from step 0 (asked for). */
function resumePoint(dir: string, o: TrainRunOptions, say: (line: string) => void): string | null {
  try {
    return recoverCheckpoint(join(dir, RUN_FILES.checkpoint), say);
  } catch (e) {
    if (!o.restart) throw new Error(`${dir}: cannot resume: ${(e as Error).message}; pass --restart to train the run again from step 0`);
    say(`no usable checkpoint (${(e as Error).message}): restarting from step 0 as asked (--restart)`);
    return null;
  }
}

async function trainLocked(o: TrainRunOptions, dir: string, meta: RunMeta, newConfig: RunConfig | undefined): Promise<TrainResult> {
  let cfg: RunConfig;
  let resumeFrom: string | null = null;
  const logFile = join(dir, RUN_FILES.log);
  const say = (line: string) => {
    appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
    o.log?.(line);
  };
  if (o.resume) {
    const extra = o.overrides ?? [];
    for (const t of extra) {
      const head = parseOverride(t).path[0];
      if (head !== 'train' && head !== 'eval') throw new Error(`override '${t}': a resumed run keeps its config; only train.* and eval.* may change`);
    }
    cfg = loadRunConfig(join(dir, RUN_FILES.config), extra);
    if (meta.status === 'completed' && meta.step >= cfg.train.steps)
      throw new Error(`${dir}: the run is already completed (${meta.step} steps); raise train.steps to continue it`);
    const digest = trainingDigest(cfg);
    if (meta.trainingDigest && meta.trainingDigest !== digest) {
      if (!o.allowConfigChange)
        throw new Error(
          `${join(dir, RUN_FILES.config)}: seed, env or agent differ from the config the run was trained with (digest ${digest}, run ${meta.trainingDigest}); a resume would not continue the same run. Restore the config, start a new run, or pass --allow-config-change`,
        );
      say(`config changed since the run started (digest ${meta.trainingDigest} → ${digest}); continuing as asked (--allow-config-change)`);
    }
    resumeFrom = resumePoint(dir, o, say);
    if (extra.length) writeFileAtomic(join(dir, RUN_FILES.config), configToYaml(cfg));
    meta = {
      ...meta,
      commands: [...meta.commands, o.argv ?? process.argv.slice(1)],
      status: 'running',
      endedAt: null,
      error: undefined,
      trainingDigest: digest,
    };
  } else cfg = newConfig as RunConfig;

  const ckpt = join(dir, RUN_FILES.checkpoint);
  let env: AsyncInferenceEnv;
  let trainer: MaddpgTrainer | MappoTrainer;
  let vec: VectorEnv<Float32Array, Int32Array> | null = null;
  try {
    await initBackend(cfg.train.backend as BackendChoice, { log: () => {} });
    env = new AsyncInferenceEnv(envOptions(cfg));
    if (cfg.algorithm === 'mappo') {
      const v = await mappoVector(cfg);
      vec = v;
      trainer = resumeFrom ? loadMappo(resumeFrom, v) : new MappoTrainer(v, { ...mappoConfig(cfg), seed: cfg.seed });
    } else trainer = resumeFrom ? loadMaddpg(resumeFrom, env) : new MaddpgTrainer(env, { ...cfg.agent, seed: cfg.seed });
    if (resumeFrom) say(`resumed from ${RUN_FILES.checkpoint} at step ${trainer.counters.step}`);
  } catch (e) {
    writeMeta(dir, { ...meta, status: 'failed', endedAt: new Date().toISOString(), error: (e as Error).message });
    say(`failed: ${(e as Error).message}`);
    throw e;
  }
  let evalEnv: AsyncInferenceEnv | null = null;
  cutCsv(join(dir, RUN_FILES.metrics), trainer.counters.step);
  meta.step = trainer.counters.step;
  writeMeta(dir, meta);

  const sink = fanOut(new TensorBoardWriter(join(dir, RUN_FILES.tensorboard)), new AppendCsv(join(dir, RUN_FILES.metrics)));
  const returns: number[] = [];
  const hook = (step: number, m: Record<string, number>) => {
    sink.scalars(m, step);
    const r = m[`episode/return/${LAUNCHER}`];
    if (r !== undefined) returns.push(r);
  };
  const total = cfg.train.steps;
  // ProgressBar draws only on a TTY; `progress: false` (e.g. --json, --no-progress) skips it entirely.
  const bar = o.progress ? new ProgressBar({ total, label: 'train' }) : null;
  const t0 = performance.now();
  const startStep = trainer.counters.step;
  let lastCkpt = startStep;
  let lastEval = startStep;
  const save = (why: string) => {
    if (trainer instanceof MappoTrainer) saveMappo(trainer, ckpt, { allowMidIteration: !trainer.betweenEpisodes });
    else saveMaddpg(trainer, ckpt, { allowMidEpisode: !trainer.betweenEpisodes });
    lastCkpt = trainer.counters.step;
    meta.step = trainer.counters.step;
    writeMeta(dir, meta);
    say(`checkpoint at step ${trainer.counters.step} (${why})`);
  };
  const finish = (status: RunStatus, error?: string) => {
    meta = { ...meta, status, step: trainer.counters.step, endedAt: new Date().toISOString(), ...(error ? { error } : {}) };
    writeMeta(dir, meta);
  };

  let status: RunStatus = 'running';
  let lastLog = startStep;
  let iterations = 0;
  try {
    if (trainer.counters.step < total) say(`training ${cfg.name} (seed ${cfg.seed}) from step ${trainer.counters.step} to ${total} in ${dir}`);
    while (trainer.counters.step < total) {
      trainer.train(1, hook);
      const step = trainer.counters.step;
      iterations++;
      // A MAPPO step is one vector step (envs env steps): log when a logEvery boundary is crossed.
      if (Math.floor(step / cfg.train.logEvery) > Math.floor(lastLog / cfg.train.logEvery) || step >= total) {
        lastLog = step;
        const sps = (step - startStep) / ((performance.now() - t0) / 1000);
        const recent = returns.slice(-5);
        const losses = trainer.lastLosses.criticLoss.map((l) => l.toFixed(4)).join('/');
        say(
          `step ${step}/${total} episodes ${trainer.counters.episode} updates ${trainer.counters.updates} return(last ${recent.length}) ${mean(recent).toFixed(2)} critic loss ${losses} ${sps.toFixed(0)} steps/s`,
        );
        sink.scalars({ 'train/steps_per_s': sps }, step);
      }
      bar?.update(step, { ep: trainer.counters.episode, ret: returns.length ? returns[returns.length - 1] : 0 });
      // Let SIGINT handlers run: the loop is synchronous otherwise.
      if (iterations % 16 === 0 || trainer.betweenEpisodes) await new Promise((r) => setImmediate(r));
      if (!trainer.betweenEpisodes) continue;
      if (o.signal?.aborted) {
        save('interrupted');
        status = 'interrupted';
        break;
      }
      if (cfg.train.checkpointEvery > 0 && step - lastCkpt >= cfg.train.checkpointEvery) save('periodic');
      if (cfg.train.evalEvery > 0 && step - lastEval >= cfg.train.evalEvery) {
        lastEval = step;
        evalEnv ??= new AsyncInferenceEnv(envOptions(cfg));
        const [ev] = await evaluatePolicies(evalEnv, [agentPolicy(trainer, cfg.algorithm)], cfg.train.evalEpisodes, cfg.eval.seed);
        sink.scalars(
          { 'eval/throughput': ev.mean.throughput, 'eval/p99_ms': ev.mean.p99Ms, 'eval/slo': ev.mean.sloAttainment, 'eval/return': ev.mean.return },
          step,
        );
        say(
          `eval at step ${step}: throughput ${ev.mean.throughput.toFixed(1)} req/s, p99 ${ev.mean.p99Ms.toFixed(1)} ms, SLO ${(ev.mean.sloAttainment * 100).toFixed(1)}%`,
        );
      }
    }
    bar?.done({ ep: trainer.counters.episode });
    let results: EvalReport | undefined;
    if (status !== 'interrupted') {
      if (lastCkpt !== trainer.counters.step || !existsSync(join(ckpt, 'meta.json'))) save('final');
      if (!o.skipFinalEval) {
        evalEnv ??= new AsyncInferenceEnv(envOptions(cfg));
        say(`final evaluation: ${cfg.eval.episodes} episodes, baselines ${cfg.eval.baselines.join(', ') || 'none'}`);
        results = await evaluateRun(evalEnv, trainer, {
          name: cfg.algorithm,
          episodes: cfg.eval.episodes,
          seed: cfg.eval.seed,
          baselines: cfg.eval.baselines,
          checkpoint: ckpt,
          runDir: dir,
        });
        writeJsonAtomic(join(dir, RUN_FILES.results), results);
        for (const line of evalTable(results).split('\n')) say(line);
      }
      status = 'completed';
    }
    finish(status);
    const wallS = (performance.now() - t0) / 1000;
    say(`${status} at step ${trainer.counters.step} (${wallS.toFixed(1)} s this session)`);
    return { dir, status, steps: trainer.counters.step, episodes: trainer.counters.episode, updates: trainer.counters.updates, wallS, results };
  } catch (e) {
    finish('failed', (e as Error).message);
    say(`failed: ${(e as Error).message}`);
    throw e;
  } finally {
    sink.close();
    trainer.dispose();
    env.close();
    vec?.close();
    evalEnv?.close();
  }
}

interface TrainCliOpts {
  resume?: string;
  restart?: boolean;
  allowConfigChange?: boolean;
  runDir?: string;
  printDefaults?: boolean;
  json?: boolean;
  progress?: boolean;
}

export function registerTrain(program: Command): void {
  program
    .command('train [config] [overrides...]')
    .description('train MADDPG on the env of a run config (YAML) into a run directory; key=value overrides follow the config (dotted paths, [index])')
    .option('--resume <run-dir>', 'continue an interrupted or failed run to its train.steps (overrides: train.* / eval.* only)')
    .option('--restart', '--resume only: when the run has no usable checkpoint, train it again from step 0 (default: an error)')
    .option('--allow-config-change', "--resume only: continue although config.yaml's seed / env / agent changed since the run started")
    .option('--run-dir <dir>', 'where the run goes (default runs/<name>_<param digest>_seed<seed>); must be new, empty, or a run to --resume')
    .option('--print-defaults', 'print every default as YAML, with a comment per field, and exit')
    .option('--no-progress', 'no progress bar even on a terminal')
    .option('--json', 'print a JSON summary (run dir, status, steps, final results)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  topsched train experiments/configs/two-models.yaml',
        '  topsched train experiments/configs/two-models.yaml seed=1 agent.lr=3e-4 train.steps=5000',
        '  topsched train experiments/configs/four-models.yaml env.workload.models[2].arrival.rates[1]=300 --run-dir runs/busy-resnet',
        '  topsched train --resume runs/two-models_1a2b3c4d_seed0',
        '  topsched train --print-defaults',
        '',
        'Ctrl-C (or SIGTERM) finishes the current episode, writes a checkpoint and exits 130 (143); --resume continues bit-identically.',
        'A resume refuses a run without a usable checkpoint (--restart trains it again from 0) and a config.yaml whose seed, env or agent changed (--allow-config-change).',
      ].join('\n'),
    )
    .action(async (config: string | undefined, overrides: string[], opts: TrainCliOpts) => {
      if (opts.printDefaults) {
        process.stdout.write(configToYaml(DEFAULT_RUN_CONFIG, true));
        return;
      }
      if (!opts.resume && !config) throw new Error('train: give a config file, --resume <run-dir>, or --print-defaults');
      if (opts.resume && config) overrides = [config, ...overrides];
      if (!opts.resume && (opts.restart || opts.allowConfigChange)) throw new Error('train: --restart and --allow-config-change apply to --resume only');
      const ac = new AbortController();
      let hits = 0;
      let runDir: string | undefined;
      // SIGINT (Ctrl-C) and SIGTERM (kill, a scheduler's stop) alike: finish the episode, checkpoint,
      // mark the run interrupted, exit 128 + the signal's number (130, 143).
      let exitCode = 130;
      const onSignal = (signal: NodeJS.Signals) => {
        hits += 1;
        exitCode = signal === 'SIGTERM' ? 143 : 130;
        if (hits === 1) {
          process.stderr.write(`\ntopsched train: interrupt (${signal}) — finishing the current episode, then checkpointing (again to stop now)\n`);
          ac.abort();
          return;
        }
        // A second signal: the last periodic checkpoint stays the resume point.
        if (runDir && existsSync(join(runDir, RUN_FILES.meta))) {
          const m = readMeta(runDir);
          writeMeta(runDir, { ...m, status: 'interrupted', endedAt: new Date().toISOString() });
        }
        process.exit(exitCode);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const cfg = opts.resume ? undefined : loadRunConfig(config as string, overrides);
        if (opts.resume) runDir = resolve(opts.resume);
        else if (cfg) runDir = resolve(opts.runDir ?? join('runs', runDirName(cfg)));
        const tty = Boolean(process.stderr.isTTY);
        const r = await trainRun({
          config: cfg,
          resume: opts.resume,
          runDir,
          overrides: opts.resume ? overrides : undefined,
          restart: opts.restart,
          allowConfigChange: opts.allowConfigChange,
          signal: ac.signal,
          progress: opts.progress !== false && tty && !opts.json,
          log: opts.json || tty ? undefined : (l) => console.log(l),
        });
        if (opts.json) printJson(r);
        else {
          // Without a terminal the log lines (the table included) already went to stdout.
          if (r.results && tty) console.log(evalTable(r.results));
          console.log(`${r.status}: ${r.steps} steps, ${r.episodes} episodes, ${r.updates} updates in ${r.wallS.toFixed(1)} s → ${r.dir}`);
        }
        if (r.status === 'interrupted') process.exitCode = exitCode;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
