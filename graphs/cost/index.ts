/**
 * Builds a cost model from a CLI-style spec: `roofline:<preset>`, `synthetic[:seed]`, or
 * `profiled:<profile.json>[,<profile.json>…][@<preset>]` (measured tables from `topsched profile`;
 * what they lack is priced by the roofline preset, by default the one of the profile's backend).
 */
import { readTextBounded } from '../limits.js';
import type { CostModel } from './model.js';
import { isProfileDocument, type ProfileDocument, ProfiledCostModel } from './profiled.js';
import { devicePreset, RooflineCostModel } from './roofline.js';
import { SyntheticCostModel } from './synthetic.js';

export * from './model.js';
export * from './profiled.js';
export * from './roofline.js';
export * from './synthetic.js';
export * from './threads.js';

function profiledFromSpec(spec: string, arg: string | undefined): CostModel {
  if (!arg) throw new Error(`cost spec '${spec}': give the profile file(s), e.g. profiled:resnet50.json (from topsched profile --out)`);
  const at = arg.lastIndexOf('@');
  const files = (at > 0 ? arg.slice(0, at) : arg).split(',').filter(Boolean);
  const docs: ProfileDocument[] = files.map((file) => {
    let doc: unknown;
    try {
      doc = JSON.parse(readTextBounded(file, 'profile'));
    } catch (e) {
      throw new Error(`cost spec '${spec}': ${file}: ${(e as Error).message}`);
    }
    if (!isProfileDocument(doc))
      throw new Error(`cost spec '${spec}': ${file} is not a topsched profile (format 'topsched.profile/1'; write one with topsched profile --out)`);
    return doc;
  });
  const preset = at > 0 ? arg.slice(at + 1) : docs[0].device.backend === 'cuda' ? 'v100' : 'cpu-2core';
  return new ProfiledCostModel(docs, new RooflineCostModel(devicePreset(preset)));
}

export function costModelFromSpec(spec: string): CostModel {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? undefined : spec.slice(colon + 1);
  if (kind === 'roofline') return new RooflineCostModel(devicePreset(arg ?? 'v100'));
  if (kind === 'synthetic') {
    const seed = arg === undefined ? 0 : Number(arg);
    if (!Number.isInteger(seed)) throw new Error(`cost spec '${spec}': seed must be an integer`);
    return new SyntheticCostModel({ seed });
  }
  if (kind === 'profiled') return profiledFromSpec(spec, arg);
  throw new Error(`unknown cost model '${spec}' (roofline:<preset> | synthetic[:seed] | profiled:<profile.json>[@<preset>])`);
}
