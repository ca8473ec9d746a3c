/**
 * MeasuredCostModel (`--cost measured`): IOS's own cost model. Each stage a search asks about is run
 * on the native executor — its groups side by side on the executor's streams, after warm-up, the
 * median of `repeat` timings of `number` back-to-back runs — and memoised by its content (kind,
 * groups, thread counts), so IOS-DP, greedy, GPG and the hybrid thread search all price what the
 * device actually does.
 *
 * A time budget bounds the measuring. Past it, a stage not yet measured is priced by a fallback model
 * (roofline cpu-2core unless given) times the ratio of measured to fallback time over the stages
 * measured so far, so the two kinds of figure stay on one scale; `stats` says how many were estimated.
 */
import { availableParallelism } from 'node:os';
import type { CostModel } from '../graphs/cost/model.js';
import { devicePreset, RooflineCostModel } from '../graphs/cost/roofline.js';
import type { Graph, Node } from '../graphs/ir.js';
import type { Stage } from '../graphs/schedule.js';
import { type ModelHandle, NativeExecutor, type StageMeter } from './index.js';

export interface MeasuredCostOptions {
  /** Streams the stages' groups run on (default: the machine's cores). */
  streams?: number;
  /** Intra-op threads of a step whose stage names none (default 1). */
  opThreads?: number;
  warmup?: number;
  number?: number;
  repeat?: number;
  /** Wall-clock budget for measuring, ms (default 120 000). */
  budgetMs?: number;
  /** Prices stages once the budget is spent (default roofline:cpu-2core). */
  fallback?: CostModel;
  /** Seed of the weights and default inputs the stages run on (default 0). */
  seed?: number;
}

export interface MeasuredCostStats {
  /** Distinct stages run on the executor. */
  measured: number;
  /** Requests answered from the memo. */
  memoHits: number;
  /** Stages priced by the scaled fallback after the budget ran out. */
  estimated: number;
  /** Wall time spent measuring (ms). */
  measuringMs: number;
  /** measured ÷ fallback time over the measured stages (the fallback's scale). */
  fallbackScale: number;
}

export class MeasuredCostModel implements CostModel {
  readonly name: string;
  readonly stats: MeasuredCostStats = { measured: 0, memoHits: 0, estimated: 0, measuringMs: 0, fallbackScale: 1 };
  private readonly memo = new Map<string, number>();
  private measuredSum = 0;
  private fallbackSum = 0;

  private constructor(
    readonly graph: Graph,
    private readonly ex: NativeExecutor,
    private readonly model: ModelHandle,
    private readonly meter: StageMeter,
    private readonly o: Required<Omit<MeasuredCostOptions, 'seed'>>,
  ) {
    this.name = `measured:cpu (${o.streams} streams, ${o.opThreads}-thread ops)`;
  }

  /** Loads `graph` on a native executor of its own and fills an activation arena for the meter. */
  static async create(graph: Graph, o: MeasuredCostOptions = {}): Promise<MeasuredCostModel> {
    const opts = {
      streams: o.streams ?? availableParallelism(),
      opThreads: o.opThreads ?? 1,
      warmup: o.warmup ?? 2,
      number: o.number ?? 3,
      repeat: o.repeat ?? 3,
      budgetMs: o.budgetMs ?? 120_000,
      fallback: o.fallback ?? new RooflineCostModel(devicePreset('cpu-2core')),
    };
    for (const k of ['streams', 'opThreads', 'number', 'repeat'] as const)
      if (!Number.isInteger(opts[k]) || opts[k] < 1) throw new Error(`measured cost: ${k} must be a positive integer, got ${opts[k]}`);
    if (!Number.isInteger(opts.warmup) || opts.warmup < 0) throw new Error(`measured cost: warmup must be a non-negative integer, got ${opts.warmup}`);
    if (!(opts.budgetMs > 0)) throw new Error(`measured cost: budgetMs must be positive, got ${opts.budgetMs}`);
    const ex = new NativeExecutor({ streams: opts.streams, opThreads: opts.opThreads });
    try {
      const model = await ex.loadModel(graph, { seed: o.seed ?? 0 });
      return new MeasuredCostModel(graph, ex, model, ex.stageMeter(model), opts);
    } catch (e) {
      ex.close();
      throw e;
    }
  }

  opLatency(graph: Graph, node: Node): number {
    return this.stageLatency(graph, { kind: 'parallel', groups: [[node.id]] });
  }

  stageLatency(graph: Graph, stage: Stage): number {
    if (graph !== this.graph && (graph.name !== this.graph.name || graph.nodes.length !== this.graph.nodes.length))
      throw new Error(
        `measured cost: built for '${this.graph.name}' (${this.graph.nodes.length} nodes), asked about '${graph.name}' (${graph.nodes.length} nodes)`,
      );
    const key = `${stage.kind}|${stage.groups.map((g) => g.join(',')).join('|')}|${stage.threads?.join(',') ?? ''}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) {
      this.stats.memoHits++;
      return hit;
    }
    const fallbackMs = this.o.fallback.stageLatency(graph, stage);
    let ms: number;
    if (this.stats.measuringMs < this.o.budgetMs) {
      const t0 = performance.now();
      ms = this.meter.measure(stage, { warmup: this.o.warmup, number: this.o.number, repeat: this.o.repeat }).medianMs;
      this.stats.measuringMs += performance.now() - t0;
      this.stats.measured++;
      this.measuredSum += ms;
      this.fallbackSum += fallbackMs;
      this.stats.fallbackScale = this.fallbackSum > 0 ? this.measuredSum / this.fallbackSum : 1;
    } else {
      ms = fallbackMs * this.stats.fallbackScale;
      this.stats.estimated++;
    }
    this.memo.set(key, ms);
    return ms;
  }

  /** Frees the meter's arena, the model and the executor. */
  close(): void {
    this.meter.release();
    this.ex.unloadModel(this.model);
    this.ex.close();
  }
}
