/**
 * Graph inputs of an ONNX file: `--input-shape` / `--input-value` parsing and the binding of every
 * dynamic dim (fixed dims as written, named shapes binding their symbols for every input sharing
 * them, dim 0 as the batch), with errors that name the input and the option to use.
 */
import { GraphError, type ValueInfo } from '../ir.js';
import { dtypeName, irDtype, toNum, type ValueInfoProto } from './proto.js';

/** Largest dim accepted from the command line (sizes are bounded before anything is allocated). */
const MAX_DIM = 2 ** 31 - 1;

/** Parses one `name=v0,v1,…` (the CLI's --input-value); errors quote the argument. */
export function parseInputValue(arg: string): [string, number[]] {
  const at = arg.lastIndexOf('=');
  const name = at > 0 ? arg.slice(0, at) : '';
  const values =
    at > 0
      ? arg
          .slice(at + 1)
          .split(',')
          .map((v) => (v.trim() === '' ? Number.NaN : Number(v)))
      : [];
  if (!name || !values.length || values.some((v) => !Number.isFinite(v)))
    throw new GraphError(`--input-value ${JSON.stringify(arg)}: expected name=v0,v1,… with finite numbers, e.g. sr=16000`);
  return [name, values];
}

/** Parses one `name=d0,d1,…` (the CLI's --input-shape); errors quote the argument. */
export function parseInputShape(arg: string): [string, number[]] {
  const at = arg.lastIndexOf('=');
  const name = at > 0 ? arg.slice(0, at) : '';
  const dims = at > 0 ? arg.slice(at + 1).split(',') : [];
  const values = dims.map((d) => (/^\d+$/.test(d.trim()) ? Number(d.trim()) : Number.NaN));
  if (!name || !dims.length || values.some((v) => !Number.isInteger(v) || v < 1 || v > MAX_DIM))
    throw new GraphError(`--input-shape ${JSON.stringify(arg)}: expected name=d0,d1,… with positive integer dims, e.g. input=1,3,224,224`);
  return [name, values];
}

/**
 * Graph inputs with every dim bound: fixed dims as written; inputs named in `shapes` take the
 * given shape (checked against the fixed dims) and bind their symbols; other symbolic dims take a
 * bound symbol, or `batch` at dim 0; anything else is an error naming the input and the option.
 */
export function valueInfos(vs: ValueInfoProto[], batch: number, batchGiven: boolean, shapes: Record<string, number[]>, where: string): ValueInfo[] {
  const declared = vs.map((v) => {
    const name = v.name ?? '';
    const tt = v.type?.tensorType;
    if (!tt) throw new GraphError(`input '${name}' is not a tensor`, where);
    const dtype = irDtype(tt.elemType ?? 0);
    if (!dtype) throw new GraphError(`input '${name}' has element type ${dtypeName(tt.elemType ?? 0)}; only FLOAT and INT64 are supported`, where);
    if (!tt.shape) throw new GraphError(`input '${name}' has no shape`, where);
    // A dim_param leaves dim_value at its default 0, which also means "unknown".
    const dims = (tt.shape.dim ?? []).map((d) => ({ value: toNum(d.dimValue as number), param: d.dimParam || '' }));
    return { name, dtype, dims };
  });
  const show = (dims: { value: number; param: string }[]) => `[${dims.map((d) => (d.value > 0 ? d.value : d.param || '?')).join(', ')}]`;
  for (const n of Object.keys(shapes))
    if (!declared.some((d) => d.name === n))
      throw new GraphError(
        `--input-shape names '${n}', which is not a graph input (inputs: ${declared.map((d) => `${d.name} ${show(d.dims)}`).join(', ')})`,
        where,
      );
  // Explicit shapes first: they bind the symbols the other inputs share.
  const symbols = new Map<string, { value: number; from: string }>();
  for (const d of declared) {
    const given = shapes[d.name];
    if (!given) continue;
    if (given.length !== d.dims.length)
      throw new GraphError(`--input-shape ${d.name}=${given.join(',')} has rank ${given.length}; the input has rank ${d.dims.length} ${show(d.dims)}`, where);
    d.dims.forEach((dim, i) => {
      if (dim.value > 0 && dim.value !== given[i])
        throw new GraphError(`--input-shape ${d.name}=${given.join(',')}: dim ${i} is fixed to ${dim.value} by the model ${show(d.dims)}`, where);
      if (i === 0 && dim.value <= 0 && batchGiven && given[0] !== batch)
        throw new GraphError(`--input-shape ${d.name}=${given.join(',')} gives batch ${given[0]} but --batch is ${batch}`, where);
      if (dim.value > 0 || !dim.param) return;
      const bound = symbols.get(dim.param);
      if (bound && bound.value !== given[i])
        throw new GraphError(
          `symbolic dim '${dim.param}' is ${bound.value} in --input-shape ${bound.from} but ${given[i]} in ${d.name}=${given.join(',')}`,
          where,
        );
      symbols.set(dim.param, { value: given[i], from: `${d.name}=${shapes[d.name].join(',')}` });
    });
  }
  return declared.map((d) => {
    const given = shapes[d.name];
    if (given) return { name: d.name, shape: [...given], dtype: d.dtype };
    const shape = d.dims.map((dim, i) => {
      if (dim.value > 0) return dim.value;
      const bound = dim.param ? symbols.get(dim.param) : undefined;
      if (bound) return bound.value;
      // Exporters mark the batch as symbolic ('batch_size', 'N', ...): dim 0 is the batch.
      if (i === 0) return batch;
      throw new GraphError(
        `input '${d.name}' ${show(d.dims)} has a dynamic dim ${i}${dim.param ? ` ('${dim.param}')` : ''}: give its shape with --input-shape ${d.name}=${d.dims.map((x, j) => (x.value > 0 ? x.value : j === 0 ? batch : `<${x.param || `d${j}`}>`)).join(',')}`,
        where,
      );
    });
    return { name: d.name, shape, dtype: d.dtype };
  });
}
