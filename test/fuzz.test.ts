/**
 * Fuzzing every entry point that takes user input (fast-check, fixed seeds so CI is repeatable):
 * graph JSON documents, ONNX bytes, schedules, run configs, `key=value` overrides, workloads, the
 * CLI, and the native executor. Over 10,000 cases per run. Each case must end in a valid result or
 * a clean error: an Error whose message names a place, never an internal JavaScript failure
 * ("Cannot read properties of null", a stack overflow, "Invalid typed array length"). The process
 * must stay alive (a native crash ends the test file) and nothing outside the temporary folder may
 * change.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkload } from '../env/workload.js';
import { resolveRunConfig } from '../experiments/config/load.js';
import { GraphBuilder } from '../graphs/builder.js';
import { SyntheticCostModel } from '../graphs/cost/index.js';
import { inferGraph } from '../graphs/infer.js';
import type { Graph } from '../graphs/ir.js';
import { graphFromString, graphToString } from '../graphs/json.js';
import { setMemoryLimit } from '../graphs/limits.js';
import { planMemory } from '../graphs/memory/planner.js';
import { exportOnnx } from '../graphs/onnx/export.js';
import { importOnnx } from '../graphs/onnx/import.js';
import { partition } from '../graphs/partition/index.js';
import { checkSchedule, type Schedule, scheduleFromString, sequentialSchedule } from '../graphs/schedule.js';
import { NativeExecutor, nativeAvailable } from '../native/index.js';
import { cli } from './cli-helpers.js';
import { randomDag } from './random-dag.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'topsched-fuzz-'));
let cases = 0;

/** Internal failures that must never reach a user. */
const INTERNAL =
  /Cannot read propert|Cannot set propert|undefined is not|null is not|is not a function|is not iterable|Maximum call stack|Invalid typed array length|Invalid array length|Array buffer allocation failed|out of memory|Unexpected end of JSON input at/i;

/** Runs `fn`; a thrown error must be a clean one. Returns the result, or undefined after an error. */
function clean<T>(what: string, input: unknown, fn: () => T): T | undefined {
  cases++;
  try {
    return fn();
  } catch (e) {
    expectClean(what, input, e);
    return undefined;
  }
}

function expectClean(what: string, input: unknown, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  const shown = () => `${what} on ${JSON.stringify(input)?.slice(0, 300)}: ${msg}\n${(e as Error)?.stack?.split('\n').slice(0, 4).join('\n')}`;
  if (!(e instanceof Error) || !msg || INTERNAL.test(msg)) throw new Error(`not a clean error: ${shown()}`);
}

async function cleanAsync<T>(what: string, input: unknown, fn: () => Promise<T>): Promise<T | undefined> {
  cases++;
  try {
    return await fn();
  } catch (e) {
    expectClean(what, input, e);
    return undefined;
  }
}

/** Top-level names and mtimes of the repository: nothing may appear, vanish or change there. */
function repoSnapshot(): string {
  return readdirSync(root)
    .filter((f) => !['node_modules', 'dist', '.git', 'runs', 'native'].includes(f))
    .map((f) => `${f}:${statSync(join(root, f)).isFile() ? statSync(join(root, f)).mtimeMs : 'dir'}`)
    .sort()
    .join('\n');
}

let before = '';
let cwd = '';
beforeAll(() => {
  before = repoSnapshot();
  // Relative paths the fuzzer invents (`--out x`) land in the temporary folder.
  cwd = process.cwd();
  process.chdir(dir);
  // A modest limit: generated shapes can be large, and a valid result must never allocate much.
  setMemoryLimit(256 * 2 ** 20);
});
afterAll(() => {
  process.chdir(cwd);
  setMemoryLimit(undefined);
  expect(repoSnapshot()).toBe(before);
  rmSync(dir, { recursive: true, force: true });
  console.log(`fuzz: ${cases} cases`);
});

function small(): Graph {
  const b = new GraphBuilder('small');
  const x = b.input('x', [1, 3, 8, 8]);
  const c = b.conv(x, { out: 4, kernel: 3, pad: 1, name: 'c1', bias: true });
  const r = b.relu(c);
  const d = b.conv(r, { out: 4, kernel: 1, name: 'c2' });
  const s = b.add(d, r);
  b.output(b.linear(b.flatten(b.globalAvgPool(s)), 5, { name: 'fc' }));
  return b.build();
}

/** A JSON value that replaces some node of a document: the values bad input tends to have. */
const junk = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.constant(Number.NaN),
  fc.integer({ min: -5, max: 1e9 }),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.integer({ min: -3, max: 70_000 }), { maxLength: 14 }),
  fc.constantFrom('__proto__', 'Conv', 'float32', 'int64', 'x', 'c1'),
);

/** Replaces the value at a random path of `doc` (a deep copy) with `value`. */
function mutate(doc: unknown, picks: number[], value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(doc));
  let node = copy;
  for (let i = 0; i < picks.length; i++) {
    if (node === null || typeof node !== 'object') break;
    const keys = Object.keys(node);
    if (!keys.length) break;
    const k = keys[picks[i] % keys.length];
    const child = node[k];
    if (i === picks.length - 1 || child === null || typeof child !== 'object') {
      node[k] = value;
      break;
    }
    node = child;
  }
  return copy;
}

const cost = new SyntheticCostModel({ seed: 3 });

describe('fuzz: every entry point ends in a valid result or a clean error', () => {
  it('graph JSON documents (mutated valid graphs, then inference and planning)', () => {
    const docs = [JSON.parse(graphToString(small())), JSON.parse(graphToString(randomDag({ nodes: 12, seed: 1 })))];
    fc.assert(
      fc.property(fc.nat(1), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), junk, (which, picks, value) => {
        const text = JSON.stringify(mutate(docs[which], picks, value));
        const g = clean('graphFromString+inferGraph', text, () => inferGraph(graphFromString(text, 'fuzz.json')));
        if (g) clean('planMemory', text, () => planMemory(g, sequentialSchedule(g)));
      }),
      { numRuns: 6000, seed: 101 },
    );
  });

  it('ONNX bytes (flipped, truncated and spliced exports)', () => {
    const bytes = [exportOnnx(small(), { seed: 1 }), exportOnnx(randomDag({ nodes: 8, seed: 2 }), { seed: 2 })];
    fc.assert(
      fc.property(
        fc.nat(1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        (which, flips, cut) => {
          const b = Uint8Array.from(bytes[which]);
          for (const [at, v] of flips) b[at % b.length] = v;
          const input = cut === undefined ? b : b.subarray(0, cut % b.length);
          clean('importOnnx', { which, flips, cut }, () => importOnnx(input, 'fuzz.onnx'));
        },
      ),
      { numRuns: 4000, seed: 102 },
    );
  });

  it('schedules (random stage structures, then validation and planning)', () => {
    const g = randomDag({ nodes: 10, seed: 3 });
    const ids = g.nodes.map((n) => n.id);
    const id = fc.oneof(fc.constantFrom(...ids), junk);
    const stage = fc.oneof(
      fc.record({ kind: fc.constantFrom('parallel', 'merge', 'other'), groups: fc.array(fc.array(id, { maxLength: 4 }), { maxLength: 3 }) }),
      junk,
    );
    fc.assert(
      fc.property(fc.array(stage, { maxLength: 12 }), fc.oneof(fc.constant(1), junk), fc.boolean(), (stages, batch, good) => {
        const s = good ? partition(g, 'greedy', cost).schedule : ({ model: g.name, batch, stages } as Schedule);
        const text = JSON.stringify({ format: 'topsched.schedule/1', ...s });
        const parsed = clean('scheduleFromString', text, () => scheduleFromString(text, 'fuzz-schedule.json'));
        if (!parsed) return;
        const v = clean('checkSchedule', text, () => checkSchedule(g, parsed));
        if (v && !v.length) {
          const plan = planMemory(g, parsed);
          expect(plan.arenaBytes).toBeGreaterThanOrEqual(plan.loadBytes);
        }
      }),
      { numRuns: 4000, seed: 103 },
    );
  });

  it('run configs and key=value overrides', () => {
    const keys = fc.constantFrom(
      'seed',
      'name',
      'env.streams',
      'env.levels',
      'env.levels[1]',
      'env.epochMs',
      'env.workload.models[0].arrival.rate',
      'env.workload.models[5].sloMs',
      'agent.hidden',
      'agent.bufferSize',
      'agent.lr',
      'train.steps',
      'eval.baselines[0]',
      '__proto__.polluted',
      'agent.constructor',
      'a..b',
      'env[0]',
      '',
    );
    const value = fc.oneof(
      fc.string({ maxLength: 10 }),
      fc.integer().map(String),
      fc.double().map(String),
      fc.constantFrom('[1, 2]', '{a: 1}', 'null', '~', '1e400', '-1', '[', '{"__proto__": {"x": 1}}'),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(keys, value), { maxLength: 4 }), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), junk, (pairs, picks, j) => {
        const overrides = pairs.map(([k, v]) => `${k}=${v}`);
        clean('resolveRunConfig overrides', overrides, () => resolveRunConfig({}, overrides, 'fuzz.yaml', dir));
        const doc = mutate({ seed: 1, env: { streams: 2, levels: [0, 1] }, agent: { hidden: [8] }, train: { steps: 10 } }, picks, j);
        clean('resolveRunConfig doc', doc, () => resolveRunConfig(doc, [], 'fuzz.yaml', dir));
      }),
      { numRuns: 1500, seed: 104 },
    );
    // Arbitrary strings as overrides.
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        clean('override string', s, () => resolveRunConfig({}, [s], 'fuzz.yaml', dir));
      }),
      { numRuns: 1500, seed: 105 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('workloads', () => {
    const base = { name: 'w', models: [{ name: 'squeezenet1_1', sloMs: 50, arrival: { kind: 'poisson', rate: 10 } }] };
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), junk, (picks, j) => {
        const doc = mutate(base, picks, j);
        clean('parseWorkload', doc, () => parseWorkload(doc, 'fuzz-workload.yaml', dir));
      }),
      { numRuns: 800, seed: 106 },
    );
  });

  it('the CLI in-process (random arguments to graph and partition)', async () => {
    const file = join(dir, 'small.json');
    writeFileSync(file, graphToString(small()));
    const arg = fc.constantFrom(
      'squeezenet1_1',
      'nope',
      file,
      join(dir, 'missing.onnx'),
      '--batch',
      '0',
      '3',
      '-1',
      '1e9',
      '--method',
      'greedy',
      'ios-dp',
      'magic',
      '--cost',
      'roofline:v100',
      'synthetic:2',
      'roofline:',
      '--json',
      '--out',
      `${dir}/`,
      join(dir, 'out.json'),
      '--r',
      '--s',
      'x',
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('graph', 'partition'), fc.array(arg, { maxLength: 6 }), async (cmd, args) => {
        await cleanAsync('cli', [cmd, ...args], () => cli(cmd, ...args));
      }),
      { numRuns: 300, seed: 107 },
    );
  });

  it('the native executor (random graphs and schedules)', async () => {
    if (!nativeAvailable()) return;
    const ex = new NativeExecutor({ streams: 2 });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 14 }),
          fc.nat(1000),
          fc.constantFrom('sequential', 'greedy'),
          fc.boolean(),
          async (n, seed, method, shuffle) => {
            const g = randomDag({ nodes: n, seed, side: 4 });
            const m = await ex.loadModel(g);
            let { schedule } = partition(g, method as 'greedy', cost);
            // Reversed stages are invalid whenever the graph has a dependency: the executor must refuse them cleanly.
            if (shuffle) schedule = { ...schedule, stages: [...schedule.stages].reverse() };
            await cleanAsync('native run', { n, seed, method, shuffle }, () => ex.run([{ model: m, schedule }], { memory: 'planned' }));
            ex.unloadModel(m);
          },
        ),
        { numRuns: 150, seed: 108 },
      );
    } finally {
      ex.close();
    }
  });

  it('ran at least 10,000 cases', () => {
    expect(cases).toBeGreaterThanOrEqual(10_000);
  });
});
