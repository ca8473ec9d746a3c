/** Builds a cost model from a CLI-style spec: `roofline:<preset>` or `synthetic[:seed]`. */
import type { CostModel } from './model.js';
import { devicePreset, RooflineCostModel } from './roofline.js';
import { SyntheticCostModel } from './synthetic.js';

export * from './model.js';
export * from './roofline.js';
export * from './synthetic.js';

export function costModelFromSpec(spec: string): CostModel {
  const [kind, arg] = spec.split(':', 2);
  if (kind === 'roofline') return new RooflineCostModel(devicePreset(arg ?? 'v100'));
  if (kind === 'synthetic') {
    const seed = arg === undefined ? 0 : Number(arg);
    if (!Number.isInteger(seed)) throw new Error(`cost spec '${spec}': seed must be an integer`);
    return new SyntheticCostModel({ seed });
  }
  throw new Error(`unknown cost model '${spec}' (roofline:<preset> | synthetic[:seed])`);
}
