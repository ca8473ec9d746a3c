/**
 * Resolves a model spec — a zoo name, an `.onnx` file or a topsched graph `.json` file — into a graph
 * at the requested batch. Every tool that takes "<model|file.onnx>" goes through here.
 */

import { inferGraph, withBatch } from './infer.js';
import { type Graph, GraphError } from './ir.js';
import { graphFromString } from './json.js';
import { readTextBounded } from './limits.js';
import { loadOnnxFile } from './onnx/import.js';
import { buildModel, ZOO } from './zoo/index.js';

export interface ResolveOptions {
  batch?: number;
  /** ONNX files only: shapes of named inputs, binding their dynamic dims (`--input-shape`). */
  inputShapes?: Record<string, number[]>;
  /** ONNX files only: fixed values of named inputs, which become constants (`--input-value`). */
  inputValues?: Record<string, number[]>;
  resolution?: number;
  seed?: number;
}

export function isModelFile(spec: string): boolean {
  return /\.(onnx|json)$/i.test(spec);
}

export function resolveModel(spec: string, opts: ResolveOptions = {}): Graph {
  const shapes = opts.inputShapes && Object.keys(opts.inputShapes).length ? opts.inputShapes : undefined;
  const values = opts.inputValues && Object.keys(opts.inputValues).length ? opts.inputValues : undefined;
  if (shapes && !/\.onnx$/i.test(spec)) throw new GraphError('--input-shape applies to .onnx files only (zoo models and graph JSON have fixed shapes)', spec);
  if (values && !/\.onnx$/i.test(spec)) throw new GraphError('--input-value applies to .onnx files only', spec);
  if (!isModelFile(spec)) {
    if (!Object.hasOwn(ZOO, spec)) throw new GraphError(`unknown model '${spec}' (zoo models: ${Object.keys(ZOO).join(', ')}; or give a .onnx / .json file)`);
    return buildModel(spec, opts);
  }
  let graph: Graph;
  if (/\.onnx$/i.test(spec))
    graph = loadOnnxFile(spec, {
      ...(shapes ? { inputShapes: shapes, ...(opts.batch !== undefined ? { batch: opts.batch } : {}) } : {}),
      ...(values ? { inputValues: values } : {}),
    });
  else {
    const text = readTextBounded(spec, 'model');
    // Files are untrusted: re-infer so a hand-edited shape or op is caught here, named.
    graph = inferGraph(graphFromString(text, spec));
  }
  if (opts.resolution !== undefined) throw new GraphError('--resolution applies to zoo models only; a file fixes its input size', spec);
  return opts.batch !== undefined && opts.batch !== graph.batch ? withBatch(graph, opts.batch) : graph;
}
