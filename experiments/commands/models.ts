/** `topsched models` and `topsched graph`: what the zoo holds and what a model looks like. */
import type { Command } from 'commander';
import { writeFileAtomic } from '../../graphs/atomic-write.js';
import { summarize } from '../../graphs/ir.js';
import { graphToString } from '../../graphs/json.js';
import { resolveModel } from '../../graphs/models.js';
import { saveOnnxFile } from '../../graphs/onnx/export.js';
import { optimizeGraph } from '../../graphs/passes/index.js';
import { buildModel, ZOO } from '../../graphs/zoo/index.js';
import { printJson, si, table } from '../format.js';
import { INPUT_SHAPE_HELP, INPUT_VALUE_HELP, inputShapeOption, inputValueOption, intOption } from './options.js';

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the model zoo with parameter and MAC counts (batch 1) next to the published figures')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  topsched models\n  topsched models --json | jq ".[].name"')
    .action((opts: { json?: boolean }) => {
      const rows = Object.values(ZOO).map((entry) => {
        const s = summarize(buildModel(entry.name, { batch: 1 }));
        return {
          name: entry.name,
          description: entry.description,
          nodes: s.nodes,
          params: s.params,
          macs: s.macs,
          input: s.inputs.map((i) => i.shape),
          published: entry.published ?? null,
        };
      });
      if (opts.json) return printJson(rows);
      console.log(
        table(
          ['model', 'nodes', 'params', 'MACs', 'published params', 'published MACs', 'input'],
          rows.map((r) => [
            r.name,
            r.nodes,
            si(r.params),
            si(r.macs),
            r.published?.params ? si(r.published.params) : '-',
            r.published?.macs ? si(r.published.macs) : '-',
            r.input.map((s) => `[${s}]`).join(' '),
          ]),
        ),
      );
    });

  program
    .command('graph <model>')
    .description('summarise a zoo model or an .onnx/.json file; optionally write it as topsched JSON or ONNX')
    .option('--batch <n>', 'batch size', intOption('--batch'))
    .option('--input-shape <name=dims>', INPUT_SHAPE_HELP, inputShapeOption, {})
    .option('--input-value <name=values>', INPUT_VALUE_HELP, inputValueOption, {})
    .option('--resolution <px>', 'input side for zoo image models', intOption('--resolution'))
    .option('--seed <n>', 'seed for random structure (randwire) and exported weights', intOption('--seed'), 0)
    .option('--out <file>', 'write the graph: .json (topsched IR) or .onnx (seeded random weights unless the graph has its own)')
    .option('--nodes', 'list every node with its shape and cost')
    .option('--optimize', 'apply the graph optimisation passes (identity and dead-code elimination, conv + batchnorm folding) and report operator counts')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  topsched graph inception_v3 --batch 8 --json\n  topsched graph resnet50 --out resnet50.onnx\n  topsched graph model.onnx --nodes\n  topsched graph detector.onnx --input-shape images=1,3,640,640',
    )
    .action(
      (
        spec: string,
        opts: {
          batch?: number;
          inputShape: Record<string, number[]>;
          inputValue: Record<string, number[]>;
          resolution?: number;
          seed: number;
          out?: string;
          nodes?: boolean;
          optimize?: boolean;
          json?: boolean;
        },
      ) => {
        const resolved = resolveModel(spec, {
          batch: opts.batch,
          inputShapes: opts.inputShape,
          inputValues: opts.inputValue,
          resolution: opts.resolution,
          seed: opts.seed,
        });
        const optimized = opts.optimize ? optimizeGraph(resolved, { seed: opts.seed }) : null;
        const graph = optimized?.graph ?? resolved;
        if (opts.out) {
          if (/\.onnx$/i.test(opts.out)) saveOnnxFile(graph, opts.out, { seed: opts.seed });
          else writeFileAtomic(opts.out, graphToString(graph));
        }
        const s = summarize(graph);
        const nodes = graph.nodes.map((n) => ({ id: n.id, op: n.op, outShapes: n.outShapes, macs: n.macs, flops: n.flops, bytes: n.bytes, params: n.params }));
        if (opts.json)
          return printJson({
            name: s.name,
            batch: s.batch,
            nodes: s.nodes,
            params: s.params,
            macs: s.macs,
            flops: s.flops,
            inputs: s.inputs,
            outputs: s.outputs,
            ...(optimized ? { passes: optimized.passes } : {}),
            ...(opts.nodes ? { nodeList: nodes } : {}),
            ...(opts.out ? { written: opts.out } : {}),
          });
        console.log(`${s.name}  batch ${s.batch}  ${s.nodes} nodes  ${si(s.params)} params  ${si(s.macs)} MACs  ${si(s.flops)} FLOPs`);
        if (optimized) console.log(`optimised: ${optimized.passes.map((p) => `${p.pass} ${p.nodesBefore} → ${p.nodesAfter}`).join(', ')}`);
        console.log(`inputs:  ${s.inputs.map((v) => `${v.name} [${v.shape}] ${v.dtype}`).join(', ')}`);
        console.log(`outputs: ${s.outputs.map((v) => `${v.name} [${v.shape}]`).join(', ')}`);
        if (opts.nodes)
          console.log(
            table(
              ['node', 'op', 'output', 'MACs', 'bytes', 'params'],
              nodes.map((n) => [n.id, n.op, n.outShapes.map((x) => `[${x}]`).join(' '), si(n.macs), si(n.bytes), n.params]),
            ),
          );
        if (opts.out) console.log(`wrote ${opts.out}`);
      },
    );
}
