/**
 * `topsched profile`: the native profiler on one (model, schedule) — each op alone, each stage as
 * scheduled, co-run slowdown of op pairs from the multi-group stages — written as the profile JSON
 * that ProfiledCostModel (graphs/cost/profiled.ts) and the env's contention fit read.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { devicePreset, RooflineCostModel, scheduleLatency } from '../../graphs/cost/index.js';
import { ProfiledCostModel } from '../../graphs/cost/profiled.js';
import { profileModel, writeProfile } from '../../native/profile.js';
import { ms, printJson, table } from '../format.js';
import { addTargetOptions, type Backend, maxGroups, openExecutor, resolveTarget } from './native-target.js';
import { intOption } from './options.js';

interface ProfileOpts {
  backend: Backend;
  schedule: string;
  batch?: number;
  cost?: string;
  timeBudget: number;
  seed: number;
  optimize?: boolean;
  out: string;
  streams: number;
  opThreads: number;
  warmup: number;
  number: number;
  repeat: number;
  corunMs: number;
  maxPairs: number;
  top: number;
  json?: boolean;
}

export function registerProfile(program: Command): void {
  addTargetOptions(
    program
      .command('profile <model>')
      .description('profile a model on the native executor (per op, per stage, co-run pairs) and write the profile JSON ProfiledCostModel reads'),
    { optimizeByDefault: false },
  )
    .requiredOption('--out <file>', 'where the profile JSON goes (written atomically)')
    .option('--streams <n>', 'streams (co-run pairs need 2)', intOption('--streams'), 2)
    .option('--op-threads <n>', 'threads one op may use', intOption('--op-threads'), 1)
    .option('--warmup <n>', 'runs before timing each op / stage / pair', intOption('--warmup', 0), 2)
    .option('--number <n>', 'back-to-back runs per sample', intOption('--number'), 10)
    .option('--repeat <n>', 'samples (the tables hold their median)', intOption('--repeat'), 5)
    .option('--corun-ms <ms>', 'how long each pair co-runs', intOption('--corun-ms'), 20)
    .option('--max-pairs <n>', 'most co-run pairs (the heaviest op of each two groups of each multi-group stage)', intOption('--max-pairs', 0), 32)
    .option('--top <n>', 'slowest ops to list', intOption('--top', 0), 10)
    .option('--json', 'print JSON (the summary and the whole profile)')
    .addHelpText(
      'after',
      '\nExamples:\n  topsched profile squeezenet1_1 --out profiles/squeezenet1_1.json\n  topsched profile inception_v3 --schedule greedy --batch 4 --out inc-b4.json --json\n  topsched profile resnet50 --schedule r50.json --repeat 10 --corun-ms 50 --out r50-prof.json',
    )
    .action(async (spec: string, opts: ProfileOpts) => {
      const ex = openExecutor({ backend: opts.backend, streams: opts.streams, opThreads: opts.opThreads });
      try {
        const { graph, schedule, scheduleSource, cost } = resolveTarget(spec, opts);
        const model = await ex.loadModel(graph, { seed: opts.seed });
        const doc = await profileModel(ex, model, {
          schedule,
          warmup: opts.warmup,
          number: opts.number,
          repeat: opts.repeat,
          corunMs: opts.corunMs,
          maxPairs: opts.maxPairs,
        });
        mkdirSync(dirname(opts.out), { recursive: true });
        writeProfile(opts.out, doc);
        // The profile priced back through the cost model that reads it: its stage table is the schedule.
        const profiled = new ProfiledCostModel([doc], new RooflineCostModel(devicePreset(opts.backend === 'cuda' ? 'v100' : 'cpu-2core')));
        const predictedMs = scheduleLatency(profiled, graph, schedule);
        const sumOpsMs = Object.values(doc.ops).reduce((a, b) => a + b, 0);
        const slowest = Object.entries(doc.ops)
          .sort((a, b) => b[1] - a[1])
          .slice(0, opts.top)
          .map(([node, medianMs]) => ({ node, op: graph.nodes.find((n) => n.id === node)?.op ?? '?', medianMs, share: medianMs / sumOpsMs }));
        const summary = {
          model: graph.name,
          batch: graph.batch,
          nodes: graph.nodes.length,
          device: doc.device.name,
          schedule: { source: scheduleSource, cost, optimized: !!schedule.optimized, stages: schedule.stages.length, maxGroups: maxGroups(schedule) },
          settings: doc.settings,
          opsTimed: Object.keys(doc.ops).length,
          stagesTimed: doc.stages.length,
          pairsTimed: doc.pairs.length,
          sumOpsMs,
          sumStagesMs: doc.stages.reduce((a, s) => a + s.ms, 0),
          predictedMs,
          slowest,
          written: opts.out,
        };
        if (opts.json) return printJson({ ...summary, profile: doc });
        console.log(`${graph.name} (batch ${graph.batch}, ${graph.nodes.length} ops) on ${doc.device.name}`);
        console.log(
          `  schedule  ${scheduleSource}${cost ? ` under ${cost}` : ''} on the ${schedule.optimized ? 'optimised' : 'imported'} graph: ${schedule.stages.length} stages, up to ${summary.schedule.maxGroups} concurrent groups`,
        );
        console.log(
          `  timed     ${summary.opsTimed} ops alone (sum ${ms(sumOpsMs)}), ${summary.stagesTimed} stages (sum ${ms(summary.sumStagesMs)}), ${summary.pairsTimed} co-run pairs`,
        );
        console.log(
          `  settings  warmup ${doc.settings.warmup}, ${doc.settings.repeat} samples of ${doc.settings.number} runs, co-run ${doc.settings.corunMs} ms`,
        );
        console.log(`  ProfiledCostModel prices the schedule at ${ms(predictedMs)}`);
        if (slowest.length) {
          console.log('');
          console.log(
            table(
              ['slowest ops', 'op', 'median', 'share'],
              slowest.map((s) => [s.node, s.op, ms(s.medianMs), `${(s.share * 100).toFixed(1)}%`]),
            ),
          );
        }
        if (doc.pairs.length) {
          console.log('');
          console.log(
            table(
              ['co-run pair', 'alone a / b', 'together a / b', 'slowdown a / b'],
              doc.pairs.map((p) => [
                `${p.a} + ${p.b}`,
                `${ms(p.aloneMs[0])} / ${ms(p.aloneMs[1])}`,
                `${ms(p.corunMs[0])} / ${ms(p.corunMs[1])}`,
                `${p.slowdown[0].toFixed(2)}× / ${p.slowdown[1].toFixed(2)}×`,
              ]),
            ),
          );
        }
        console.log(`  wrote ${opts.out}`);
      } finally {
        ex.close();
      }
    });
}
