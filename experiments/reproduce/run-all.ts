/**
 * The batch logic behind `topsched reproduce <name|all>`: pick experiments (--only / --skip), print
 * the plan, run each one catching its failure so the rest still run, print a summary table, and
 * rewrite docs/results/README.md — an index of every experiment with its files and last run.
 *
 * The experiment list is a parameter (not the EXPERIMENTS registry) so tests can drive the whole
 * command with fake experiments, including one that fails.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { table } from '../format.js';
import { writeFileAtomic } from '../machine.js';
import type { Experiment } from './experiment.js';

export interface ReproduceOptions {
  outDir: string;
  /** A named scale for experiments that have scales (others ignore it). */
  scale?: string;
  /** Comma-separated experiment names to run (only with `all`). */
  only?: string;
  /** Comma-separated experiment names to leave out (only with `all`). */
  skip?: string;
  /** Progress lines of the experiments themselves. */
  log: (line: string) => void;
  /** The plan and the summary. */
  print: (line: string) => void;
  /** The clock stamped into the index (tests pin it). */
  now?: () => Date;
}

export interface ExperimentOutcome {
  name: string;
  status: 'ok' | 'failed';
  wallS: number;
  /**
   * CPU seconds of this process (user + system, all threads) during the run. On a shared machine
   * wall time stretches with other jobs' load; CPU time does not, so it is the better guess of the
   * wall time on a quiet 2-core machine for the mostly single-threaded experiments.
   */
  cpuS: number;
  /** Files under outDir created or rewritten by this experiment (names relative to outDir). */
  files: string[];
  error?: string;
}

export interface ReproduceSummary {
  outcomes: ExperimentOutcome[];
  /** 0 when every chosen experiment succeeded, 1 otherwise. */
  exitCode: number;
}

/** One experiment's entry in index.json: what the README index is rendered from. */
interface IndexEntry {
  status: 'ok' | 'failed';
  wallS: number;
  cpuS?: number;
  date: string;
  files: string[];
  error?: string;
}

/** The index's own files: never counted as an experiment's output. */
const INDEX_MD = 'README.md';
const INDEX_JSON = 'index.json';

function names(list: string | undefined, known: Experiment[], flag: string): Set<string> {
  const out = new Set(
    (list ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const unknown = [...out].filter((n) => !known.some((e) => e.name === n));
  if (unknown.length) throw new Error(`${flag}: unknown experiment ${unknown.map((n) => `'${n}'`).join(', ')} (known: ${known.map((e) => e.name).join(', ')})`);
  return out;
}

/** The experiments `name` (an experiment or `all`) with --only / --skip selects, in registry order. */
export function selectExperiments(experiments: Experiment[], name: string, only?: string, skip?: string): Experiment[] {
  if (name !== 'all') {
    if (only || skip) throw new Error(`--only and --skip go with 'all', not with a single experiment ('${name}')`);
    const e = experiments.find((x) => x.name === name);
    if (!e) throw new Error(`unknown experiment '${name}' (known: ${experiments.map((x) => x.name).join(', ')}, all)`);
    return [e];
  }
  const keep = names(only, experiments, '--only');
  const drop = names(skip, experiments, '--skip');
  const chosen = experiments.filter((e) => (keep.size === 0 || keep.has(e.name)) && !drop.has(e.name));
  if (!chosen.length) throw new Error('--only / --skip left no experiment to run');
  return chosen;
}

/** Identity of every file under dir (inode, size, mtime): a rewrite by rename changes the inode. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  const walk = (sub: string) => {
    for (const ent of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${ent.name}` : ent.name;
      if (ent.isDirectory()) walk(rel);
      else if (ent.isFile() && !/\.tmp-\d+$/.test(ent.name)) {
        const st = statSync(join(dir, rel));
        out.set(rel, `${st.ino}:${st.size}:${st.mtimeMs}`);
      }
    }
  };
  walk('');
  return out;
}

function changed(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after]
    .filter(([f, id]) => before.get(f) !== id && f !== INDEX_MD && f !== INDEX_JSON)
    .map(([f]) => f)
    .sort();
}

const minutes = (s: number) => (s < 60 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`);

/** Runs the chosen experiments one after another; a failure is logged and the next one still runs. */
export async function reproduce(experiments: Experiment[], name: string, opts: ReproduceOptions): Promise<ReproduceSummary> {
  const chosen = selectExperiments(experiments, name, opts.only, opts.skip);
  const now = opts.now ?? (() => new Date());
  const planned = Math.round(chosen.reduce((a, e) => a + e.minutes, 0) * 10) / 10;
  opts.print(`Plan: ${chosen.length} experiment${chosen.length === 1 ? '' : 's'}, about ${planned} min on the 2-core reference machine → ${opts.outDir}`);
  opts.print(
    table(
      ['experiment', 'minutes', 'description'],
      chosen.map((e) => [e.name, e.minutes, e.description]),
    ),
  );
  opts.print('');

  const outcomes: ExperimentOutcome[] = [];
  for (const [i, e] of chosen.entries()) {
    opts.print(`[${i + 1}/${chosen.length}] ${e.name} (planned ${e.minutes} min)`);
    const before = snapshot(opts.outDir);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let error: string | undefined;
    try {
      await e.run(opts.outDir, opts.log, { scale: opts.scale });
    } catch (err) {
      // Keep going: one broken experiment must not cost the results of the others.
      error = err instanceof Error ? err.message : String(err);
      opts.print(`${e.name}: FAILED — ${error}`);
      if (err instanceof Error && err.stack) opts.log(err.stack);
    }
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const files = changed(before, snapshot(opts.outDir));
    const outcome: ExperimentOutcome = {
      name: e.name,
      status: error === undefined ? 'ok' : 'failed',
      wallS,
      cpuS,
      files,
      ...(error !== undefined ? { error } : {}),
    };
    outcomes.push(outcome);
    if (!error) opts.print(`${e.name}: done in ${minutes(wallS)} (cpu ${minutes(cpuS)}), ${files.length} file${files.length === 1 ? '' : 's'} written`);
    // The index is rewritten after every experiment, so an interrupted batch still records what finished.
    writeResultsIndex(opts.outDir, experiments, [outcome], now());
  }

  const failed = outcomes.filter((o) => o.status === 'failed');
  const total = outcomes.reduce((a, o) => a + o.wallS, 0);
  opts.print('');
  opts.print(
    table(
      ['experiment', 'status', 'wall time', 'cpu time', 'planned', 'files written'],
      outcomes.map((o) => [
        o.name,
        o.status === 'ok' ? 'ok' : 'FAILED',
        minutes(o.wallS),
        minutes(o.cpuS),
        `${chosen.find((e) => e.name === o.name)?.minutes} min`,
        o.files.join(', ') || '—',
      ]),
    ),
  );
  opts.print(
    `${outcomes.length - failed.length} of ${outcomes.length} succeeded in ${minutes(total)} (planned ${planned} min)${failed.length ? `; failed: ${failed.map((o) => o.name).join(', ')}` : ''}; index: ${join(opts.outDir, INDEX_MD)}`,
  );
  return { outcomes, exitCode: failed.length ? 1 : 0 };
}

function readIndex(outDir: string): Record<string, IndexEntry> {
  const path = join(outDir, INDEX_JSON);
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, IndexEntry>;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message}); delete it to start a fresh index`);
  }
}

/**
 * Merges `outcomes` into outDir/index.json and renders outDir/README.md from it: every registered
 * experiment with its description, its files and its last run (experiments not run yet say so).
 * A failed run keeps the files of the last good one listed (they are still there) and says it failed.
 */
export function writeResultsIndex(outDir: string, experiments: Experiment[], outcomes: ExperimentOutcome[], date: Date): void {
  const index = readIndex(outDir);
  const stamp = `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  for (const o of outcomes) {
    const prev = index[o.name];
    const files = o.status === 'ok' ? o.files : [...new Set([...(prev?.files ?? []), ...o.files])].sort();
    index[o.name] = {
      status: o.status,
      wallS: Math.round(o.wallS * 10) / 10,
      cpuS: Math.round(o.cpuS * 10) / 10,
      date: stamp,
      files,
      ...(o.error !== undefined ? { error: o.error } : {}),
    };
  }
  writeFileAtomic(join(outDir, INDEX_JSON), `${JSON.stringify(index, null, 2)}\n`);

  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = experiments.map((e) => {
    const x = index[e.name];
    const files = x?.files.length ? x.files.map((f) => `[${f}](${f})`).join(', ') : '—';
    const last = x
      ? `${x.date}, ${minutes(x.wallS)}${x.cpuS !== undefined ? ` (cpu ${minutes(x.cpuS)})` : ''}${x.status === 'failed' ? `, **failed**: ${cell(x.error ?? '')}` : ''}`
      : 'not run yet';
    return `| \`${e.name}\` | ${cell(e.description)} | ${files} | ${last} | ${e.minutes} min |`;
  });
  const total = Math.round(experiments.reduce((a, e) => a + e.minutes, 0) * 10) / 10;
  const md = [
    '# Results',
    '',
    'Every file in this folder is written by `npx topsched reproduce <experiment>`; `npx topsched reproduce all` reruns',
    `all ${experiments.length} (about ${total} min on the 2-core reference machine; \`--only a,b\` / \`--skip a,b\` pick a subset).`,
    'Each results file names the machine, the backend, the command and the scale it was run at.',
    'This index is rewritten by every `reproduce` run; "last run" is that experiment\'s latest run: date, wall time and CPU time of the process',
    '(on a shared machine wall time stretches with other jobs\' load, CPU time much less). "planned" is the registry\'s budget.',
    '',
    '| experiment | what it measures | files | last run | planned |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  writeFileAtomic(join(outDir, INDEX_MD), md);
}
