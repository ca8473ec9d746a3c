#!/usr/bin/env node
/**
 * The `topsched` command line. Each command lives in experiments/commands/; errors from bad input
 * (unknown model, malformed file, invalid schedule) print one line naming the place and exit 1.
 */
import { createProgram } from './program.js';

// `topsched ... | head`: a closed pipe ends the output, not the process with a stack trace.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });

try {
  await createProgram().parseAsync(process.argv);
} catch (e) {
  const err = e as Error;
  process.stderr.write(`topsched: ${err.message}\n`);
  if (process.env.TOPSCHED_DEBUG) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}
