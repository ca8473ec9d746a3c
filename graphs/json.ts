/**
 * Exact JSON round trip of graphs. Initializer values (when present) are base64 of their
 * little-endian bytes, so floats survive bit for bit.
 */
import { type Graph, GraphError, type Initializer, numel } from './ir.js';
import { isOpType } from './ops.js';

interface InitializerJSON extends Omit<Initializer, 'data'> {
  data?: string;
}
export interface GraphJSON extends Omit<Graph, 'initializers'> {
  format: 'topsched.graph/1';
  initializers: InitializerJSON[];
}

function toBase64(a: Float32Array | BigInt64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function fromBase64(s: string, dtype: Initializer['dtype']): Float32Array | BigInt64Array {
  const buf = Buffer.from(s, 'base64');
  // Copy into a fresh, aligned buffer: Buffer's pool offset may not be a multiple of 8.
  const bytes = new Uint8Array(buf.length);
  bytes.set(buf);
  return dtype === 'int64' ? new BigInt64Array(bytes.buffer) : new Float32Array(bytes.buffer);
}

export function graphToJSON(graph: Graph): GraphJSON {
  return {
    format: 'topsched.graph/1',
    ...graph,
    initializers: graph.initializers.map(({ data, ...rest }) => (data ? { ...rest, data: toBase64(data) } : rest)),
  };
}

export function graphToString(graph: Graph, space?: number): string {
  return JSON.stringify(graphToJSON(graph), null, space);
}

/** Parses and checks the document's structure; `where` names the source (a file) in errors. */
export function graphFromJSON(doc: unknown, where = 'graph JSON'): Graph {
  const d = doc as GraphJSON;
  if (!d || typeof d !== 'object' || d.format !== 'topsched.graph/1') {
    throw new GraphError(
      `not a topsched graph document (expected format 'topsched.graph/1', got ${JSON.stringify((d as { format?: unknown })?.format)})`,
      where,
    );
  }
  for (const key of ['inputs', 'outputs', 'nodes', 'initializers'] as const) {
    if (!Array.isArray(d[key])) throw new GraphError(`field '${key}' must be an array`, where);
  }
  if (typeof d.name !== 'string' || !d.name) throw new GraphError(`field 'name' must be a non-empty string, got ${JSON.stringify(d.name)}`, where);
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const shape = (v: unknown) => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
  const values = (key: 'inputs' | 'outputs' | 'initializers') =>
    (d[key] as unknown[]).forEach((v, i) => {
      const x = v as Record<string, unknown>;
      if (!x || typeof x !== 'object' || typeof x.name !== 'string')
        throw new GraphError(`${key}[${i}] must be an object with a string 'name', got ${JSON.stringify(v)}`, where);
      if (key !== 'outputs' || x.shape !== undefined)
        if (!shape(x.shape)) throw new GraphError(`${key}[${i}] ('${x.name}'): 'shape' must be a list of whole numbers, got ${JSON.stringify(x.shape)}`, where);
      if ((key !== 'outputs' || x.dtype !== undefined) && x.dtype !== 'float32' && x.dtype !== 'int64')
        throw new GraphError(`${key}[${i}] ('${x.name}'): 'dtype' must be 'float32' or 'int64', got ${JSON.stringify(x.dtype)}`, where);
    });
  values('inputs');
  values('outputs');
  values('initializers');
  d.nodes.forEach((n, i) => {
    if (!n || typeof n !== 'object') throw new GraphError(`nodes[${i}] must be an object, got ${JSON.stringify(n)}`, where);
    if (typeof n.id !== 'string' || !strings(n.inputs) || !strings(n.outputs))
      throw new GraphError(`nodes[${i}] needs 'id' (string), 'inputs' and 'outputs' (lists of tensor names)`, where);
    if (!isOpType(n.op)) throw new GraphError(`nodes[${i}] ('${n.id}') has unsupported op '${n.op}'`, where);
    if (n.attrs === undefined) n.attrs = {};
    if (n.attrs === null || typeof n.attrs !== 'object' || Array.isArray(n.attrs))
      throw new GraphError(`nodes[${i}] ('${n.id}'): 'attrs' must be a mapping of attribute names to values, got ${JSON.stringify(n.attrs)}`, where);
  });
  const initializers: Initializer[] = d.initializers.map((init, i) => {
    const { data, ...rest } = init;
    if (data !== undefined && typeof data !== 'string') throw new GraphError(`initializers[${i}] ('${init.name}'): 'data' must be a base64 string`, where);
    if (data === undefined) return rest;
    const arr = fromBase64(data, init.dtype);
    if (arr.length !== numel(init.shape))
      throw new GraphError(`initializers[${i}] ('${init.name}') holds ${arr.length} values for shape [${init.shape}]`, where);
    return { ...rest, data: arr };
  });
  const { format: _format, ...rest } = d;
  return { ...rest, initializers };
}

export function graphFromString(text: string, where = 'graph JSON'): Graph {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new GraphError(`invalid JSON: ${(e as Error).message}`, where);
  }
  return graphFromJSON(doc, where);
}
