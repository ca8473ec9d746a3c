import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { barChart, lineChart, renderPlot, writePlot } from '../experiments/plot.js';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];

describe('plots', () => {
  it('renders a line chart to SVG with its title, axis titles and series, and to a PNG', async () => {
    const data = [1, 2, 4, 8].flatMap((b) => [
      { batch: b, ms: b * 1.5, method: 'sequential' },
      { batch: b, ms: b * 1.1, method: 'ios-dp' },
    ]);
    const { svg, png } = await renderPlot(
      lineChart({
        title: 'latency vs batch',
        data,
        x: { field: 'batch', title: 'batch', log: true },
        y: { field: 'ms', title: 'latency (ms)' },
        series: { field: 'method', title: 'schedule' },
      }),
    );
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['latency vs batch', 'latency (ms)', 'sequential', 'ios-dp']) expect(svg).toContain(text);
    expect([...png.slice(0, 4)]).toEqual(PNG_MAGIC);
    // 2× zoom of the vega canvas: the PNG is wider than the plot area itself.
    const width = new DataView(png.buffer, png.byteOffset).getUint32(16);
    expect(width).toBeGreaterThan(600);
  });

  it('writes grouped bars as .svg and .png next to each other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plot-'));
    const paths = await writePlot(
      barChart({
        title: 'arena per model',
        data: [
          { model: 'a', mode: 'planned', mib: 3 },
          { model: 'a', mode: 'caching', mib: 5 },
        ],
        category: { field: 'model', title: 'model' },
        value: { field: 'mib', title: 'MiB' },
        group: { field: 'mode', title: 'memory mode' },
      }),
      join(dir, 'arena'),
    );
    expect(readFileSync(paths.svg, 'utf8')).toContain('arena per model');
    expect([...readFileSync(paths.png).subarray(0, 4)]).toEqual(PNG_MAGIC);
  });

  it('names the plot when the spec is invalid', async () => {
    await expect(renderPlot({ title: 'broken', data: { values: [] }, mark: 'nonsense' } as never)).rejects.toThrow(/broken/);
  });
});
