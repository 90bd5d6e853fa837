// The printed table: each figure with its reference measured in the same run, and their ratio.
import type { TableRow } from './scenario.js';

export function formatTable(rows: readonly TableRow[]): string {
  const cells = rows.map((r) => [
    r.figure,
    `${r.value} ${r.unit}`,
    r.reference ? `${r.reference.value} (${r.reference.name})` : '',
    r.reference && r.reference.value !== 0 && r.unit !== 's' ? `${(r.value / r.reference.value).toFixed(2)}x` : '',
  ]);
  const headers = ['FIGURE', 'VALUE', 'REFERENCE (same run)', 'RATIO'];
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) => c.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('   ').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}
