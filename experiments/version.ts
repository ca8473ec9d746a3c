/** The project's version (package.json), read once: the CLI prints it and sweep workers compare it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../graphs/package-root.js';

let version: string | undefined;

export function projectVersion(): string {
  version ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
