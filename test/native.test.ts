/**
 * Native executor (C++ core, oneDNN CPU backend): outputs equal onnxruntime's on graphs covering
 * every IR op, under every memory mode and with 1 or 2 streams; merge stages; bad input of every
 * kind (schedule, op, plan, backend) is a JS error naming the cause while other runs complete;
 * concurrent run() calls. Skipped as a whole only when the addon is not built (CI builds it).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graphs/builder.js';
import { devicePreset, RooflineCostModel } from '../graphs/cost/index.js';
import type { Graph } from '../graphs/ir.js';
import { greedyPartition } from '../graphs/partition/index.js';
import { fuseEpilogues } from '../graphs/passes/index.js';
import { checkSchedule, type Schedule, sequentialSchedule } from '../graphs/schedule.js';
import { twoBranchSchedule } from '../native/bench.js';
import { loadNative, type ModelHandle, NativeExecutor, nativeAvailable, planSchedule } from '../native/index.js';
import { concats, convOps, epilogueOps, indexOps, mathOps, naivePlan, ortOutputs, relDiff, siblings, tensorOps, twoBranch } from './native-helpers.js';

const available = nativeAvailable();
if (!available) {
  try {
    loadNative();
  } catch (e) {
    console.warn(`native executor tests skipped: ${(e as Error).message}`);
  }
}

/** twoBranch's schedule: stage 0 = the two conv chains side by side, stage 1 = the join. */
function branchSchedule(g: Graph): Schedule {
  const chain = (start: string) => {
    const ids: string[] = [];
    let cur = g.nodes.find((n) => n.id === start);
    while (cur && cur.op !== 'Add') {
      ids.push(cur.id);
      const out = cur.outputs[0];
      cur = g.nodes.find((n) => n.inputs.includes(out));
    }
    return ids;
  };
  const join = g.nodes[g.nodes.length - 1].id;
  return {
    model: g.name,
    batch: g.batch,
    stages: [
      { kind: 'parallel', groups: [chain('l0'), chain('r0')] },
      { kind: 'parallel', groups: [[join]] },
    ],
  };
}

const cpu = new RooflineCostModel(devicePreset('cpu-2core'));

describe.skipIf(!available)('native executor', () => {
  let ex: NativeExecutor;
  beforeAll(() => {
    ex = new NativeExecutor({ streams: 2 });
  });
  afterAll(() => ex?.close());

  async function expectMatchesOrt(graph: Graph, schedules: Schedule[], memory: ('caching' | 'planned' | 'trace')[] = ['caching']) {
    const model = await ex.loadModel(graph, { seed: 3 });
    const ref = await ortOutputs(graph, 3, model.inputs);
    for (const schedule of schedules) {
      for (const mode of memory) {
        const report = await ex.run([{ model, schedule }], { memory: mode, outputs: true }); // planned: the arena planner's plan
        const out = report.tasks[0].outputs ?? {};
        for (const v of graph.outputs) {
          const d = relDiff(out[v.name] as Float32Array, ref.get(v.name) as Float32Array);
          expect(d, `${graph.name} output '${v.name}' (${mode}, ${schedule.stages.length} stages)`).toBeLessThanOrEqual(1e-3);
        }
      }
    }
    return model;
  }

  it('matches onnxruntime on convolutions, normalization, activations and pooling', async () => {
    const g = convOps();
    await expectMatchesOrt(g, [sequentialSchedule(g), greedyPartition(g, cpu, {}).schedule], ['caching', 'planned', 'trace']);
  });

  it("Concat and Split on two threads split their bytes, pieces crossing rows and inputs, with onnxruntime's outputs", async () => {
    // [2, 9, 40, 40] floats: 112.5 KiB in rows of 56 KiB, so a 64 KiB piece ends inside the second row's first input.
    const b = new GraphBuilder('row_pieces');
    const x1 = b.input('x1', [2, 3, 40, 40]);
    const x2 = b.input('x2', [2, 5, 40, 40]);
    const x3 = b.input('x3', [2, 1, 40, 40]);
    const [a, c] = b.split(b.concat([x1, b.relu(x2), x3], 1), [7, 2], 1);
    b.output(b.relu(a));
    b.output(c);
    const g = b.build();
    const two = new NativeExecutor({ streams: 1, opThreads: 2, opThreadChoice: 'rule' });
    try {
      const model = await two.loadModel(g, { seed: 4 });
      const ref = await ortOutputs(g, 4, model.inputs);
      // Every op on both threads (the rule would give a copy of no FLOPs one).
      const allCores: Schedule = { ...sequentialSchedule(g), stages: sequentialSchedule(g).stages.map((st) => ({ ...st, threads: [2] })) };
      const r = await two.run([{ model, schedule: allCores }], { outputs: true });
      const copies = g.nodes.filter((n) => n.op === 'Concat' || n.op === 'Split').map((n) => n.id);
      expect(r.ops.filter((o) => copies.includes(o.node)).map((o) => o.threads)).toEqual([2, 2]);
      for (const v of g.outputs) expect(relDiff(r.tasks[0].outputs?.[v.name] as Float32Array, ref.get(v.name) as Float32Array), v.name).toBe(0);
    } finally {
      two.close();
    }
  });

  it("writes a batch-1 Concat's inputs straight into its output ('caching' memory), with the same outputs in every mode and schedule", async () => {
    const g = concats(1);
    const parallel: Schedule = {
      model: g.name,
      batch: 1,
      stages: [{ kind: 'parallel', groups: [[g.nodes[0].id, g.nodes[1].id], [g.nodes[2].id]] }, ...sequentialSchedule(g).stages.slice(3)],
    };
    expect(checkSchedule(g, parallel)).toEqual([]);
    const model = await expectMatchesOrt(g, [sequentialSchedule(g), parallel], ['caching', 'planned', 'trace']);
    expect(ex.inPlaceConcats(model)).toBe(1); // 'both'; not 'withInput' (a graph input) nor 'nested' (a Concat of it)
    const slices = ex.concatSlices(model);
    expect(slices).toEqual([
      {
        output: 'both',
        inputs: [
          { name: 'relu_1', offset: 0 },
          { name: 'right', offset: 16 * 12 * 12 * 4 },
        ],
      },
    ]);
    // 'caching' and 'planned' (the default planner places the slices) skip it; its inputs sit in it.
    for (const memory of ['caching', 'planned'] as const) {
      const op = (await ex.run([{ model, schedule: parallel }], { memory })).ops.find((o) => o.node === 'both');
      expect(op && op.endUs - op.startUs, memory).toBe(0);
    }
    const plan = planSchedule(g, parallel, slices);
    expect(plan.offsets.right).toBe(plan.offsets.both + 16 * 12 * 12 * 4);
    expect(plan.arenaBytes).toBeLessThanOrEqual(planSchedule(g, parallel).arenaBytes);
    // A plan that puts the slices in place but lets another live tensor share one is refused.
    const bad = naivePlan(g);
    Object.assign(bad.offsets, { relu_1: bad.offsets.both, right: bad.offsets.both + 9216, left: bad.offsets.both + 9216 });
    await expect(ex.run([{ model, schedule: parallel, plan: bad }], { memory: 'planned' })).rejects.toThrow(
      /tensors 'both' \[\d+, \+18432\) \(with the in-place Concat inputs written into it\) and 'left' .* overlap while both can be live/,
    );
    const r = await ex.run(
      [
        { model, schedule: parallel },
        { model, schedule: sequentialSchedule(g) },
      ],
      { outputs: true },
    );
    expect(r.tasks.map((t) => t.error)).toEqual([undefined, undefined]);
    const wide = concats(2);
    expect(ex.inPlaceConcats(await expectMatchesOrt(wide, [sequentialSchedule(wide)]))).toBe(0); // batch 2: strided slices, copied
    process.env.TOPSCHED_INPLACE_CONCAT = 'yes';
    try {
      await expect(ex.loadModel(g)).rejects.toThrow(/TOPSCHED_INPLACE_CONCAT must be 0 or 1, got 'yes'/);
      process.env.TOPSCHED_INPLACE_CONCAT = '0';
      expect(ex.inPlaceConcats(await ex.loadModel(g))).toBe(0);
    } finally {
      delete process.env.TOPSCHED_INPLACE_CONCAT;
    }
  });

  it('matches onnxruntime on broadcasting binaries, transposes, matmuls, layer norm, softmax and Gemm forms', async () => {
    const g = tensorOps();
    await expectMatchesOrt(g, [sequentialSchedule(g), greedyPartition(g, cpu, {}).schedule], ['caching', 'planned']);
  });

  it('matches onnxruntime on gather, expand, reductions, pad, split and every resize mode', async () => {
    const g = indexOps();
    await expectMatchesOrt(g, [sequentialSchedule(g), greedyPartition(g, cpu, {}).schedule], ['caching', 'planned']);
  });

  it('matches onnxruntime on the math, slicing and normalisation ops of real exports', async () => {
    const g = mathOps();
    await expectMatchesOrt(g, [sequentialSchedule(g), greedyPartition(g, cpu, {}).schedule], ['caching', 'planned']);
  });

  it("runs fused epilogues (oneDNN post-ops, and the composite path) with onnxruntime's outputs", async () => {
    const plain = epilogueOps();
    const g = fuseEpilogues(plain, { residualInto: ['Conv', 'Gemm', 'MatMul'] });
    expect(g.nodes.filter((n) => n.attrs.fused_activation !== undefined || n.attrs.fused_sum !== undefined).map((n) => n.id)).toEqual([
      'c1',
      'short',
      'gemm_1',
      'matmul_1',
      'add_4',
      'add_5',
    ]);
    await expectMatchesOrt(g, [sequentialSchedule(g), greedyPartition(g, cpu, {}).schedule], ['caching', 'planned']);
    expect(fuseEpilogues(plain)).toEqual(g);
    const convAddApart = fuseEpilogues(plain, { residualInto: ['Gemm', 'MatMul'] });
    expect(convAddApart.nodes.find((n) => n.id === 'short')?.attrs.fused_sum).toBeUndefined();
    await expectMatchesOrt(convAddApart, [sequentialSchedule(convAddApart)], ['planned']);
  });

  it('runs a hybrid schedule (per-group intra-op threads) with the same outputs, and refuses bad thread counts', async () => {
    const g = twoBranch();
    const [side, join] = twoBranchSchedule(g).stages;
    const hybrid: Schedule = {
      model: g.name,
      batch: 1,
      stages: [
        { ...side, threads: [1, 1] }, // the branches side by side, one thread each
        { ...join, threads: [2] }, // the join with both cores
      ],
    };
    expect(checkSchedule(g, hybrid)).toEqual([]);
    const allCores: Schedule = { ...sequentialSchedule(g), stages: sequentialSchedule(g).stages.map((st) => ({ ...st, threads: [2] })) };
    await expectMatchesOrt(g, [hybrid, allCores], ['caching', 'planned']);
    const bad = { ...hybrid, stages: [{ ...side, threads: [1] }, join] };
    expect(checkSchedule(g, bad).map((v) => v.message)).toEqual([`stage 0: 'threads' must hold one integer 1..256 per group (2), got [1]`]);
    const ex = new NativeExecutor({ streams: 2 });
    try {
      const model = await ex.loadModel(g);
      await expect(ex.run([{ model, schedule: bad }])).rejects.toThrow(/'threads' must hold one integer 1\.\.256 per group/);
    } finally {
      ex.close();
    }
  });

  it("builds a step's kernels for its schedule thread count (oneDNN fixes a primitive's threads when it is built), once per model", async () => {
    const g = twoBranch();
    const seq = sequentialSchedule(g);
    const withThreads = (t: number): Schedule => ({ ...seq, stages: seq.stages.map((st) => ({ ...st, threads: [t] })) });
    const one = new NativeExecutor({ streams: 1, opThreads: 1 });
    try {
      const model = await one.loadModel(g);
      const cached = () => one.info().kernelsCached as number;
      const base = cached();
      await one.run([{ model, schedule: withThreads(1) }]); // the default count: the nodes' own kernels
      expect(cached()).toBe(base);
      const r = await one.run([{ model, schedule: withThreads(2) }], { outputs: true });
      expect(r.tasks[0].error).toBeUndefined();
      const grown = cached();
      expect(grown).toBeGreaterThan(base); // kernels built under 2 threads
      await one.run([{ model, schedule: withThreads(2) }]);
      expect(cached()).toBe(grown); // kept with the model, not rebuilt per run
      const ref = await one.run([{ model, schedule: seq }], { outputs: true });
      for (const v of g.outputs)
        expect(relDiff(r.tasks[0].outputs?.[v.name] as Float32Array, ref.tasks[0].outputs?.[v.name] as Float32Array)).toBeLessThanOrEqual(1e-5);
    } finally {
      one.close();
    }
  });

  it("measures each op's thread count on multi-threaded streams and in multi-threaded groups: turns first, then one count per op; outputs unchanged", async () => {
    const g = twoBranch();
    const seq = sequentialSchedule(g);
    const one = new NativeExecutor({ streams: 1, opThreads: 1 });
    const two = new NativeExecutor({ streams: 1, opThreads: 2 });
    const rule = new NativeExecutor({ streams: 1, opThreads: 2, opThreadChoice: 'rule' });
    try {
      expect(two.info().opThreadChoice).toBe('measure');
      expect(rule.info().opThreadChoice).toBe('rule');
      const ref = await one.run([{ model: await one.loadModel(g), schedule: seq }], { outputs: true });
      const model = await two.loadModel(g);
      const reports = [];
      for (let i = 0; i < 8; i++) reports.push(await two.run([{ model, schedule: seq }], { outputs: true }));
      // ThreadTrial: 3 runs with each count, in turns, then the faster median stays.
      expect(reports.map((r) => r.tasks[0].measuringThreads)).toEqual([true, true, true, true, true, true, false, false]);
      for (const n of g.nodes) {
        const counts = reports.map((r) => r.ops.find((o) => o.node === n.id)?.threads);
        expect(counts.slice(0, 6)).toEqual([2, 1, 2, 1, 2, 1]);
        expect([1, 2]).toContain(counts[6]);
        expect(counts[7]).toBe(counts[6]);
      }
      for (const r of reports)
        for (const v of g.outputs)
          expect(relDiff(r.tasks[0].outputs?.[v.name] as Float32Array, ref.tasks[0].outputs?.[v.name] as Float32Array)).toBeLessThanOrEqual(1e-5);
      // A schedule's count of 1 is kept as it is; a larger one is each op's budget, measured against
      // one thread like the stream's (a hybrid schedule's 2-thread group on 1-thread streams too).
      const withThreads = (t: number): Schedule => ({ ...seq, stages: seq.stages.map((st) => ({ ...st, threads: [t] })) });
      const pinned = await two.run([{ model, schedule: withThreads(1) }]);
      expect(pinned.tasks[0].measuringThreads).toBe(false);
      expect(new Set(pinned.ops.map((o) => o.threads))).toEqual(new Set([1]));
      const oneModel = await one.loadModel(g);
      const twoThreads = withThreads(2);
      const budget = [];
      for (let i = 0; i < 7; i++) budget.push(await one.run([{ model: oneModel, schedule: twoThreads }], { outputs: true }));
      expect(budget.map((r) => r.tasks[0].measuringThreads)).toEqual([true, true, true, true, true, true, false]);
      for (const n of g.nodes) {
        const counts = budget.map((r) => r.ops.find((o) => o.node === n.id)?.threads);
        expect(counts.slice(0, 6)).toEqual([2, 1, 2, 1, 2, 1]);
        expect([1, 2]).toContain(counts[6]);
      }
      for (const v of g.outputs)
        expect(relDiff(budget[6].tasks[0].outputs?.[v.name] as Float32Array, ref.tasks[0].outputs?.[v.name] as Float32Array)).toBeLessThanOrEqual(1e-5);
      const ruled = await rule.run([{ model: await rule.loadModel(g), schedule: seq }]);
      expect(ruled.tasks[0].measuringThreads).toBe(false);
      for (const o of ruled.ops) expect(o.threads).toBe((g.nodes.find((n) => n.id === o.node)?.flops ?? 0) < 4e6 ? 1 : 2);
    } finally {
      one.close();
      two.close();
      rule.close();
    }
    process.env.TOPSCHED_STREAM_SPIN_US = '100us';
    try {
      expect(() => new NativeExecutor({ streams: 1 })).toThrow(/TOPSCHED_STREAM_SPIN_US must be an integer in 0\.\.100000, got '100us'/);
    } finally {
      delete process.env.TOPSCHED_STREAM_SPIN_US;
    }
    expect(() => new NativeExecutor({ streams: 1, opThreads: 2, opThreadChoice: 'fastest' as 'rule' })).toThrow(
      /opThreadChoice must be 'measure' or 'rule', got 'fastest'/,
    );
  });

  it('ends its stream threads (and their OpenMP teams) at close()', async () => {
    const threads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    const g = twoBranch();
    const before = threads();
    const two = new NativeExecutor({ streams: 2, opThreads: 2 });
    const model = await two.loadModel(g);
    await two.run([{ model, schedule: sequentialSchedule(g) }]);
    expect(threads()).toBeGreaterThanOrEqual(before + 3); // 2 streams, at least one with a team
    two.close();
    expect(threads()).toBeLessThanOrEqual(before);
  });

  it('starts a lone task on stream 0 of an idle executor, and spreads the tasks of one run over the streams', async () => {
    const g = twoBranch(16, 2, 8);
    const seq = sequentialSchedule(g);
    const two = new NativeExecutor({ streams: 2 });
    try {
      const model = await two.loadModel(g);
      // Rotating lone tasks would give every stream an OpenMP team for a hybrid schedule's threaded stages.
      for (let i = 0; i < 3; i++) expect((await two.run([{ model, schedule: seq }])).tasks[0].groups?.[0].stream).toBe(0);
      const pair = await two.run([
        { model, schedule: seq },
        { model, schedule: seq },
      ]);
      expect(pair.tasks.map((t) => t.groups?.[0].stream)).toEqual([0, 1]);
    } finally {
      two.close();
    }
  });

  it('writes node names with quotes, backslashes and control characters into the report as JSON', async () => {
    const b = new GraphBuilder('names');
    const x = b.input('x', [1, 4]);
    b.output(b.relu(x, 'a "quoted" \\ name\twith\u0001 é'));
    const g = b.build();
    const model = await ex.loadModel(g);
    const r = await ex.run([{ model, schedule: sequentialSchedule(g) }]);
    expect(r.ops.map((o) => o.node)).toEqual([g.nodes[0].id]);
    expect(r.tasks[0].groups?.[0].first).toBe(g.nodes[0].id);
  });

  it('runs a merge stage as one fused convolution with the same outputs', async () => {
    const g = siblings();
    const merged: Schedule = {
      model: g.name,
      batch: 1,
      stages: [
        { kind: 'merge', groups: [['k1'], ['k3'], ['k5']] },
        { kind: 'parallel', groups: [[g.nodes[3].id]] },
      ],
    };
    await expectMatchesOrt(g, [merged, sequentialSchedule(g)], ['caching', 'planned']);
  });

  it('reports per-op, per-stage and per-task timings and memory figures', async () => {
    const g = twoBranch(16, 2, 8);
    const model = await ex.loadModel(g);
    const schedule = branchSchedule(g);
    const report = await ex.run([{ model, schedule, plan: naivePlan(g) }], { memory: 'planned' });
    const t = report.tasks[0];
    expect(t.stages).toHaveLength(2);
    expect(report.ops).toHaveLength(g.nodes.length);
    const streams = new Set(report.ops.filter((o) => o.node !== g.nodes.at(-1)?.id).map((o) => o.stream));
    expect(streams.size).toBe(2); // the two branches ran on two streams
    for (const o of report.ops) {
      expect(o.endUs).toBeGreaterThanOrEqual(o.startUs);
      expect(o.startUs).toBeGreaterThanOrEqual(t.beginUs);
      expect(o.endUs).toBeLessThanOrEqual(t.endUs);
    }
    const s = t.stages ?? [];
    expect(s[1].startUs).toBeGreaterThanOrEqual(s[0].endUs); // stage barrier
    // The records are decoded from the addon's numbers when read (native/timeline.ts): names, counts
    // and JSON round trips as plain data; two tasks' ops come in task order, each naming its task.
    expect(t.groups?.map((gr) => [gr.stage, gr.first, gr.last])).toEqual(schedule.stages.flatMap((st, i) => st.groups.map((gr) => [i, gr[0], gr.at(-1)])));
    expect(report.ops.map((o) => o.node)).toEqual(g.nodes.map((n) => n.id));
    for (const o of report.ops) expect(o.threads).toBe(1);
    expect(JSON.parse(JSON.stringify(report))).toEqual({ ...report, ops: report.ops, tasks: report.tasks.map((x) => ({ ...x })) });
    const pair = await ex.run([
      { model, schedule },
      { model, schedule: sequentialSchedule(g) },
    ]);
    expect(pair.ops.map((o) => o.task)).toEqual([...g.nodes.map(() => 0), ...g.nodes.map(() => 1)]);
    expect(pair.tasks[1].stages).toHaveLength(g.nodes.length);
    for (const o of pair.ops) expect(o.startUs).toBeGreaterThanOrEqual(pair.tasks[o.task].beginUs);
    expect(t.arenaBytes).toBe(naivePlan(g).arenaBytes);
    expect(t.loadBytes).toBeGreaterThan(0);
    expect(t.loadBytes).toBeLessThanOrEqual(t.naiveBytes);
    const traced = await ex.run([{ model, schedule }], { memory: 'trace' });
    const trace = traced.tasks[0].trace ?? [];
    expect(trace.map((e) => e.tensor).sort()).toEqual([...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => n.outputs)].sort());
    for (const e of trace) expect(e.freeSeq).toBeGreaterThan(e.allocSeq);
  });

  it('rejects bad schedules naming the rule and the node', async () => {
    const g = twoBranch(8, 2, 4);
    const model = await ex.loadModel(g);
    const seq = sequentialSchedule(g);
    const missing: Schedule = { ...seq, stages: seq.stages.slice(1) };
    await expect(ex.run([{ model, schedule: missing }])).rejects.toThrow(/\[missing-node\] 'l0' is in no stage/);
    const swapped: Schedule = { ...seq, stages: [seq.stages[1], seq.stages[0], ...seq.stages.slice(2)] };
    await expect(ex.run([{ model, schedule: swapped }])).rejects.toThrow(/\[stage-order\]/);
    const unknown: Schedule = { ...seq, stages: [...seq.stages, { kind: 'parallel', groups: [['nope']] }] };
    await expect(ex.run([{ model, schedule: unknown }])).rejects.toThrow(/\[unknown-node\].*'nope'/);
    const badMerge: Schedule = {
      ...seq,
      stages: [{ kind: 'merge', groups: [['l0'], ['relu_1']] }, ...seq.stages.filter((s) => !['l0', 'relu_1'].includes(s.groups[0][0]))],
    };
    await expect(ex.run([{ model, schedule: badMerge }])).rejects.toThrow(/\[merge\]/);
  });

  it('rejects unsupported ops and attributes at load time, naming the node', async () => {
    const g = twoBranch(8, 1, 4);
    const bad: Graph = { ...g, nodes: g.nodes.map((n) => (n.id === 'l0' ? { ...n, attrs: { ...n.attrs, auto_pad: 'SAME_UPPER' } } : n)) };
    await expect(ex.loadModel(bad)).rejects.toThrow(/node 'l0' \(Conv\): unsupported by the CPU backend: auto_pad 'SAME_UPPER'/);
    const alien: Graph = { ...g, nodes: g.nodes.map((n) => (n.id === 'r0' ? { ...n, op: 'Einsum' as Graph['nodes'][number]['op'] } : n)) };
    await expect(ex.loadModel(alien)).rejects.toThrow(/node 'r0' \(Einsum\).*no CPU kernel/);
  });

  it('rejects arena overflow and overlapping live tensors, naming the tensors', async () => {
    const g = twoBranch(8, 2, 4);
    const model = await ex.loadModel(g);
    const schedule = sequentialSchedule(g);
    const plan = naivePlan(g);
    await expect(ex.run([{ model, schedule, plan: { ...plan, arenaBytes: plan.arenaBytes - 64 } }], { memory: 'planned' })).rejects.toThrow(
      /arena overflow: tensor '[^']+' needs bytes/,
    );
    // l0 written over the input x, which r0 still has to read.
    const clash = { ...plan, offsets: { ...plan.offsets, l0: plan.offsets.x } };
    await expect(ex.run([{ model, schedule, plan: clash }], { memory: 'planned' })).rejects.toThrow(/bad offsets: tensors '(x|l0)'.*and '(x|l0)'.*overlap/);
    // Without a plan of its own a planned item gets the arena planner's, which the check accepts.
    const auto = await ex.run([{ model, schedule }], { memory: 'planned' });
    expect(auto.tasks[0].arenaBytes).toBeLessThan(plan.arenaBytes);
    expect(auto.tasks[0].arenaBytes).toBeGreaterThanOrEqual(auto.tasks[0].loadBytes ?? 0);
    const missing = { ...plan, offsets: Object.fromEntries(Object.entries(plan.offsets).filter(([k]) => k !== 'r0')) };
    await expect(ex.run([{ model, schedule, plan: missing }], { memory: 'planned' })).rejects.toThrow(/no offset for tensor 'r0'/);
  });

  it('fails to create a CUDA executor with a clear error', () => {
    const b = loadNative();
    expect(() => new NativeExecutor({ backend: 'cuda' })).toThrow(b.cudaBuilt ? /CUDA/ : /CUDA backend not built/);
  });

  it('keeps running other work while a bad request fails, and runs concurrent run() calls correctly', async () => {
    const a = convOps();
    const bGraph = tensorOps();
    const ma = await ex.loadModel(a, { seed: 3 });
    const mb = await ex.loadModel(bGraph, { seed: 3 });
    const refA = await ortOutputs(a, 3, ma.inputs);
    const refB = await ortOutputs(bGraph, 3, mb.inputs);
    const sa = greedyPartition(a, cpu, {}).schedule;
    const sb = sequentialSchedule(bGraph);
    const runs: Promise<unknown>[] = [];
    const check = (m: ModelHandle, ref: Map<string, Float32Array | BigInt64Array>) => (r: Awaited<ReturnType<NativeExecutor['run']>>) => {
      for (const t of r.tasks)
        for (const v of m.graph.outputs) expect(relDiff(t.outputs?.[v.name] as Float32Array, ref.get(v.name) as Float32Array)).toBeLessThanOrEqual(1e-3);
    };
    for (let i = 0; i < 6; i++) {
      runs.push(
        ex
          .run(
            [
              { model: ma, schedule: sa },
              { model: mb, schedule: sb },
            ],
            { outputs: true },
          )
          .then((r) => {
            check(ma, refA)({ ...r, tasks: [r.tasks[0]] });
            check(mb, refB)({ ...r, tasks: [r.tasks[1]] });
          }),
      );
      if (i === 2) {
        const bad = { ...sb, stages: sb.stages.slice(1) };
        runs.push(expect(ex.run([{ model: mb, schedule: bad }])).rejects.toThrow(/missing-node/));
        const plan = naivePlan(bGraph);
        runs.push(expect(ex.run([{ model: mb, schedule: sb, plan: { ...plan, arenaBytes: 8 } }], { memory: 'planned' })).rejects.toThrow(/arena overflow/));
      }
    }
    await Promise.all(runs);
  });

  it("plans 'trace' memory from the first k traced runs, and refuses a plan that is unsafe", async () => {
    const g = convOps();
    const traced = new NativeExecutor({ streams: 1, traceRuns: 2 });
    try {
      const model = await traced.loadModel(g, { seed: 3 });
      const ref = await ortOutputs(model.graph, 3, model.inputs);
      const schedule = sequentialSchedule(g);
      const modes: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await traced.run([{ model, schedule }], { memory: 'trace', outputs: true });
        modes.push(r.tasks[0].memory);
        for (const v of g.outputs) expect(relDiff(r.tasks[0].outputs?.[v.name] as Float32Array, ref.get(v.name) as Float32Array)).toBeLessThanOrEqual(1e-3);
      }
      expect(modes).toEqual(['trace', 'trace', 'planned', 'planned']);
      const st = traced.traceState(model, schedule);
      expect(st?.error).toBeUndefined();
      expect(st?.plan?.arenaBytes).toBeLessThan(naivePlan(g).arenaBytes); // the trace plan reuses memory
      // A planner that ignores lifetimes: the plan is refused and runs stay traced.
      const reckless = new NativeExecutor({
        streams: 1,
        tracePlanner: (gr) => ({ arenaBytes: 1 << 20, offsets: Object.fromEntries(Object.keys(naivePlan(gr).offsets).map((k) => [k, 0])) }),
        traceRuns: 1,
      });
      try {
        const m2 = await reckless.loadModel(g);
        await reckless.run([{ model: m2, schedule }], { memory: 'trace' });
        const r2 = await reckless.run([{ model: m2, schedule }], { memory: 'trace' });
        expect(r2.tasks[0].memory).toBe('trace');
        expect(reckless.traceState(m2, schedule)?.error).toMatch(/bad offsets/);
      } finally {
        reckless.close();
      }
    } finally {
      traced.close();
    }
  });

  it('uses given inputs and checks their size', async () => {
    const g = twoBranch(8, 1, 4);
    const model = await ex.loadModel(g, { seed: 5 });
    const x = new Float32Array(4 * 8 * 8).fill(0.5);
    const ref = await ortOutputs(g, 5, [x]);
    const r = await ex.run([{ model, schedule: sequentialSchedule(g), inputs: { x } }], { outputs: true });
    expect(relDiff(r.tasks[0].outputs?.[g.outputs[0].name] as Float32Array, ref.get(g.outputs[0].name) as Float32Array)).toBeLessThanOrEqual(1e-3);
    await expect(ex.run([{ model, schedule: sequentialSchedule(g), inputs: [new Float32Array(3)] }])).rejects.toThrow(
      /input 'x' of 'two_branch' needs 1024 bytes/,
    );
    // The caller may reuse its arrays as soon as run() returns: on the first run of a schedule (its
    // preparation awaited) and on later ones (started at once), and with the executor borrowing them.
    const schedule = sequentialSchedule(g);
    for (let i = 0; i < 2; i++) {
      const y = new Float32Array(4 * 8 * 8).fill(0.5);
      const pending = ex.run([{ model, schedule, inputs: [y] }], { outputs: true });
      y.fill(-7);
      const out = (await pending).tasks[0].outputs?.[g.outputs[0].name] as Float32Array;
      expect(relDiff(out, ref.get(g.outputs[0].name) as Float32Array), `run ${i}`).toBeLessThanOrEqual(1e-3);
    }
  });
});
