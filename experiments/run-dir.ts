/**
 * Run directories: `runs/<name>_<digest>_seed<seed>/`, where the digest is a short SHA-256 of the
 * resolved config without name and seed — the same parameters always land in the same folder, and
 * seeds of one config sit side by side. Contents:
 *
 *   config.yaml     the fully resolved config (defaults + file + overrides, workload inlined)
 *   meta.json       seed, git commit + dirty flag, command line, node, machine, start/end, status
 *   train.log       one line per log interval / event (appended, one write per line)
 *   metrics.csv     step,tag,value,wall_time (agents/metrics.ts's long format; appended)
 *   tb/             TensorBoard event files (agents/tensorboard.ts; a new file per session)
 *   checkpoints/latest   the last checkpoint (agents/checkpoint.ts, replaced atomically)
 *   results.json    the final evaluation;  eval-<timestamp>.json  later `topsched eval` runs
 *   run.lock        pid and host of the process training it (a second `train` is refused)
 *
 * config.yaml, meta.json and the JSON results are written atomically (temp file + rename), and so
 * are checkpoints (a folder renamed into place). The logs are append-only streams, one write per
 * line or row; on resume metrics.csv is cut back (atomically) to the checkpoint's step so a run that
 * died between checkpoints does not log the replayed steps twice. TensorBoard gets a new events
 * file per session (it merges them by step).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { configToYaml } from './config/load.js';
import type { RunConfig } from './config/schema.js';
import { machineLine, writeFileAtomic } from './machine.js';

export type RunStatus = 'running' | 'completed' | 'interrupted' | 'failed';

export interface RunMeta {
  format: 'topsched.run/1';
  name: string;
  seed: number;
  digest: string;
  git: { commit: string; dirty: boolean | null };
  /** argv of every session (the first run, then each resume). */
  commands: string[][];
  node: string;
  machine: string;
  startedAt: string;
  endedAt: string | null;
  status: RunStatus;
  /** Env steps done when the status was last written. */
  step: number;
  error?: string;
  /**
   * trainingDigest of the config the run was created with: what a resume must not change
   * (seed, env, agent). Absent in runs made before it existed.
   */
  trainingDigest?: string;
}

export const RUN_FILES = {
  config: 'config.yaml',
  meta: 'meta.json',
  log: 'train.log',
  metrics: 'metrics.csv',
  tensorboard: 'tb',
  checkpoint: join('checkpoints', 'latest'),
  results: 'results.json',
  lock: 'run.lock',
} as const;

/** JSON with sorted keys: the digest must not depend on key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** 8 hex digits of SHA-256 over the config without name and seed. */
export function paramDigest(cfg: RunConfig): string {
  const { name: _n, seed: _s, ...params } = cfg;
  return createHash('sha256').update(canonical(params)).digest('hex').slice(0, 8);
}

/**
 * 16 hex digits of SHA-256 over what fixes a run's trajectory: seed, env and the learner's options
 * (agent for MADDPG, so digests of runs made before MAPPO are unchanged; algorithm + mappo for MAPPO) (train.* and
 * eval.* may change on resume). `--resume` compares it with the run's meta.json.
 */
export function trainingDigest(cfg: RunConfig): string {
  return createHash('sha256')
    .update(
      canonical(
        cfg.algorithm === 'mappo'
          ? { seed: cfg.seed, env: cfg.env, algorithm: cfg.algorithm, mappo: cfg.mappo }
          : { seed: cfg.seed, env: cfg.env, agent: cfg.agent },
      ),
    )
    .digest('hex')
    .slice(0, 16);
}

export function runDirName(cfg: RunConfig): string {
  return `${cfg.name}_${paramDigest(cfg)}_seed${cfg.seed}`;
}

export function gitInfo(cwd = process.cwd()): RunMeta['git'] {
  const git = (args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git(['rev-parse', 'HEAD']);
    let dirty: boolean | null = null;
    try {
      dirty = git(['status', '--porcelain', '--untracked-files=no']).length > 0;
    } catch {
      // status can fail on a read-only checkout: unknown, not clean.
    }
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: null };
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function readMeta(dir: string): RunMeta {
  const file = join(dir, RUN_FILES.meta);
  if (!existsSync(file)) throw new Error(`${dir}: not a run directory (no ${RUN_FILES.meta})`);
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as RunMeta;
    if (m.format !== 'topsched.run/1') throw new Error(`format is ${JSON.stringify(m.format)}, expected 'topsched.run/1'`);
    return m;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

export function writeMeta(dir: string, meta: RunMeta): void {
  writeJsonAtomic(join(dir, RUN_FILES.meta), meta);
}

/**
 * Creates a run directory for `cfg` (default runs/<runDirName>) with config.yaml and a 'running'
 * meta.json. An existing run there is an error pointing at --resume (a finished run is never
 * overwritten silently).
 */
export function createRunDir(cfg: RunConfig, opts: { dir?: string; root?: string; argv?: string[] } = {}): { dir: string; meta: RunMeta; release: () => void } {
  const dir = resolve(opts.dir ?? join(opts.root ?? 'runs', runDirName(cfg)));
  if (existsSync(join(dir, RUN_FILES.meta))) {
    const old = readMeta(dir);
    throw new Error(
      `${dir}: a run already exists there (status ${old.status}, step ${old.step}); use --resume ${dir} to continue it, or --run-dir to choose another folder`,
    );
  }
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new Error(`${dir}: exists and is not a directory; choose another --run-dir`);
    const present = readdirSync(dir).filter((f) => f !== RUN_FILES.lock);
    if (present.length)
      throw new Error(
        `${dir}: the folder exists and is not a run directory (it holds ${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}); choose an empty or new --run-dir`,
      );
  }
  mkdirSync(dir, { recursive: true });
  const release = lockRunDir(dir);
  try {
    writeFileAtomic(join(dir, RUN_FILES.config), configToYaml(cfg));
    const meta = { ...newRunMeta(cfg.name, cfg.seed, paramDigest(cfg), opts.argv), trainingDigest: trainingDigest(cfg) };
    writeMeta(dir, meta);
    return { dir, meta, release };
  } catch (e) {
    release();
    throw e;
  }
}

/** Whether process `pid` is alive on this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the run directory's lock (`run.lock`: pid, host, start time), held for the run's life, so a
 * second `train` on the same directory is refused. A lock left by a dead process on this host is
 * taken over, and with `takeOverForeign` one from another host (sweep jobs: the queue says its owner is gone). Returns the release function (idempotent; also run at process exit).
 */
export function lockRunDir(dir: string, o: { takeOverForeign?: boolean } = {}): () => void {
  const file = join(dir, RUN_FILES.lock);
  const me = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(me)}\n`, { flag: 'wx' });
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        process.off('exit', release);
        try {
          const now = JSON.parse(readFileSync(file, 'utf8'));
          if (now.pid === me.pid && now.host === me.host) unlinkSync(file);
        } catch {
          // already gone
        }
      };
      process.on('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${file}: cannot create the run lock: ${(e as Error).message}`);
    }
    let owner: { pid?: number; host?: string; startedAt?: string } = {};
    try {
      owner = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      // unreadable: treat as stale below only if it stays so
    }
    const sameHost = owner.host === hostname();
    // A lock from another host cannot be checked here; a sweep job may take it over, because BullMQ
    // only hands a job to this worker once the previous holder lost it (dead or stalled).
    if (typeof owner.pid === 'number' && (sameHost ? alive(owner.pid) : !o.takeOverForeign))
      throw new Error(
        `${dir}: another topsched process (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt}) is using this run directory; wait for it or stop it (a stale lock: delete ${file})`,
      );
    // The owner died without releasing: take the lock over.
    rmSync(file, { force: true });
  }
  throw new Error(`${file}: could not take the run lock`);
}

/** A 'running' meta.json for a new run: where (git, machine, node), when, and the command line. */
export function newRunMeta(name: string, seed: number, digest: string, argv: string[] = process.argv.slice(1)): RunMeta {
  return {
    format: 'topsched.run/1',
    name,
    seed,
    digest,
    git: gitInfo(),
    commands: [argv],
    node: process.version,
    machine: machineLine(),
    startedAt: new Date().toISOString(),
    endedAt: null,
    status: 'running',
    step: 0,
  };
}
