#!/usr/bin/env node
/**
 * The `topsched` command line. Each command lives in experiments/commands/; errors from bad input
 * (unknown model, malformed file, invalid schedule) print one line naming the place and exit 1.
 */
import { createProgram } from './program.js';

try {
  await createProgram().parseAsync(process.argv);
} catch (e) {
  const err = e as Error;
  process.stderr.write(`topsched: ${err.message}\n`);
  if (process.env.TOPSCHED_DEBUG) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}
