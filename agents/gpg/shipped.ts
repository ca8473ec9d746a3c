/**
 * The GPG policy shipped with topsched (`policies/gpg/`, written by `topsched reproduce gpg`) and the
 * one way the CLI loads a policy: the tfjs backend first (wasm, deterministic), then the checkpoint,
 * with errors that name the folder and say how to make one.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../graphs/package-root.js';
import { initBackend } from '../backend.js';
import { GpgPolicy } from './policy.js';

export function shippedGpgPolicyDir(): string {
  return join(packageRoot(), 'policies', 'gpg');
}

export async function loadGpgPolicy(dir = shippedGpgPolicyDir()): Promise<GpgPolicy> {
  const where = resolve(dir);
  if (!existsSync(join(where, 'meta.json')))
    throw new Error(`--policy ${dir}: no GPG policy there (meta.json missing); the shipped one is written by \`topsched reproduce gpg\``);
  await initBackend('wasm', { log: () => {} });
  try {
    return GpgPolicy.load(where);
  } catch (e) {
    throw new Error(`--policy ${dir}: ${(e as Error).message}`);
  }
}
