/**
 * Metric sinks besides TensorBoard: a CSV logger in long format (one row per scalar:
 * step,tag,value,wall_time — metrics of different kinds arrive at different steps, so a fixed set of
 * columns would be mostly empty) and a fan-out to several sinks.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MetricsSink } from './tensorboard.js';

export class CsvLogger implements MetricsSink {
  private fd: number;
  private pending: string[] = [];

  /** Creates (or truncates) `file` and writes the header. Rows are buffered and flushed every `flushEvery`. */
  constructor(
    readonly file: string,
    private readonly flushEvery = 100,
    private readonly clock: () => number = () => Date.now() / 1000,
  ) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.fd = fs.openSync(file, 'w');
    fs.writeSync(this.fd, 'step,tag,value,wall_time\n');
  }

  private quote(tag: string): string {
    return /[",\n]/.test(tag) ? `"${tag.replaceAll('"', '""')}"` : tag;
  }

  scalar(tag: string, value: number, step: number): void {
    if (this.fd < 0) throw new Error(`${this.file}: logger is closed`);
    this.pending.push(`${step},${this.quote(tag)},${value},${this.clock().toFixed(3)}\n`);
    if (this.pending.length >= this.flushEvery) this.flush();
  }

  scalars(values: Record<string, number>, step: number): void {
    for (const [tag, v] of Object.entries(values)) this.scalar(tag, v, step);
  }

  flush(): void {
    if (this.fd < 0 || !this.pending.length) return;
    fs.writeSync(this.fd, this.pending.join(''));
    this.pending = [];
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** Parses a CsvLogger file back into rows (for tests and plotting tools). */
export function readCsvLog(file: string): { step: number; tag: string; value: number; wallTime: number }[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (lines[0] !== 'step,tag,value,wall_time') throw new Error(`${file}: not a metrics CSV (header '${lines[0]}')`);
  return lines.slice(1).map((line, i) => {
    const m = /^(-?\d+),("(?:[^"]|"")*"|[^,]*),([^,]+),([^,]+)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 2}: malformed row '${line}'`);
    const tag = m[2].startsWith('"') ? m[2].slice(1, -1).replaceAll('""', '"') : m[2];
    return { step: Number(m[1]), tag, value: Number(m[3]), wallTime: Number(m[4]) };
  });
}

export function fanOut(...sinks: MetricsSink[]): MetricsSink {
  return {
    scalar: (tag, value, step) => {
      for (const s of sinks) s.scalar(tag, value, step);
    },
    scalars: (values, step) => {
      for (const s of sinks) s.scalars(values, step);
    },
    close: () => {
      for (const s of sinks) s.close();
    },
  };
}
