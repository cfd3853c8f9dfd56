/**
 * Charts for the report: vega-lite specs compiled to vega, rendered headless
 * to SVG, then to PNG with resvg. No hand-drawn pixels.
 */

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { RunResult } from './result-types.js';

async function render(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
  await writeFile(file, png);
}

const COLORS = {
  domain: ['push', 'pull', 'local', 'bullmq'],
  range: ['#4c78a8', '#f58518', '#54a24b', '#b279a2'],
};

function lineBy(
  rows: object[],
  title: string,
  y: string,
  yTitle: string,
  facet = 'task',
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: rows },
    facet: { field: facet, type: 'nominal', title: null },
    columns: 3,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 220,
      height: 160,
      mark: { type: 'line', point: true },
      encoding: {
        // Worker counts are categories (1, 2, 4, 8), not a continuous axis with 1.1, 1.3 … ticks.
        x: {
          field: 'workers',
          type: 'ordinal',
          title: 'workers',
          sort: 'ascending',
          axis: { labelAngle: 0 },
        },
        y: { field: y, type: 'quantitative', title: yTitle },
        color: { field: 'mode', type: 'nominal', scale: COLORS },
      },
    },
  };
}

function bars(rows: object[], title: string, y: string, yTitle: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: rows },
    width: 420,
    height: 220,
    mark: 'bar',
    encoding: {
      x: { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelAngle: -30 } },
      y: { field: y, type: 'quantitative', title: yTitle },
      color: { field: 'mode', type: 'nominal', scale: COLORS, legend: null },
    },
  };
}

/** Writes every chart the report embeds; returns their file names. */
export async function writeCharts(results: RunResult[], dir: string): Promise<string[]> {
  const files: string[] = [];
  const add = async (name: string, spec: TopLevelSpec) => {
    const values = (spec as { data?: { values?: unknown[] } }).data?.values ?? [];
    if (values.length === 0) return; // a sweep this run did not make
    await render(spec, join(dir, name));
    files.push(name);
  };
  const weak = results
    .filter((r) => r.scaling === 'weak-large')
    .map((r) => ({
      ...r,
      mode: r.system === 'bullmq' ? 'bullmq' : r.mode,
      latency_ms: r.latency.mean,
    }));
  await add(
    'throughput-weak-scaling.png',
    lineBy(weak, 'Weak scaling: throughput (tasks/s)', 'throughput', 'tasks/s'),
  );
  await add(
    'latency-weak-scaling.png',
    lineBy(weak, 'Weak scaling: mean latency, submit → result (ms)', 'latency_ms', 'ms'),
  );
  const original = results
    .filter((r) => r.scaling === 'weak')
    .map((r) => ({
      ...r,
      mode: r.system === 'bullmq' ? 'bullmq' : r.mode,
      latency_ms: r.latency.mean,
    }));
  if (original.length > 0) {
    await add(
      'throughput-original-sweep.png',
      lineBy(original, 'Original sweep (5 tasks per worker): throughput', 'throughput', 'tasks/s'),
    );
  }
  const headline = results
    .filter((r) => r.scaling === 'headline' && r.submit === 'batch')
    .map((r) => ({
      label: `${r.system === 'bullmq' ? 'bullmq' : r.mode} ${r.task}`,
      mode: r.system === 'bullmq' ? 'bullmq' : r.mode,
      throughput: r.throughput,
    }));
  await add(
    'modes-vs-bullmq-throughput.png',
    bars(headline, 'Batch throughput, 2 worker processes (tasks/s)', 'throughput', 'tasks/s'),
  );
  const single = results
    .filter((r) => r.submit === 'single')
    .flatMap((r) => {
      const mode = r.system === 'bullmq' ? 'bullmq' : r.mode;
      return [
        { label: `${mode} p50`, mode, ms: r.latency.p50 },
        { label: `${mode} p99`, mode, ms: r.latency.p99 },
      ];
    });
  await add(
    'single-task-latency.png',
    bars(single, 'One task at a time: submit → result (ms)', 'ms', 'ms'),
  );
  return files;
}
