/**
 * Schedules ("computation graphs" in TOP's words): a model's operators split into stages that run
 * one after another; the groups of a stage run concurrently, one stream each; a group is a chain of
 * operators run in order on its stream.
 *
 * Stage kinds (IOS):
 *  - `parallel`: each group runs on its own stream;
 *  - `merge`: sibling convolutions reading the same tensor, fused into one wider convolution
 *    (each group holds one Conv; outputs are split back afterwards).
 */
import { type Graph, GraphError, type Node } from './ir.js';
import { attrInt, attrInts } from './ops.js';
import { buildDag } from './topo.js';

export type StageKind = 'parallel' | 'merge';

export interface Stage {
  kind: StageKind;
  /** Node ids; each inner array runs in order on one stream. */
  groups: string[][];
  /**
   * Intra-op threads per group (a hybrid inter/intra-op schedule: two branches side by side on one
   * thread each, or one group with every core). Absent: the executor's choice (its opThreads, one
   * thread for ops too small to gain from more).
   */
  threads?: number[];
}

export interface Schedule {
  model: string;
  batch: number;
  stages: Stage[];
  /** Searched on the optimised graph (graphs/passes: folded BatchNorm, fused epilogues), whose node
   *  ids it names; tools that load the model for it optimise it first. Absent: the graph as imported. */
  optimized?: boolean;
}

export type ScheduleRule =
  | 'format'
  | 'unknown-node'
  | 'duplicate-node'
  | 'missing-node'
  | 'empty-stage'
  | 'chain-order'
  | 'concurrent-dependency'
  | 'stage-order'
  | 'merge';

export interface ScheduleViolation {
  rule: ScheduleRule;
  /** The node the violation is about, when there is one. */
  node?: string;
  message: string;
}

export class ScheduleError extends GraphError {
  constructor(
    readonly violations: ScheduleViolation[],
    where = 'schedule',
  ) {
    const head = violations
      .slice(0, 5)
      .map((v) => `[${v.rule}] ${v.message}`)
      .join('; ');
    super(violations.length > 5 ? `${head}; and ${violations.length - 5} more` : head, where);
    this.name = 'ScheduleError';
  }
}

/** Whether a set of Conv nodes can be fused into one wider conv (same input, same window geometry). */
export function mergeableConvs(nodes: Node[]): string | null {
  if (nodes.length < 2) return 'a merge stage needs at least two convolutions';
  const first = nodes[0];
  for (const n of nodes) {
    if (n.op !== 'Conv') return `'${n.id}' is a ${n.op}, only Conv nodes merge`;
    if (n.inputs[0] !== first.inputs[0]) return `'${n.id}' reads '${n.inputs[0]}', not the shared input '${first.inputs[0]}'`;
    if (attrInt(n, 'group', 1) !== 1) return `'${n.id}' is a grouped convolution`;
    // One wider convolution has one epilogue: the same activation, and no residual.
    if (n.attrs.fused_sum) return `'${n.id}' adds a residual (fused_sum)`;
    const act = (m: Node) => JSON.stringify(Object.entries(m.attrs).filter(([k]) => k.startsWith('fused_')));
    if (act(n) !== act(first)) return `'${n.id}' has another fused activation than '${first.id}'`;
    if (attrInts(n, 'strides', [1, 1]).join() !== attrInts(first, 'strides', [1, 1]).join()) return `'${n.id}' has other strides than '${first.id}'`;
    if (attrInts(n, 'dilations', [1, 1]).join() !== attrInts(first, 'dilations', [1, 1]).join()) return `'${n.id}' has other dilations than '${first.id}'`;
    if (n.outShapes[0].slice(2).join() !== first.outShapes[0].slice(2).join())
      return `'${n.id}' has output size [${n.outShapes[0].slice(2)}], '${first.id}' [${first.outShapes[0].slice(2)}]`;
    // A smaller kernel is zero-padded to the largest; its padding must centre it the same way.
    const k = attrInts(n, 'kernel_shape');
    const p = attrInts(n, 'pads', [0, 0, 0, 0]);
    const k0 = attrInts(first, 'kernel_shape');
    const p0 = attrInts(first, 'pads', [0, 0, 0, 0]);
    for (let i = 0; i < 2; i++) {
      if ((k0[i] - k[i]) % 2 !== 0 || p0[i] - p[i] !== (k0[i] - k[i]) / 2)
        return `'${n.id}' kernel ${k} / pads ${p} do not align with '${first.id}' kernel ${k0} / pads ${p0}`;
    }
  }
  return null;
}

/** Checks every rule; returns all violations (empty when valid). */
export function checkSchedule(graph: Graph, schedule: Schedule): ScheduleViolation[] {
  const out: ScheduleViolation[] = [];
  if (!schedule || !Array.isArray(schedule.stages)) return [{ rule: 'format', message: 'schedule has no stages array' }];
  if (schedule.model !== graph.name) out.push({ rule: 'format', message: `schedule is for model '${schedule.model}', graph is '${graph.name}'` });
  if (!Number.isInteger(schedule.batch) || schedule.batch < 1)
    out.push({ rule: 'format', message: `batch must be a positive integer, got ${JSON.stringify(schedule.batch)}` });
  const dag = buildDag(graph);
  // Position of each node: stage, group, index in group.
  const pos = new Map<number, { stage: number; group: number; at: number }>();
  schedule.stages.forEach((stage, si) => {
    if (!stage || typeof stage !== 'object') {
      out.push({ rule: 'format', message: `stage ${si} must be an object {kind, groups}, got ${JSON.stringify(stage)}` });
      return;
    }
    if (stage.kind !== 'parallel' && stage.kind !== 'merge')
      out.push({ rule: 'format', message: `stage ${si} has kind ${JSON.stringify(stage.kind)} (parallel | merge)` });
    if (!Array.isArray(stage.groups) || !stage.groups.length || stage.groups.some((g) => !Array.isArray(g) || !g.length)) {
      out.push({ rule: 'empty-stage', message: `stage ${si} has an empty group list or an empty group` });
      return;
    }
    if (stage.threads !== undefined) {
      const t = stage.threads;
      if (!Array.isArray(t) || t.length !== stage.groups.length || t.some((x) => !Number.isInteger(x) || x < 1 || x > 256))
        out.push({
          rule: 'format',
          message: `stage ${si}: 'threads' must hold one integer 1..256 per group (${stage.groups.length}), got ${JSON.stringify(t)}`,
        });
    }
    stage.groups.forEach((group, gi) => {
      group.forEach((id, at) => {
        if (typeof id !== 'string') {
          out.push({ rule: 'format', message: `stage ${si} group ${gi}[${at}] must be a node id (string), got ${JSON.stringify(id)}` });
          return;
        }
        const v = dag.index.get(id);
        if (v === undefined) {
          out.push({ rule: 'unknown-node', node: id, message: `stage ${si} group ${gi} names '${id}', not a node of '${graph.name}'` });
          return;
        }
        const prev = pos.get(v);
        if (prev) {
          out.push({ rule: 'duplicate-node', node: id, message: `'${id}' appears in stage ${prev.stage} and again in stage ${si}` });
          return;
        }
        pos.set(v, { stage: si, group: gi, at });
      });
    });
    if (stage.kind === 'merge' && !out.some((v) => v.rule === 'format')) {
      const nodes = stage.groups
        .flat()
        .map((id) => dag.index.get(id))
        .filter((v): v is number => v !== undefined)
        .map((v) => dag.nodes[v]);
      const why = stage.groups.some((g) => g.length !== 1) ? 'each group of a merge stage holds exactly one Conv' : mergeableConvs(nodes);
      if (why) out.push({ rule: 'merge', node: nodes[0]?.id, message: `stage ${si}: ${why}` });
    }
  });
  dag.nodes.forEach((n, v) => {
    const p = pos.get(v);
    if (!p) {
      out.push({ rule: 'missing-node', node: n.id, message: `'${n.id}' is in no stage` });
      return;
    }
    for (const u of dag.preds[v]) {
      const q = pos.get(u);
      if (!q) continue;
      const dep = dag.nodes[u].id;
      if (q.stage > p.stage)
        out.push({ rule: 'stage-order', node: n.id, message: `'${n.id}' (stage ${p.stage}) reads '${dep}' which runs later, in stage ${q.stage}` });
      else if (q.stage === p.stage && q.group !== p.group) {
        out.push({
          rule: 'concurrent-dependency',
          node: n.id,
          message: `'${n.id}' (stage ${p.stage} group ${p.group}) reads '${dep}' from concurrent group ${q.group}`,
        });
      } else if (q.stage === p.stage && q.at > p.at) {
        out.push({ rule: 'chain-order', node: n.id, message: `'${n.id}' comes before its input '${dep}' in stage ${p.stage} group ${p.group}` });
      } else if (q.stage === p.stage && schedule.stages[p.stage].kind === 'merge') {
        out.push({ rule: 'merge', node: n.id, message: `'${n.id}' reads '${dep}' inside merge stage ${p.stage}` });
      }
    }
  });
  return out;
}

/** Throws a ScheduleError naming every violated rule and node; returns the schedule when valid. */
export function validateSchedule(graph: Graph, schedule: Schedule, where = `schedule for '${graph.name}'`): Schedule {
  const v = checkSchedule(graph, schedule);
  if (v.length) throw new ScheduleError(v, where);
  return schedule;
}

export function scheduleToString(schedule: Schedule): string {
  return JSON.stringify({ format: 'topsched.schedule/1', ...schedule }, null, 1);
}

export function scheduleFromString(text: string, where = 'schedule JSON'): Schedule {
  let doc: { format?: string } & Partial<Schedule>;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new GraphError(`invalid JSON: ${(e as Error).message}`, where);
  }
  if (doc?.format !== 'topsched.schedule/1')
    throw new GraphError(`not a topsched schedule (expected format 'topsched.schedule/1', got ${JSON.stringify(doc?.format)})`, where);
  if (typeof doc.model !== 'string' || !Array.isArray(doc.stages)) throw new GraphError(`needs 'model' (string) and 'stages' (array)`, where);
  if (doc.optimized !== undefined && typeof doc.optimized !== 'boolean')
    throw new GraphError(`'optimized' must be true or false, got ${JSON.stringify(doc.optimized)}`, where);
  return { model: doc.model, batch: doc.batch as number, stages: doc.stages, ...(doc.optimized ? { optimized: true } : {}) };
}

/** One stage per node, one group per stage, in topological order: the sequential baseline. */
export function sequentialSchedule(graph: Graph): Schedule {
  return { model: graph.name, batch: graph.batch, stages: graph.nodes.map((n) => ({ kind: 'parallel' as const, groups: [[n.id]] })) };
}
