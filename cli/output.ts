import { stringify } from 'yaml';
import { cliErrors } from './errors.js';
import type { Io } from './io.js';

export const outputFormats = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof outputFormats)[number];

export function parseOutputFormat(value: string | undefined, usage: string): OutputFormat {
  if (value === undefined) return 'table';
  if ((outputFormats as readonly string[]).includes(value)) return value as OutputFormat;
  throw cliErrors.usage({ problem: `--output ${JSON.stringify(value)} is not supported; use json, yaml or table`, usage });
}

/** Columns padded like kubectl: upper-case headers, three spaces between columns. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** Prints machine output (json/yaml) of value, or the table when asked for a table. */
export function print(io: Io, format: OutputFormat, value: unknown, table: () => string): void {
  if (format === 'json') io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else if (format === 'yaml') io.stdout.write(stringify(value));
  else io.stdout.write(table());
}

/** kubectl-style age: 45s, 12m, 3h, 5d. */
export function formatAge(since: string | undefined, now: Date): string {
  if (!since) return '<none>';
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}
