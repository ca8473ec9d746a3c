/**
 * `topsched infer-batch <model> --inputs <dir|list.txt> --out <dir>`: batch inference over many
 * inputs with per-device model sharing (experiments/infer/). With --redis, devices are cluster
 * leases and shards are claimed in Redis, so workers on several machines can share one --out.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { parseByteSize } from '../../graphs/limits.js';
import { resolveModel } from '../../graphs/models.js';
import { bytes, printJson } from '../format.js';
import { listInputs, runInferBatch, tasksWithinBudget } from '../infer/batch.js';
import { RedisLeases } from '../infer/devices.js';
import { connect } from '../sweep/redis.js';
import { choiceOption, INPUT_SHAPE_HELP, inputShapeOption, intOption } from './options.js';

interface InferCliOpts {
  inputs: string;
  out: string;
  shardSize: number;
  devices: number;
  tasksPerDevice: number;
  shareWeights: 'on' | 'off';
  redis?: string;
  devicePool?: string;
  memoryBudget?: string;
  inputShape: Record<string, number[]>;
  seed: number;
  json?: boolean;
}

export function registerInferBatch(program: Command): void {
  program
    .command('infer-batch <model>')
    .description(
      'run a model over many .npy inputs in shards on leased devices, one shared copy of the weights per device (or one per task); finished shards are skipped on a re-run',
    )
    .requiredOption('--inputs <dir|list.txt>', 'a folder of .npy files, or a text file listing them (one path per line, relative to it)')
    .requiredOption('--out <dir>', 'output folder: shard-NNNNN/<input>.<output>.npy, each shard written atomically')
    .option('--shard-size <n>', 'inputs per shard', intOption('--shard-size'), 16)
    .option('--devices <n>', 'devices to lease (on a CPU an executor instance each)', intOption('--devices'), 1)
    .option('--tasks-per-device <n>', 'concurrent tasks on each device', intOption('--tasks-per-device'), 2)
    .option(
      '--share-weights <on|off>',
      'one copy of the weights per device shared by its tasks (on), or one per task (off)',
      choiceOption('--share-weights', ['on', 'off'] as const),
      'on',
    )
    .option('--redis <url>', 'lease devices and claim shards in this Redis (workers on several machines, one --out)')
    .option('--device-pool <name>', '--redis: the device pool to lease from (default: this host)')
    .option('--memory-budget <size>', 'also report how many tasks fit a device of this memory with and without sharing, e.g. 2G')
    .option('--input-shape <name=dims>', INPUT_SHAPE_HELP, inputShapeOption, {})
    .option('--seed <n>', 'seed of generated weights (models without their own)', intOption('--seed', 0), 0)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  topsched infer-batch squeezenet1_1 --inputs images/ --out preds/ --devices 2 --tasks-per-device 4\n  topsched infer-batch model.onnx --inputs list.txt --out /shared/preds --redis redis://10.0.0.5:6379',
    )
    .action(async (spec: string, o: InferCliOpts) => {
      const graph = resolveModel(spec, { batch: 1, inputShapes: o.inputShape });
      const inputs = listInputs(o.inputs);
      const redis = o.redis ? await connect(o.redis) : undefined;
      try {
        const leases = redis ? new RedisLeases(redis, o.devicePool ?? hostname(), o.devices) : undefined;
        const r = await runInferBatch({
          name: graph.name,
          graph,
          inputs,
          out: o.out,
          shardSize: o.shardSize,
          devices: o.devices,
          tasksPerDevice: o.tasksPerDevice,
          shareWeights: o.shareWeights === 'on',
          seed: o.seed,
          leases,
          redis,
        });
        const budget = o.memoryBudget ? tasksWithinBudget(graph, parseByteSize(o.memoryBudget, '--memory-budget')) : undefined;
        if (o.json) return printJson({ ...r, budget });
        console.log(
          `${graph.name}: ${r.inputs} inputs in ${r.shards} shards (${r.skipped} already done${redis ? `, ${r.claimedElsewhere} run by other workers` : ''}); ${r.throughput.toFixed(1)} inputs/s over ${r.seconds.toFixed(2)} s; ${o.devices} device(s) × ${o.tasksPerDevice} tasks, weights ${o.shareWeights === 'on' ? 'shared' : 'per task'} (at most ${r.maxCopiesPerDevice} cop${r.maxCopiesPerDevice === 1 ? 'y' : 'ies'} on a device)`,
        );
        if (budget)
          console.log(
            `within ${o.memoryBudget} per device: ${budget.shared} tasks with shared weights vs ${budget.unshared} without (weights ${bytes(budget.weightBytes)}, activations ${bytes(budget.activationBytes)} per task)`,
          );
      } finally {
        redis?.disconnect();
      }
    });
}
