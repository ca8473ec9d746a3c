/**
 * The GPG partitioner: a trained GNN + decision weights that turn any operator DAG into a stage
 * partition in one forward pass and one greedy decode — no search. `partition` returns the same
 * PartitionResult as sequential / greedy / IOS-DP, so tools compare them side by side.
 */
import * as tf from '@tensorflow/tfjs';
import { type CostModel, scheduleLatency } from '../../graphs/cost/model.js';
import type { Graph } from '../../graphs/ir.js';
import type { Partitioner, PartitionOptions, PartitionResult } from '../../graphs/partition/types.js';
import { validateSchedule } from '../../graphs/schedule.js';
import { readCheckpoint, writeCheckpoint } from '../checkpoint.js';
import { HostParams } from '../nn.js';
import { DYNAMIC_FEATURES, decodePartition, NUM_DYNAMIC_FEATURES, rolloutSchedule } from './decode.js';
import { type GraphInput, prepareGraph } from './features.js';
import { Gnn } from './gnn.js';

export interface GpgConfig {
  seed: number;
  /** Embedding width. */
  hidden: number;
  /** Message-passing rounds. */
  rounds: number;
  /** IOS pruning used when building stages: most operators per group, most groups per stage. */
  r: number;
  s: number;
  /**
   * Initial weight of the decision bias feature. Positive starts the policy near "add every
   * candidate" — IOS's greedy heuristic with chains — so training refines a sound schedule
   * instead of discovering concurrency from scratch.
   */
  initBias: number;
}

export const GPG_DEFAULTS: GpgConfig = { seed: 0, hidden: 32, rounds: 3, r: 3, s: 8, initBias: 2 };

export class GpgPolicy {
  readonly cfg: GpgConfig;
  readonly gnn: Gnn;
  /** Weights of the dynamic decision features (see decode.ts). */
  readonly head: HostParams;

  constructor(cfg: Partial<GpgConfig> = {}) {
    this.cfg = { ...GPG_DEFAULTS, ...cfg };
    for (const k of ['hidden', 'r', 's'] as const) {
      if (!Number.isInteger(this.cfg[k]) || this.cfg[k] < 1) throw new Error(`gpg config '${k}' must be a positive integer, got ${this.cfg[k]}`);
    }
    this.gnn = new Gnn({ hidden: this.cfg.hidden, rounds: this.cfg.rounds }, `${this.cfg.seed}/gpg/gnn`);
    this.head = new HostParams(NUM_DYNAMIC_FEATURES, 'dynamic_weights');
    // Start near IOS's greedy heuristic: add every candidate (bias), but neither merge groups nor
    // join through a fan-out (which would serialise siblings). Training moves all of these.
    this.head.host[DYNAMIC_FEATURES.indexOf('bias')] = this.cfg.initBias;
    this.head.host[DYNAMIC_FEATURES.indexOf('merges_groups')] = -2 * this.cfg.initBias;
    this.head.host[DYNAMIC_FEATURES.indexOf('joins_fanout')] = -2 * this.cfg.initBias;
  }

  /** Per-node scores of a prepared graph: one GNN forward pass, on tfjs (dense) or on the host (sparse). */
  scores(g: GraphInput, on: 'tfjs' | 'host' = 'host'): Float32Array {
    if (on === 'host') return this.gnn.forwardHost(g);
    return tf.tidy(() => {
      const t = Gnn.tensors(g);
      return Float32Array.from(this.gnn.apply(t.x, t.aPred, t.aSucc).dataSync());
    });
  }

  /** Partitions `graph`: features, one forward pass, greedy decode; validated. */
  partition(graph: Graph, cost: CostModel, opts: PartitionOptions = {}): PartitionResult {
    const t0 = performance.now();
    const r = opts.r ?? this.cfg.r;
    const s = opts.s ?? this.cfg.s;
    const g = prepareGraph(graph, cost);
    const roll = decodePartition(g, cost, this.scores(g), this.head.host, { r, s, mode: 'greedy' });
    const schedule = validateSchedule(graph, rolloutSchedule(g, roll.stages), `GPG schedule for '${graph.name}'`);
    const latencyMs = scheduleLatency(cost, graph, schedule);
    return { schedule, latencyMs, stats: { method: 'gpg', states: 0, transitions: 0, stagesCosted: schedule.stages.length, wallMs: performance.now() - t0 } };
  }

  /** As a Partitioner function (the registry's shape). */
  partitioner(): Partitioner {
    return (graph, cost, opts) => this.partition(graph, cost, opts);
  }

  save(dir: string, extra: Record<string, unknown> = {}): void {
    writeCheckpoint(dir, 'gpg', { config: this.cfg, ...extra }, { gnn: this.gnn.host, head: this.head.host });
  }

  static load(dir: string): GpgPolicy {
    const { meta, arrays } = readCheckpoint(dir, 'gpg');
    const p = new GpgPolicy(meta.config as GpgConfig);
    if (arrays.gnn?.length !== p.gnn.numParams) throw new Error(`${dir}: GNN has ${arrays.gnn?.length ?? 0} parameters, config implies ${p.gnn.numParams}`);
    p.gnn.setParams(arrays.gnn);
    p.head.setParams(arrays.head);
    return p;
  }

  dispose(): void {
    this.gnn.dispose();
  }
}
