/** Drives the topsched CLI in-process for tests: returns what a command printed (help included). */
import { vi } from 'vitest';
import { createProgram } from '../experiments/program.js';

export async function cli(...args: string[]): Promise<string> {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out.push(String(s));
    return true;
  });
  try {
    const program = createProgram().exitOverride();
    program.configureOutput({ writeErr: () => {}, writeOut: (s) => void out.push(s) });
    for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: (s) => void out.push(s) });
    await program.parseAsync(['node', 'topsched', ...args]);
  } catch (e) {
    if ((e as { code?: string }).code !== 'commander.helpDisplayed') throw e;
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
  return out.join('\n');
}
