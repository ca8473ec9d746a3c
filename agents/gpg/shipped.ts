/**
 * The GPG policy shipped with topsched (`policies/gpg/`, written by `topsched reproduce gpg`) and the
 * one way the CLI loads a policy: the tfjs backend first (wasm, deterministic), then the checkpoint,
 * with errors that name the folder and say how to make one.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../backend.js';
import { GpgPolicy } from './policy.js';

/** The package root: the closest folder above this module with a package.json (source or dist). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

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
