/**
 * Regressions of the hardening issue: each case crashed, hung, lost work or gave a raw message
 * before. Resource limits (memory before allocation, file size, non-regular files), planning and
 * walking 50,000-node graphs, the native binding's buffer ownership and shutdown, and the messages
 * that must name the node and field.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../graphs/atomic-write.js';
import { SyntheticCostModel } from '../graphs/cost/index.js';
import { inferGraph } from '../graphs/infer.js';
import { graphFromString } from '../graphs/json.js';
import { LimitError, parseByteSize, setMaxFileBytes, setMemoryLimit } from '../graphs/limits.js';
import { scheduleConflictGraph } from '../graphs/memory/conflicts.js';
import { scheduleConflict, scheduleLifetimes } from '../graphs/memory/lifetimes.js';
import { planMemory } from '../graphs/memory/planner.js';
import { resolveModel } from '../graphs/models.js';
import { importOnnx } from '../graphs/onnx/import.js';
import { onnx } from '../graphs/onnx/proto.js';
import { partition } from '../graphs/partition/index.js';
import { sequentialSchedule, validateSchedule } from '../graphs/schedule.js';
import { loadNative, NativeExecutor, nativeAvailable } from '../native/index.js';
import { cli } from './cli-helpers.js';
import { randomDag } from './random-dag.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'topsched-hardening-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  setMemoryLimit(undefined);
  setMaxFileBytes(undefined);
});

const doc = (nodes: unknown[], inputs: unknown[] = [{ name: 'x', shape: [1, 3, 8, 8], dtype: 'float32' }], initializers: unknown[] = []) =>
  JSON.stringify({ format: 'topsched.graph/1', name: 'g', batch: 1, inputs, outputs: [{ name: 'y' }], nodes, initializers });
const W = [{ name: 'w', shape: [4, 3, 3, 3], dtype: 'float32', trainable: true, role: 'weight' }];
const load = (text: string) => inferGraph(graphFromString(text, 'g.json'));

/** A chain of `n` Relu nodes, listed last to first when `reverse`. */
function chain(n: number, reverse: boolean): string {
  const nodes = Array.from({ length: n }, (_, i) => ({
    id: `r${i}`,
    op: 'Relu',
    inputs: [i ? `t${i - 1}` : 'x'],
    outputs: [i === n - 1 ? 'y' : `t${i}`],
    attrs: {},
  }));
  if (reverse) nodes.reverse();
  return doc(nodes, [{ name: 'x', shape: [1, 16], dtype: 'float32' }]);
}

describe('50,000-node graphs', () => {
  it('a chain listed in reverse order imports, partitions and plans (no recursion limit, no quadratic planner)', () => {
    const g = load(chain(50_000, true));
    expect(g.nodes[0].id).toBe('r0');
    const cost = new SyntheticCostModel({ seed: 1 });
    for (const method of ['sequential', 'greedy'] as const) {
      const { schedule } = partition(g, method, cost);
      validateSchedule(g, schedule);
      const plan = planMemory(g, schedule);
      // A chain needs two live tensors at a time, each 64 bytes.
      expect(plan.loadBytes).toBe(128);
      expect(plan.arenaBytes).toBe(128);
      expect(plan.offsets.size).toBe(50_001);
    }
  }, 60_000);

  it('the output-sensitive conflict graph equals the pairwise rule on random graphs and schedules', () => {
    const cost = new SyntheticCostModel({ seed: 2 });
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 0, max: 1e6 }), fc.constantFrom('sequential', 'greedy', 'ios-dp'), (n, seed, method) => {
        const g = randomDag({ nodes: n, seed, width: 3 });
        const { schedule } = partition(g, method as 'greedy', cost);
        const ls = scheduleLifetimes(g, schedule);
        const adj = scheduleConflictGraph(ls);
        for (let i = 0; i < ls.length; i++) {
          const brute = ls.map((_, j) => j).filter((j) => j !== i && scheduleConflict(ls[i], ls[j]));
          expect(adj[i]).toEqual(brute);
        }
      }),
      { numRuns: 150, seed: 7 },
    );
  });
});

describe('limits checked before allocation', () => {
  it('a 156-byte ONNX whose Expand makes a 16 GiB tensor is refused, naming the node and tensor', () => {
    const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
    const bytes = onnx.ModelProto.encode({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'bomb',
        node: [{ name: 'e', opType: 'Expand', input: ['x', 's'], output: ['y'] }],
        input: [vi('x', [1, 1])],
        output: [vi('y', [65536, 65536])],
        initializer: [{ name: 's', dims: [2], dataType: 7, int64Data: [65536, 65536] }],
      },
    }).finish();
    expect(bytes.length).toBeLessThan(200);
    setMemoryLimit(8 * 2 ** 30);
    expect(() => importOnnx(bytes, 'bomb.onnx')).toThrow(
      /bomb\.onnx: .*node 'e' \(Expand\): output 'y' \[65536,65536\] needs 16\.0 GiB, over the memory limit of 8\.0 GiB/,
    );
  });

  it('a huge input or batch is an error naming the tensor, not "Invalid typed array length"', () => {
    expect(() => load(doc([{ id: 'c', op: 'Relu', inputs: ['x'], outputs: ['y'], attrs: {} }], [{ name: 'x', shape: [1e6, 1e6], dtype: 'float32' }]))).toThrow(
      /input 'x' \[1000000,1000000\] needs .* over the memory limit/,
    );
    setMemoryLimit(2 ** 30);
    expect(() => resolveModel('inception_v3', { batch: 2000 })).toThrow(/over the memory limit of 1\.0 GiB/);
  });

  it('the executor checks weights, inputs and every task’s activations against the limit', async () => {
    if (!nativeAvailable()) return;
    const g = resolveModel('squeezenet1_1', { batch: 4 });
    const ex = new NativeExecutor();
    try {
      const m = await ex.loadModel(g);
      setMemoryLimit(40 * 2 ** 20);
      await expect(ex.run(Array.from({ length: 8 }, () => ({ model: m, schedule: sequentialSchedule(g) })))).rejects.toThrow(
        /run of 8 task\(s\) \(squeezenet1_1\): activation memory needs .* over the memory limit of 40\.0 MiB/,
      );
      setMemoryLimit(2 * 2 ** 20);
      await expect(ex.loadModel(g)).rejects.toThrow(/model 'squeezenet1_1': weights and inputs needs/);
    } finally {
      ex.close();
    }
  });

  it('only regular files within the size limit are read: /dev/zero, a directory, an oversized file', async () => {
    const zero = join(dir, 'zero.onnx');
    symlinkSync('/dev/zero', zero);
    expect(() => resolveModel(zero)).toThrow(/zero\.onnx: cannot read ONNX model: not a regular file/);
    const folder = join(dir, 'folder.json');
    rmSync(folder, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(folder);
    expect(() => resolveModel(folder)).toThrow(/folder\.json: cannot read model: not a regular file \(a directory\)/);
    const big = join(dir, 'big.json');
    writeFileSync(big, 'x'.repeat(4096));
    setMaxFileBytes(1024);
    expect(() => resolveModel(big)).toThrow(/big\.json: model file is 4\.0 KiB, over the file-size limit of 1\.0 KiB/);
    expect(() => parseByteSize('lots', '--memory-limit')).toThrow(LimitError);
    expect(parseByteSize('1.5G', 'x')).toBe(1.5 * 2 ** 30);
  });
});

describe('messages that name the node and field', () => {
  const conv = (attrs: Record<string, unknown>) => doc([{ id: 'c', op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs }], undefined, W);

  it('Conv stride 0, a NaN attribute, a kernel that disagrees with kernel_shape, attrs null', () => {
    expect(() => load(conv({ strides: [0, 1] }))).toThrow(/node 'c' \(Conv\): attribute 'strides'\[0\] is 0, must be at least 1/);
    expect(() => load(conv({ kernel_shape: [5, 5] }))).toThrow(
      /node 'c' \(Conv\): attribute 'kernel_shape' \[5,5\] disagrees with the weight's kernel \[3,3\]/,
    );
    expect(() => load(conv({ pads: [1, 1] }))).toThrow(/attribute 'pads' has 2 values \[1,1\], expected 4/);
    const g = graphFromString(conv({}), 'g.json');
    g.nodes[0].attrs = { strides: [Number.NaN, 1] };
    expect(() => inferGraph(g)).toThrow(/node 'c' \(Conv\): attribute 'strides' must be .*got \[NaN,1\]/);
    g.nodes[0].attrs = { alpha: Number.NaN };
    expect(() => inferGraph(g)).toThrow(/node 'c' \(Conv\): attribute 'alpha' must be a number.*got NaN/);
    expect(() => load(doc([{ id: 'r', op: 'Relu', inputs: ['x'], outputs: ['y'], attrs: null }]))).toThrow(
      /g\.json: nodes\[0\] \('r'\): 'attrs' must be a mapping .* got null/,
    );
  });

  it('a null stage, a non-string node id, a rank-13 Transpose (valid, and runs natively)', async () => {
    const g = load(doc([{ id: 'r', op: 'Relu', inputs: ['x'], outputs: ['y'], attrs: {} }]));
    expect(() => validateSchedule(g, { model: 'g', batch: 1, stages: [null as never] })).toThrow(/stage 0 must be an object \{kind, groups\}, got null/);
    expect(() => validateSchedule(g, { model: 'g', batch: 1, stages: [{ kind: 'parallel', groups: [[7 as never]] }] })).toThrow(
      /stage 0 group 0\[0\] must be a node id \(string\), got 7/,
    );
    const shape = [1, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 3];
    const t = load(
      doc(
        [{ id: 't', op: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: { perm: [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0] } }],
        [{ name: 'x', shape, dtype: 'float32' }],
      ),
    );
    expect(t.nodes[0].outShapes[0]).toEqual([...shape].reverse());
    if (!nativeAvailable()) return;
    const ex = new NativeExecutor();
    try {
      const m = await ex.loadModel(t);
      const r = await ex.run([{ model: m, schedule: sequentialSchedule(t) }], { outputs: true });
      expect((r.tasks[0].outputs as Record<string, Float32Array>).y.length).toBe(48);
    } finally {
      ex.close();
    }
  });

  it('graph --out dir/ is an error and leaves no temporary file', async () => {
    const out = join(dir, 'outdir');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(out);
    await expect(cli('graph', 'squeezenet1_1', '--out', `${out}/`)).rejects.toThrow(/cannot write: the path names a directory/);
    await expect(cli('graph', 'squeezenet1_1', '--out', out)).rejects.toThrow(/cannot write: it is a directory/);
    expect(readdirSync(out)).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(() => writeFileAtomic(join(dir, 'no', 'such', 'x.json'), '{}')).not.toThrow();
  });
});

describe('the native binding owns what it reads', () => {
  it('loadModel copies its buffer at the call: detaching it right after cannot crash; a detached buffer is refused', async () => {
    if (!nativeAvailable()) return;
    const { modelDocument } = await import('../native/index.js');
    const b = loadNative();
    const raw = new b.Executor({ streams: 1 });
    const g = resolveModel('squeezenet1_1');
    for (let i = 0; i < 3; i++) {
      const d = modelDocument(g);
      const p = raw.loadModel(d.json, d.buffer);
      structuredClone(d.buffer.buffer, { transfer: [d.buffer.buffer] }); // detaches it
      expect(d.buffer.byteLength).toBe(0);
      (globalThis as { gc?: () => void }).gc?.();
      expect(await p).toBeGreaterThan(0);
    }
    const d = modelDocument(g);
    structuredClone(d.buffer.buffer, { transfer: [d.buffer.buffer] });
    await expect(raw.loadModel(d.json, d.buffer)).rejects.toThrow(/loadModel buffer: the ArrayBuffer is detached/);
    raw.close();
  });

  it('run copies inputs at the call; close() waits for an in-flight loadModel; stream counts are not wrapped', async () => {
    if (!nativeAvailable()) return;
    const g = resolveModel('squeezenet1_1');
    const ex = new NativeExecutor();
    const m = await ex.loadModel(g);
    const schedule = sequentialSchedule(g);
    const input = Float32Array.from(m.inputs[0] as Float32Array);
    const ref = await ex.run([{ model: m, schedule, inputs: [input] }], { outputs: true });
    const pending = ex.run([{ model: m, schedule, inputs: [input] }], { outputs: true });
    input.fill(Number.NaN); // after the call: must not change what runs
    const again = await pending;
    expect(Array.from(again.tasks[0].outputs?.[g.outputs[0].name] as Float32Array)).toEqual(
      Array.from(ref.tasks[0].outputs?.[g.outputs[0].name] as Float32Array),
    );
    const loading = ex.loadModel(resolveModel('mobilenet_v2'));
    ex.close();
    await expect(loading).rejects.toThrow(/closed/);
    await expect(ex.loadModel(g)).rejects.toThrow(/closed/);

    expect(() => new NativeExecutor({ streams: 2 ** 32 + 1 })).toThrow(/streams must be an integer in 1\.\.256, got 4294967297/);
    const b = loadNative();
    expect(() => new b.Executor({ streams: 2 ** 32 + 1 })).toThrow(/streams must be an integer in 1\.\.256/);
    expect(() => new b.Executor({ opThreads: 0.5 })).toThrow(/opThreads must be an integer/);
  });
});

describe('install', () => {
  it('npm’s install hook does not rebuild an up-to-date addon', () => {
    if (!existsSync(join(root, 'native', 'build', 'Release', '.topsched-build-stamp'))) return;
    const r = spawnSync(process.execPath, [join(root, 'native', 'install.mjs')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/native addon is up to date .*not rebuilding/);
  });
});
