/**
 * The chart `dormant policy simulate` writes: one panel per policy, the trace's load as a
 * grey area (left axis) and the replicas asked for as a step line (right axis). Plain SVG
 * text, pure, so it opens in any browser and diffs in review.
 */
import type { SimulationResult } from './simulate.js';

export interface ChartPanel {
  readonly title: string;
  readonly result: SimulationResult;
}

const width = 960;
const panelHeight = 220;
const margin = { left: 60, right: 60, top: 38, bottom: 30 };

const escapeXml = (text: string) => text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c);
const fixed = (n: number) => (Math.round(n * 10) / 10).toString();

/** Round axis maxima: 1, 2, 5, 10, 20, 50... */
function niceCeiling(value: number): number {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** At most ~maxPoints points: long traces are drawn from per-bucket maxima, so peaks stay visible. */
function buckets(result: SimulationResult, maxPoints: number): { atS: number; load: number; scale: number }[] {
  const size = Math.max(1, Math.ceil(result.timeline.length / maxPoints));
  const out: { atS: number; load: number; scale: number }[] = [];
  for (let i = 0; i < result.timeline.length; i += size) {
    let load = 0;
    let scale = 0;
    for (const p of result.timeline.slice(i, i + size)) {
      load = Math.max(load, p.load);
      scale = Math.max(scale, p.scale);
    }
    out.push({ atS: result.timeline[i]?.atS ?? 0, load, scale });
  }
  return out;
}

export function renderChart(panels: readonly ChartPanel[], subtitle: string): string {
  const height = panels.length * panelHeight + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>dormant policy simulate: ${escapeXml(subtitle)}</title>`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${margin.left}" y="20" font-size="14" font-weight="bold">dormant policy simulate: ${escapeXml(subtitle)}</text>`,
  ];
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = panelHeight - margin.top - margin.bottom;
  const durationS = Math.max(1, ...panels.map((p) => p.result.durationS));
  const loadMax = niceCeiling(Math.max(0, ...panels.flatMap((p) => p.result.timeline.map((t) => t.load))));
  const scaleMax = niceCeiling(Math.max(1, ...panels.map((p) => p.result.peakReplicas)));
  panels.forEach((panel, index) => {
    const top = 30 + index * panelHeight + margin.top;
    const x = (s: number) => margin.left + (s / durationS) * plotWidth;
    const yLoad = (v: number) => top + plotHeight - (v / loadMax) * plotHeight;
    const yScale = (v: number) => top + plotHeight - (v / scaleMax) * plotHeight;
    const points = buckets(panel.result, plotWidth);
    const r = panel.result;
    parts.push(
      `<text x="${margin.left}" y="${top - 18}" font-weight="bold">${escapeXml(panel.title)}</text>`,
      `<text x="${margin.left}" y="${top - 5}" fill="#444">${r.coldStarts} cold starts, ${fixed(r.replicaSeconds)} replica-seconds, peak ${r.peakReplicas}, held ${fixed(r.heldSeconds)} s</text>`,
      `<rect x="${margin.left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#ccc"/>`,
    );
    if (points.length > 0) {
      const area = points.map((p) => `L${fixed(x(p.atS))},${fixed(yLoad(p.load))} L${fixed(x(p.atS + 1))},${fixed(yLoad(p.load))}`).join(' ');
      parts.push(`<path d="M${x(0)},${yLoad(0)} ${area} L${fixed(x(durationS))},${yLoad(0)} Z" fill="#bbb" fill-opacity="0.7"/>`);
      const steps = points.map((p) => `L${fixed(x(p.atS))},${fixed(yScale(p.scale))} L${fixed(x(p.atS + 1))},${fixed(yScale(p.scale))}`).join(' ');
      parts.push(`<path d="M${x(0)},${fixed(yScale(points[0]?.scale ?? 0))} ${steps}" fill="none" stroke="#1f5fbf" stroke-width="2"/>`);
    }
    parts.push(
      `<text x="${margin.left - 6}" y="${top + 4}" text-anchor="end" fill="#666">${loadMax}</text>`,
      `<text x="${margin.left - 6}" y="${top + plotHeight}" text-anchor="end" fill="#666">0</text>`,
      `<text x="${margin.left - 40}" y="${top + plotHeight / 2}" fill="#666" transform="rotate(-90 ${margin.left - 40} ${top + plotHeight / 2})" text-anchor="middle">load</text>`,
      `<text x="${width - margin.right + 6}" y="${top + 4}" fill="#1f5fbf">${scaleMax}</text>`,
      `<text x="${width - margin.right + 6}" y="${top + plotHeight}" fill="#1f5fbf">0</text>`,
      `<text x="${width - margin.right + 40}" y="${top + plotHeight / 2}" fill="#1f5fbf" transform="rotate(90 ${width - margin.right + 40} ${top + plotHeight / 2})" text-anchor="middle">replicas</text>`,
      `<text x="${width - margin.right}" y="${top + plotHeight + 16}" text-anchor="end" fill="#666">${durationS} s</text>`,
      `<text x="${margin.left}" y="${top + plotHeight + 16}" fill="#666">0 s</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
