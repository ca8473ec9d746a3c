/**
 * Plots for docs/results/: a Vega-Lite spec compiled by vega-lite, laid out by vega's headless
 * SVG renderer, and rasterised to PNG by resvg — no browser, canvas or network. Every result plot
 * goes through `writePlot`, so all of them share fonts, size and the atomic write.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from './machine.js';

export type PlotSpec = TopLevelSpec;

/** DejaVu Sans ships with Debian's fonts-dejavu-core; resvg falls back to any system font otherwise. */
const FONT = 'DejaVu Sans';

const BASE_CONFIG = {
  font: FONT,
  background: 'white',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14 },
};

/** Compiles and renders a Vega-Lite spec; throws naming the spec's title when vega rejects it. */
export async function renderPlot(spec: PlotSpec): Promise<{ svg: string; png: Uint8Array }> {
  const withConfig = { ...spec, config: { ...BASE_CONFIG, ...(spec as { config?: object }).config } } as TopLevelSpec;
  let svg: string;
  try {
    const view = new vega.View(vega.parse(compile(withConfig).spec), { renderer: 'none' });
    svg = await view.toSVG();
    view.finalize();
  } catch (err) {
    const title = JSON.stringify((spec as { title?: unknown }).title ?? 'untitled');
    throw new Error(`plot ${title}: ${(err as Error).message}`);
  }
  const png = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: FONT, sansSerifFamily: FONT },
  })
    .render()
    .asPng();
  return { svg, png };
}

/** Writes `<outBase>.svg` and `<outBase>.png` (each atomically); returns both paths. */
export async function writePlot(spec: PlotSpec, outBase: string): Promise<{ svg: string; png: string }> {
  const { svg, png } = await renderPlot(spec);
  const paths = { svg: `${outBase}.svg`, png: `${outBase}.png` };
  writeFileAtomic(paths.svg, svg);
  writeFileAtomic(paths.png, png);
  return paths;
}

export interface AxisSpec {
  field: string;
  title: string;
  /** Log scale for sweeps over batch size, rate, etc. */
  log?: boolean;
  /** Start the axis at zero (default true for linear y axes). */
  zero?: boolean;
}

export interface LineChartOptions {
  title: string;
  data: Record<string, unknown>[];
  x: AxisSpec;
  y: AxisSpec;
  /** Series field (one line per value). */
  series?: { field: string; title: string };
  /** Small multiples: one panel per value of this field. */
  facet?: { field: string; title: string; columns?: number };
  width?: number;
  height?: number;
}

function axis(a: AxisSpec, type: 'quantitative' = 'quantitative') {
  return {
    field: a.field,
    type,
    title: a.title,
    scale: a.log ? { type: 'log' as const } : { zero: a.zero ?? false },
  };
}

/** A line chart with points: the shape of every sweep (latency vs batch, throughput vs rate). */
export function lineChart(o: LineChartOptions): PlotSpec {
  const encoding = {
    x: axis(o.x),
    y: { ...axis(o.y), scale: o.y.log ? { type: 'log' as const } : { zero: o.y.zero ?? true } },
    ...(o.series ? { color: { field: o.series.field, type: 'nominal' as const, title: o.series.title } } : {}),
    tooltip: [{ field: o.x.field }, { field: o.y.field }],
  };
  const unit = { mark: { type: 'line' as const, point: true }, encoding, width: o.width ?? 360, height: o.height ?? 240 };
  if (o.facet) {
    return {
      title: o.title,
      data: { values: o.data },
      facet: { field: o.facet.field, type: 'nominal', title: o.facet.title },
      columns: o.facet.columns ?? 2,
      spec: unit,
      resolve: { scale: { y: 'independent' } },
    } as PlotSpec;
  }
  return { title: o.title, data: { values: o.data }, ...unit } as PlotSpec;
}

export interface BarChartOptions {
  title: string;
  data: Record<string, unknown>[];
  /** Category on the x axis (e.g. model). */
  category: { field: string; title: string };
  value: AxisSpec;
  /** Bars grouped side by side within a category (e.g. method). */
  group?: { field: string; title: string };
  width?: number;
  height?: number;
}

/** Grouped bars: the shape of per-model comparisons (latency per method, memory per mode). */
export function barChart(o: BarChartOptions): PlotSpec {
  return {
    title: o.title,
    data: { values: o.data },
    mark: 'bar',
    width: o.width ?? 420,
    height: o.height ?? 240,
    encoding: {
      x: { field: o.category.field, type: 'nominal', title: o.category.title, axis: { labelAngle: -30 } },
      // A log axis has no zero to stack bars from: unstacked, each bar rises from the axis bottom (stacked ones draw nothing).
      y: { field: o.value.field, type: 'quantitative', title: o.value.title, ...(o.value.log ? { scale: { type: 'log' }, stack: null } : { scale: {} }) },
      ...(o.group
        ? {
            xOffset: { field: o.group.field, type: 'nominal' },
            color: { field: o.group.field, type: 'nominal', title: o.group.title },
          }
        : {}),
      tooltip: [{ field: o.category.field }, { field: o.value.field }],
    },
  } as PlotSpec;
}

/** Markdown that embeds a plot written by writePlot next to the results file. */
export function plotMarkdown(title: string, outBase: string): string {
  const name = outBase.split('/').pop();
  return `![${title}](${name}.png)\n\n(vector: [${name}.svg](${name}.svg))`;
}
