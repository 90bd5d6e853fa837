/**
 * Traffic traces for `dormant policy simulate`, parsed from text (pure). Two shapes:
 * - load samples, `seconds,concurrency`: the concurrency holds from that second until the
 *   next sample, and the trace ends one second after the last;
 * - a request log, `seconds,duration_seconds[,status]` with that header (what
 *   `dormant trace APP` records): one request per line, by arrival time.
 * Blank lines and lines starting with # are ignored.
 */
import { defineErrors } from '../errors/index.js';

export const traceErrors = defineErrors({
  invalid: {
    code: 'TRACE_INVALID',
    httpStatus: 400,
    exitCode: 2,
    message: (o: { source: string; line: number; problem: string }) =>
      `${o.source} line ${o.line}: ${o.problem}. A trace is CSV: "seconds,concurrency" rows, or a request log with the header "seconds,duration_seconds" (dormant trace APP writes one)`,
  },
  empty: {
    code: 'TRACE_EMPTY',
    httpStatus: 400,
    exitCode: 2,
    message: (o: { source: string }) => `${o.source} holds no trace rows; give "seconds,concurrency" rows or a request log from dormant trace APP`,
  },
});

export interface LoadSample {
  readonly atS: number;
  readonly concurrency: number;
}

export interface TracedRequest {
  readonly atS: number;
  readonly durationS: number;
}

export type Trace =
  | { readonly kind: 'load'; readonly samples: readonly LoadSample[] }
  | { readonly kind: 'requests'; readonly requests: readonly TracedRequest[] };

/** The request log's header, as `dormant trace` writes it. */
export const requestLogHeader = 'seconds,duration_seconds,status';

export function parseTrace(text: string, source: string): Trace {
  const rows: { line: number; cells: string[] }[] = [];
  let header: string[] | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim());
    if (rows.length === 0 && header === undefined && cells.some((c) => c !== '' && Number.isNaN(Number(c)))) {
      header = cells.map((c) => c.toLowerCase());
      return;
    }
    rows.push({ line: index + 1, cells });
  });
  if (rows.length === 0) throw traceErrors.empty({ source });
  const isLog = header?.some((h) => h.startsWith('duration')) ?? false;
  if (header && !isLog && header[1] !== 'concurrency') {
    throw traceErrors.invalid({ source, line: 1, problem: `header "${header.join(',')}" is neither "seconds,concurrency" nor "seconds,duration_seconds"` });
  }
  const numbers = rows.map(({ line, cells }) => {
    if (cells.length < 2) throw traceErrors.invalid({ source, line, problem: `expected two numbers, got "${cells.join(',')}"` });
    const [at = Number.NaN, value = Number.NaN] = cells.slice(0, 2).map(Number);
    if (!Number.isFinite(at) || at < 0) throw traceErrors.invalid({ source, line, problem: `seconds must be a number >= 0, got "${cells[0]}"` });
    if (!Number.isFinite(value) || value < 0) {
      throw traceErrors.invalid({ source, line, problem: `${isLog ? 'duration' : 'concurrency'} must be a number >= 0, got "${cells[1]}"` });
    }
    return { line, at, value };
  });
  if (isLog) {
    return { kind: 'requests', requests: numbers.map((n) => ({ atS: n.at, durationS: n.value })).sort((a, b) => a.atS - b.atS) };
  }
  for (let i = 1; i < numbers.length; i++) {
    const previous = numbers[i - 1];
    const current = numbers[i];
    if (previous && current && current.at <= previous.at) {
      throw traceErrors.invalid({ source, line: current.line, problem: `seconds must increase from row to row (${current.at} after ${previous.at})` });
    }
  }
  return { kind: 'load', samples: numbers.map((n) => ({ atS: n.at, concurrency: n.value })) };
}
