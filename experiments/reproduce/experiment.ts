/** One reproducible result: `topsched reproduce <name>` reruns it and rewrites its docs/results/ files. */
export interface Experiment {
  name: string;
  description: string;
  /**
   * Wall time on the 2-core reference machine (minutes, measured on a quiet machine), so
   * `reproduce all` can print its plan and budget before it starts.
   */
  minutes: number;
  /** `opts.scale`: a named scale of the experiment (e.g. 'tiny'), where it has scales. */
  run(outDir: string, log: (line: string) => void, opts?: { scale?: string }): void | Promise<void>;
}
