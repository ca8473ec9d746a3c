/**
 * Turns a workload's model list into what the env runs: each model's graph (zoo name, ONNX or
 * graph JSON file, or a graph handed in by the caller), its resident weight bytes, and its
 * candidate schedules — the partitioners' (sequential, greedy, ios-dp by default) followed by any
 * extra schedules the caller gives (e.g. from the GPG partitioner).
 *
 * Graphs and schedules are cached per process: building a zoo model or running IOS-DP is the slow
 * part of making an env, and every env of a training run asks for the same ones.
 */
import type { CostModel } from '../graphs/cost/model.js';
import { dtypeBytes, type Graph, numel } from '../graphs/ir.js';
import { resolveModel } from '../graphs/models.js';
import { type PartitionMethod, type PartitionOptions, partition, partitionMethods } from '../graphs/partition/index.js';
import { type Schedule, validateSchedule } from '../graphs/schedule.js';
import { EnvError } from './core.js';
import { modelSource, type Workload } from './workload.js';

export interface EnvModel {
  name: string;
  graph: Graph;
  schedules: Schedule[];
  /** One name per schedule: the partition method, or `extra:<k>`. */
  scheduleNames: string[];
  weightBytes: number;
  sloMs: number;
  maxQueue: number;
}

export interface ModelPrepOptions {
  /** Graphs by model name (or source), used instead of resolving the source. */
  graphs?: Record<string, Graph>;
  cost: CostModel;
  candidates?: readonly PartitionMethod[];
  partitionOptions?: PartitionOptions;
  /** Extra candidate schedules by model name, appended after the partitioners'. */
  extraSchedules?: Record<string, Schedule[]>;
}

export const DEFAULT_CANDIDATES: readonly PartitionMethod[] = ['sequential', 'greedy', 'ios-dp'];

const graphCache = new Map<string, Graph>();
const scheduleCache = new WeakMap<Graph, Map<string, Schedule>>();

export function weightBytes(graph: Graph): number {
  let b = 0;
  for (const init of graph.initializers) b += numel(init.shape) * dtypeBytes(init.dtype);
  return b;
}

function loadGraph(source: string, where: string): Graph {
  let g = graphCache.get(source);
  if (!g) {
    try {
      g = resolveModel(source, { batch: 1 });
    } catch (e) {
      throw new EnvError((e as Error).message, where);
    }
    graphCache.set(source, g);
  }
  return g;
}

function candidate(graph: Graph, method: PartitionMethod, cost: CostModel, popts: PartitionOptions): Schedule {
  let byKey = scheduleCache.get(graph);
  if (!byKey) {
    byKey = new Map();
    scheduleCache.set(graph, byKey);
  }
  const key = `${method}|${cost.name}|${JSON.stringify(popts)}`;
  let s = byKey.get(key);
  if (!s) {
    s = partition(graph, method, cost, popts).schedule;
    byKey.set(key, s);
  }
  return s;
}

export function prepareModels(workload: Workload, o: ModelPrepOptions): EnvModel[] {
  const methods = o.candidates ?? DEFAULT_CANDIDATES;
  if (!Array.isArray(methods) || !methods.length)
    throw new EnvError(`needs at least one partition method, got ${JSON.stringify(methods)}`, `option 'candidates'`);
  const known = partitionMethods();
  methods.forEach((m, i) => {
    if (!known.includes(m)) throw new EnvError(`unknown partition method ${JSON.stringify(m)} (known: ${known.join(', ')})`, `option 'candidates[${i}]'`);
  });
  const names = new Set(workload.models.map((m) => m.name));
  for (const k of Object.keys(o.extraSchedules ?? {})) {
    if (!names.has(k)) throw new EnvError(`model '${k}' is not in the workload (models: ${[...names].join(', ')})`, `option 'extraSchedules'`);
  }
  for (const k of Object.keys(o.graphs ?? {})) {
    const g = o.graphs?.[k];
    if (!g || !Array.isArray(g.nodes)) throw new EnvError(`expected a Graph, got ${JSON.stringify(g)?.slice(0, 80)}`, `option 'graphs.${k}'`);
  }
  return workload.models.map((m, i) => {
    const where = `models[${i}]${m.source ? '.source' : '.name'}`;
    const source = modelSource(workload, m);
    const given = o.graphs?.[m.name] ?? (m.source ? o.graphs?.[m.source] : undefined);
    const graph = given ?? loadGraph(source, where);
    const popts = o.partitionOptions ?? {};
    const schedules = methods.map((method) => candidate(graph, method, o.cost, popts));
    const scheduleNames: string[] = [...methods];
    (o.extraSchedules?.[m.name] ?? []).forEach((s, k) => {
      try {
        validateSchedule(graph, s);
      } catch (e) {
        throw new EnvError((e as Error).message, `option 'extraSchedules.${m.name}[${k}]'`);
      }
      schedules.push(s);
      scheduleNames.push(`extra:${k}`);
    });
    return { name: m.name, graph, schedules, scheduleNames, weightBytes: weightBytes(graph), sloMs: m.sloMs, maxQueue: m.maxQueue };
  });
}
