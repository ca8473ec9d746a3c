/**
 * `topsched train` / `topsched eval` on a tiny config: the run directory's contents, Ctrl-C →
 * checkpoint → `--resume` ending bit-identical to an uninterrupted run (the CLI spawned as a child
 * process and sent SIGINT mid-run, then resumed), and eval's output shape and its agreement with results.json.
 * The child runs the TypeScript sources through a small loader hook (typescript's transpileModule),
 * so no build step is needed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../agents/checkpoint.js';
import { readCsvLog } from '../agents/metrics.js';
import { readEvents } from '../agents/tensorboard.js';
import { type EvalReport, evalCheckpoint } from '../experiments/commands/eval.js';
import { trainRun } from '../experiments/commands/train.js';
import { loadRunConfig, resolveRunConfig } from '../experiments/config/load.js';
import { readMeta } from '../experiments/run-dir.js';
import { nativeAvailable } from '../native/index.js';
import { cli } from './cli-helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'topsched-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 20-step episodes, updates from step 40; checkpoints every 40 steps (at episode boundaries).
const TINY = `name: tiny
seed: 3
env:
  workload: ${join(root, 'experiments', 'workloads', 'two-models.yaml')}
  maxSteps: 20
  candidates: [sequential, greedy]
  reward: { scale: 0.1, wSlo: 0 }
agent: { batchSize: 16, learningStarts: 40, trainFreq: 4, hidden: [8], maxEpisodeSteps: 20, bufferSize: 2000 }
train: { steps: STEPS, logEvery: 20, checkpointEvery: 40 }
eval: { episodes: 2, baselines: [greedy-release, random] }
`;
const tinyFile = (steps: number) => {
  const f = join(dir, `tiny-${steps}.yaml`);
  writeFileSync(f, TINY.replace('STEPS', String(steps)));
  return f;
};

/** The loader hook: `.js` specifiers that only exist as `.ts` resolve to the `.ts`, which is transpiled. */
function writeLoader(): string {
  const ts = pathToFileURL(join(root, 'node_modules', 'typescript', 'lib', 'typescript.js')).href;
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from '${ts}';
export async function resolve(spec, ctx, next) {
  if (spec.startsWith('.') && spec.endsWith('.js') && ctx.parentURL?.startsWith('file:')) {
    const url = new URL(spec, ctx.parentURL);
    const tsUrl = new URL(url.href.replace(/\\.js$/, '.ts'));
    if (!existsSync(fileURLToPath(url)) && existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, format: 'module', shortCircuit: true };
  }
  return next(spec, ctx);
}
export async function load(url, ctx, next) {
  if (!url.endsWith('.ts')) return next(url, ctx);
  const file = fileURLToPath(url);
  const out = ts.transpileModule(readFileSync(file, 'utf8'), { fileName: file, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}
`,
  );
  const reg = join(dir, 'register.mjs');
  writeFileSync(reg, `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
  return reg;
}

function spawnCli(
  loader: string,
  args: string[],
  onLine?: (line: string, child: ChildProcess) => void,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', loader, join(root, 'experiments', 'cli.ts'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        onLine?.(buf.slice(0, nl), child);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** step,tag,value rows (wall times differ between runs). */
const metricRows = (runDir: string) => readCsvLog(join(runDir, 'metrics.csv')).map((r) => `${r.step},${r.tag},${r.value}`);
const withoutTimes = (r: EvalReport) => r.policies.map((p) => ({ name: p.name, mean: p.mean, episodes: p.episodes }));

describe('topsched train / eval', () => {
  const plain = join(dir, 'plain');

  it('writes a complete run directory', async () => {
    const cfg = loadRunConfig(tinyFile(80));
    const r = await trainRun({ config: cfg, runDir: plain, argv: ['train', 'tiny.yaml'] });
    expect(r).toMatchObject({ status: 'completed', steps: 80, episodes: 4 });
    expect(r.updates).toBe((80 - 40) / 4 + 1);
    expect(readdirSync(plain).sort()).toEqual(['checkpoints', 'config.yaml', 'meta.json', 'metrics.csv', 'results.json', 'tb', 'train.log']);
    // config.yaml is the fully resolved config.
    expect(loadRunConfig(join(plain, 'config.yaml'))).toEqual(cfg);
    const meta = readMeta(plain);
    expect(meta).toMatchObject({ name: 'tiny', seed: 3, status: 'completed', step: 80, node: process.version, commands: [['train', 'tiny.yaml']] });
    expect(meta.git.commit).toMatch(/^([0-9a-f]{40}|unknown)$/);
    expect(Date.parse(meta.endedAt as string)).toBeGreaterThanOrEqual(Date.parse(meta.startedAt));
    const log = readFileSync(join(plain, 'train.log'), 'utf8');
    expect(log).toMatch(/step 80\/80 episodes 4 updates 11/);
    expect(log).toMatch(/checkpoint at step 40 \(periodic\)/);
    const rows = readCsvLog(join(plain, 'metrics.csv'));
    expect(rows.filter((x) => x.tag === 'episode/return/launcher').map((x) => x.step)).toEqual([20, 40, 60, 80]);
    expect(rows.filter((x) => x.tag === 'loss/critic/launcher')).toHaveLength(11);
    const tb = readdirSync(join(plain, 'tb'));
    expect(tb).toHaveLength(1);
    const ev = readEvents(join(plain, 'tb', tb[0]));
    expect(ev.truncated).toBe(false);
    expect(ev.events.filter((e) => e.values.some((v) => v.tag === 'episode/length'))).toHaveLength(4);
    const ck = readCheckpoint(join(plain, 'checkpoints', 'latest'), 'maddpg');
    expect((ck.meta.counters as { step: number }).step).toBe(80);
    const res = JSON.parse(readFileSync(join(plain, 'results.json'), 'utf8')) as EvalReport;
    expect(res.policies.map((p) => p.name)).toEqual(['maddpg', 'greedy-release', 'random']);
    expect(res).toMatchObject({ format: 'topsched.eval/1', trainedSteps: 80, executor: 'sim', seeds: [1_000_000, 1_000_001] });
    for (const p of res.policies) {
      expect(p.episodes.map((e) => e.steps)).toEqual([20, 20]);
      expect(p.mean.throughput).toBeCloseTo((p.episodes[0].throughput + p.episodes[1].throughput) / 2, 9);
      expect(p.mean.p50Ms).toBeLessThanOrEqual(p.mean.p99Ms);
      expect(p.mean.sloAttainment).toBeGreaterThanOrEqual(0);
      expect(p.mean.sloAttainment).toBeLessThanOrEqual(1);
    }
    // A second train into the same folder refuses and points at --resume.
    await expect(trainRun({ config: cfg, runDir: plain })).rejects.toThrow(/a run already exists there \(status completed, step 80\); use --resume/);
    await expect(trainRun({ resume: plain })).rejects.toThrow(/already completed \(80 steps\)/);
  }, 40_000);

  it('eval reproduces results.json on the same seeds and writes eval-<timestamp>.json', async () => {
    const out = JSON.parse(await cli('eval', plain, '--json')) as EvalReport & { file: string };
    const res = JSON.parse(readFileSync(join(plain, 'results.json'), 'utf8')) as EvalReport;
    expect(withoutTimes(out)).toEqual(withoutTimes(res));
    expect(existsSync(out.file)).toBe(true);
    expect(out.file).toMatch(/eval-\d{4}-\d\d-\d\dT[\d-]+Z\.json$/);
    // A checkpoint dir works too; fewer episodes and other baselines; the table names every policy.
    const table = await cli('eval', join(plain, 'checkpoints', 'latest'), '--episodes', '1', '--baselines', 'one-at-a-time');
    expect(table).toMatch(/policy\s+throughput req\/s\s+p50 ms\s+p99 ms\s+SLO met\s+end backlog/);
    expect(table).toMatch(/\nmaddpg\s+[\d.]+/);
    expect(table).toMatch(/\none-at-a-time\s+[\d.]+/);
    await expect(cli('eval', plain, '--baselines', 'oracle')).rejects.toThrow(/--baselines: unknown baseline 'oracle'/);
    await expect(cli('eval', dir)).rejects.toThrow(/neither a run directory/);
    const help = await cli('eval', '--help');
    expect(help).toMatch(/Examples:\n {2}topsched eval/);
    expect(await cli('train', '--help')).toMatch(/Examples:\n {2}topsched train/);
  }, 30_000);

  it.skipIf(!nativeAvailable())(
    'evaluates on the native executor (stepAsync) with the same report shape',
    async () => {
      const cfg = resolveRunConfig({
        name: 'tiny-native',
        env: { workload: { models: [{ name: 'squeezenet1_1', sloMs: 50, arrival: { kind: 'poisson', rate: 100 } }] }, maxSteps: 5, candidates: ['sequential'] },
        agent: { batchSize: 4, learningStarts: 5, trainFreq: 1, hidden: [4], maxEpisodeSteps: 5 },
        train: { steps: 10 },
        eval: { episodes: 1, baselines: ['one-at-a-time'] },
      });
      const run = join(dir, 'native');
      await trainRun({ config: cfg, runDir: run, skipFinalEval: true });
      const r = await evalCheckpoint(cfg, join(run, 'checkpoints', 'latest'), run, { episodes: 1, seed: 0, executor: 'native', baselines: ['one-at-a-time'] });
      expect(r.executor).toBe('native');
      expect(r.policies.map((p) => p.name)).toEqual(['maddpg', 'one-at-a-time']);
      for (const p of r.policies) {
        expect(p.episodes[0].steps).toBe(5);
        // Measured time: latencies are real and positive whenever something completed.
        if (p.mean.throughput > 0) expect(p.mean.p50Ms).toBeGreaterThan(0);
      }
    },
    30_000,
  );

  it('Ctrl-C checkpoints at the episode end and exits 130; --resume ends bit-identical to an uninterrupted run', async () => {
    const loader = writeLoader();
    const cfgFile = tinyFile(200);
    const interrupted = join(dir, 'interrupted');
    let sent = false;
    const first = await spawnCli(loader, ['train', cfgFile, '--run-dir', interrupted], (line, child) => {
      if (!sent && /^step 20\/200 /.test(line)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(first.err).toMatch(/interrupt \(SIGINT\) — finishing the current episode/);
    expect(first.code).toBe(130);
    const meta = readMeta(interrupted);
    expect(meta.status).toBe('interrupted');
    expect(meta.step).toBeGreaterThan(0);
    expect(meta.step).toBeLessThan(200);
    expect(meta.step % 20).toBe(0);
    expect(existsSync(join(interrupted, 'results.json'))).toBe(false);
    // The resume runs in-process through the same command (a second child would double the start-up cost).
    const resumed = JSON.parse(await cli('train', '--resume', interrupted, '--json'));
    expect(resumed).toMatchObject({ status: 'completed', steps: 200, episodes: 10 });
    expect(readMeta(interrupted)).toMatchObject({ status: 'completed', step: 200 });
    expect(readMeta(interrupted).commands).toHaveLength(2);

    const straight = join(dir, 'straight');
    await trainRun({ config: loadRunConfig(cfgFile), runDir: straight });
    const a = readCheckpoint(join(interrupted, 'checkpoints', 'latest'));
    const b = readCheckpoint(join(straight, 'checkpoints', 'latest'));
    expect(Object.keys(a.arrays)).toEqual(Object.keys(b.arrays));
    for (const k of Object.keys(a.arrays)) expect(Buffer.from(a.arrays[k].buffer).equals(Buffer.from(b.arrays[k].buffer)), k).toBe(true);
    expect(a.meta).toEqual(b.meta);
    expect(metricRows(interrupted).filter((r) => !r.includes('steps_per_s'))).toEqual(metricRows(straight).filter((r) => !r.includes('steps_per_s')));
    const ra = JSON.parse(readFileSync(join(interrupted, 'results.json'), 'utf8')) as EvalReport;
    const rb = JSON.parse(readFileSync(join(straight, 'results.json'), 'utf8')) as EvalReport;
    expect(withoutTimes(ra)).toEqual(withoutTimes(rb));
  }, 58_000);

  it('SIGTERM checkpoints like Ctrl-C and exits 143; a second trainer on the same run directory is refused', async () => {
    const loader = writeLoader();
    const cfgFile = tinyFile(200);
    const run = join(dir, 'terminated');
    let sent = false;
    let refused = '';
    const first = await spawnCli(loader, ['train', cfgFile, '--run-dir', run], (line, child) => {
      if (!sent && /^step 20\/200 /.test(line)) {
        sent = true;
        // While the child holds the lock, a resume in this process is refused and changes nothing.
        trainRun({ resume: run }).catch((e) => {
          refused = (e as Error).message;
          child.kill('SIGTERM');
        });
      }
    });
    expect(refused).toMatch(/another topsched process \(pid \d+ .*\) is using this run directory/);
    expect(first.err).toMatch(/interrupt \(SIGTERM\)/);
    expect(first.code).toBe(143);
    expect(readMeta(run)).toMatchObject({ status: 'interrupted' });
    expect(existsSync(join(run, 'checkpoints', 'latest', 'meta.json'))).toBe(true);
    expect(existsSync(join(run, 'run.lock'))).toBe(false);
  }, 40_000);
});

describe('topsched train with algorithm: mappo', () => {
  it('trains on a vector env, stops at an iteration boundary when aborted, and --resume ends bit-identical', async () => {
    const file = join(dir, 'mappo.yaml');
    writeFileSync(
      file,
      TINY.replace('STEPS', '320').replace('agent: {', 'algorithm: mappo\nmappo: { envs: 2, rolloutSteps: 10, horizon: 20, hidden: [8] }\nagent: {'),
    );
    const straight = join(dir, 'mappo-straight');
    const done = await trainRun({ config: loadRunConfig(file), runDir: straight });
    expect(done).toMatchObject({ status: 'completed', steps: 320, episodes: 8, updates: 16 });
    const results = JSON.parse(readFileSync(join(straight, 'results.json'), 'utf8')) as EvalReport;
    expect(results.policies.map((p) => p.name)).toEqual(['mappo', 'greedy-release', 'random']);

    const stop = new AbortController();
    const interrupted = join(dir, 'mappo-interrupted');
    const first = await trainRun({
      config: loadRunConfig(file),
      runDir: interrupted,
      signal: stop.signal,
      log: (line) => {
        if (/^step 60\/320 /.test(line)) stop.abort();
      },
    });
    // The iteration (2 envs × 20 vector steps = 40 env steps) is finished before the checkpoint.
    expect(first).toMatchObject({ status: 'interrupted', steps: 80 });
    const resumed = await trainRun({ resume: interrupted });
    expect(resumed).toMatchObject({ status: 'completed', steps: 320 });
    const a = readCheckpoint(join(interrupted, 'checkpoints', 'latest'));
    const b = readCheckpoint(join(straight, 'checkpoints', 'latest'));
    expect(a.kind).toBe('mappo');
    for (const k of Object.keys(b.arrays)) expect(Buffer.from(a.arrays[k].buffer).equals(Buffer.from(b.arrays[k].buffer)), k).toBe(true);
    expect(a.meta).toEqual(b.meta);
    expect(metricRows(interrupted).filter((r) => !r.includes('steps_per_s'))).toEqual(metricRows(straight).filter((r) => !r.includes('steps_per_s')));
    const ra = JSON.parse(readFileSync(join(interrupted, 'results.json'), 'utf8')) as EvalReport;
    expect(withoutTimes(ra)).toEqual(withoutTimes(results));
    // eval re-runs the checkpoint on the same seeds.
    const ev = await evalCheckpoint(loadRunConfig(join(straight, 'config.yaml')), join(straight, 'checkpoints', 'latest'), straight, {
      episodes: 2,
      seed: results.seeds[0],
      executor: 'sim',
      baselines: ['greedy-release', 'random'],
    });
    expect(ev.policies[0].mean).toEqual(results.policies[0].mean);
  }, 60_000);
});

describe('what --resume and --run-dir refuse', () => {
  const cfg = () => loadRunConfig(tinyFile(40));

  it('refuses a run without a usable checkpoint unless asked to restart, and keeps metrics.csv', async () => {
    const run = join(dir, 'no-ckpt');
    await trainRun({ config: cfg(), runDir: run, skipFinalEval: true });
    const rows = readFileSync(join(run, 'metrics.csv'), 'utf8');
    rmSync(join(run, 'checkpoints'), { recursive: true });
    await expect(trainRun({ resume: run, overrides: ['train.steps=60'] })).rejects.toThrow(/cannot resume: no usable checkpoint: .*pass --restart/);
    expect(readFileSync(join(run, 'metrics.csv'), 'utf8')).toBe(rows);
    // An unreadable one is no better.
    mkdirSync(join(run, 'checkpoints', 'latest'), { recursive: true });
    writeFileSync(join(run, 'checkpoints', 'latest', 'meta.json'), '{"format": "topsched.checkpoint/1", "sha256": "x"}');
    await expect(trainRun({ resume: run, overrides: ['train.steps=60'] })).rejects.toThrow(/cannot resume/);
    const r = await trainRun({ resume: run, overrides: ['train.steps=60'], restart: true, skipFinalEval: true });
    expect(r).toMatchObject({ status: 'completed', steps: 60 });
  });

  it('refuses a config.yaml edited since the run started unless overridden', async () => {
    const run = join(dir, 'edited');
    await trainRun({ config: cfg(), runDir: run, skipFinalEval: true });
    const file = join(run, 'config.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/lr: [^\n]+/, 'lr: 0.5'));
    await expect(trainRun({ resume: run, overrides: ['train.steps=60'] })).rejects.toThrow(/seed, env or agent differ .*--allow-config-change/);
    const r = await trainRun({ resume: run, overrides: ['train.steps=60'], allowConfigChange: true, skipFinalEval: true });
    expect(r.steps).toBe(60);
  });

  it('refuses --run-dir on a folder that is not a run directory, leaving its files alone', async () => {
    const mine = join(dir, 'my-folder');
    mkdirSync(mine);
    writeFileSync(join(mine, 'config.yaml'), 'mine\n');
    writeFileSync(join(mine, 'results.json'), '{"mine": true}\n');
    await expect(trainRun({ config: cfg(), runDir: mine })).rejects.toThrow(/exists and is not a run directory/);
    expect(readFileSync(join(mine, 'config.yaml'), 'utf8')).toBe('mine\n');
    expect(readdirSync(mine).sort()).toEqual(['config.yaml', 'results.json']);
  });
});
