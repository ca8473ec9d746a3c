/** The package root: the closest folder above a module with a package.json (works from source and from dist/). */
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(moduleUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/**
 * The compiled JavaScript of a sibling module, for what must load it by path (a forked process, a
 * BullMQ sandbox): next to `moduleUrl` when that is compiled already, else (running from source, as
 * under vitest) the same place under dist/.
 */
export function compiledSibling(moduleUrl: string, file: string): string {
  const dir = dirname(fileURLToPath(moduleUrl));
  const sibling = join(dir, file);
  if (existsSync(sibling)) return sibling;
  const root = packageRoot(moduleUrl);
  return join(root, 'dist', relative(root, dir), file);
}
