/** Durations are Go-style strings ("30s", "1m30s", "250ms", "2h"), as in Knative's annotations. */

export const durationPattern = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';
const durationRegExp = new RegExp(durationPattern);
const partRegExp = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!durationRegExp.test(text)) return undefined;
  let totalMs = 0;
  for (const match of text.matchAll(partRegExp)) {
    totalMs += Number(match[1]) * (unitMs[match[2] ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(totalMs) ? totalMs : undefined;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
