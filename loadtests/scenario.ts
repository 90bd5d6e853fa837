// What a scenario is and what it returns to the runner.
import type { BenchEnvironment } from './bench-env.js';
import type { BenchTools } from './tools.js';

export interface ScenarioContext {
  readonly env: BenchEnvironment;
  readonly tools: BenchTools;
  readonly log: (line: string) => void;
  /** Shorter runs, for a quick check (CI smoke). */
  readonly smoke: boolean;
  /** Where charts go. */
  readonly resultsDir: string;
  readonly stamp: string;
}

/** One line of the printed table: a figure, and its reference when it has one. */
export interface TableRow {
  readonly figure: string;
  readonly value: number;
  readonly unit: string;
  readonly reference?: { readonly name: string; readonly value: number };
}

export interface ScenarioResult {
  /** The results.json fields of this scenario (snake_case, numbers only). */
  readonly figures: Record<string, number | Record<string, number>>;
  readonly rows: readonly TableRow[];
  /** Reliability thresholds that failed, each naming its figure. */
  readonly breaches: readonly string[];
}

export interface Scenario {
  readonly name: 'warm' | 'cold' | 'dockerfile_cold' | 'k8s_cold' | 'burst' | 'step' | 'deploy' | 'trickle' | 'push';
  /** Also run when one of these is asked for (`cold` reports a detected and a Dockerfile app). */
  readonly alsoWith?: readonly Scenario['name'][];
  readonly summary: string;
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

export const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
