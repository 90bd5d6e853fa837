/**
 * A pipeline as a list of named steps, each a function of what the step before produced,
 * and the one loop that runs them. The loop does what every step shares: marks the step
 * running, succeeded, skipped or failed in its journal (a Revision's status.steps), times
 * it, cleans up after a failure, and turns the failure into the short reason the pusher
 * gets. A step does its own work and says how it failed by throwing StepFailed; any other
 * error is not a failure of the step (a store write, a bug) and leaves the loop as it is.
 */
import type { PipelineStep, RevisionStatus } from '../crds/index.js';

/** The steps of a push, in the order of a Revision's status.steps. */
export const stepNames = ['checkout', 'build', 'image', 'deploy', 'postDeploy'] as const;
export type StepName = (typeof stepNames)[number];

/**
 * Why a step does not run: `off` when this Dormant has it turned off (it is then left out
 * of the timings), `nothing-to-do` when the push gives it no work (timed, at about 0 ms).
 */
export type Skip<Out> = { readonly because: 'off'; readonly message: string; readonly output: Out } | { readonly because: 'nothing-to-do'; readonly output: Out };

export interface Step<Context, In, Out> {
  readonly name: StepName;
  /** Whether this push skips the step, and what it passes on then. */
  readonly skip?: (context: Context, input: In) => Skip<Out> | undefined;
  /** The step's work. Throws StepFailed when the step fails. */
  readonly run: (context: Context, input: In) => Promise<Out>;
  /** The message the succeeded step carries in the journal. */
  readonly summary?: (output: Out) => string | undefined;
  /** The phase the journal moves to when the step succeeds. */
  readonly phaseAfter?: RevisionStatus['phase'];
  /** Runs after the step is marked succeeded, outside its timing. */
  readonly after?: (context: Context, output: Out) => Promise<void>;
  /** A failure leaves the release in place (it has been serving, and the runtime rolled back from it). */
  readonly keepsRelease?: true;
}

/** How a step failed: `message` goes to the journal's step, `reason` to the pusher. */
export class StepFailed extends Error {
  readonly reason: string;

  constructor(message: string, reason: string) {
    super(message);
    this.reason = reason;
  }
}

/** The message of a thrown error, as a step reports it. */
export const messageOf = (error: unknown): string => (error as Error).message;

/**
 * Steps whose types chain: each step takes what the one before returns. Built with
 * `first(step).next(step)…`; the loop sees them as one list.
 */
export class StepChain<Context, In, Out> {
  // The chain's types are checked where it is built (`next`); inside, the steps are a plain list.
  readonly steps: readonly Step<Context, unknown, unknown>[];

  private constructor(steps: readonly Step<Context, unknown, unknown>[]) {
    this.steps = steps;
  }

  static first<Context, In, Out>(step: Step<Context, In, Out>): StepChain<Context, In, Out> {
    return new StepChain<Context, In, Out>([step as unknown as Step<Context, unknown, unknown>]);
  }

  next<Next>(step: Step<Context, Out, Next>): StepChain<Context, In, Next> {
    return new StepChain<Context, In, Next>([...this.steps, step as unknown as Step<Context, unknown, unknown>]);
  }
}

/** Where the loop marks each step. */
export interface StepJournal {
  /** The wall-clock time for startedAt and finishedAt. */
  timestamp(): string;
  mark(step: StepName, change: Partial<PipelineStep>, phase?: RevisionStatus['phase']): Promise<void>;
  /** Marks the step failed (and the whole Failed); never throws, as the failure is what the pusher must hear. */
  fail(step: StepName, message: string): Promise<void>;
}

export interface StepTiming {
  readonly step: string;
  readonly ms: number;
}

/** Thrown by runSteps when a step failed; its message is the reason. */
export type Rejection = (reason: string) => Error;

export async function runSteps<Context, In, Out>(
  chain: StepChain<Context, In, Out>,
  run: { readonly context: Context; readonly input: In; readonly journal: StepJournal; readonly cleanUp: () => Promise<void>; readonly reject: Rejection },
): Promise<{ output: Out; timings: StepTiming[] }> {
  const { context, journal } = run;
  const timings: StepTiming[] = [];
  let value: unknown = run.input;
  for (const step of chain.steps) {
    const began = performance.now();
    const skip = step.skip?.(context, value);
    if (skip) {
      await journal.mark(step.name, skip.because === 'off' ? { state: 'skipped', message: skip.message } : { state: 'skipped' });
      if (skip.because === 'nothing-to-do') timings.push({ step: step.name, ms: performance.now() - began });
      value = skip.output;
      continue;
    }
    await journal.mark(step.name, { state: 'running', startedAt: journal.timestamp() });
    try {
      value = await step.run(context, value);
    } catch (error) {
      if (!(error instanceof StepFailed)) throw error;
      if (!step.keepsRelease) await run.cleanUp();
      await journal.fail(step.name, error.message);
      throw run.reject(error.reason);
    }
    const summary = step.summary?.(value);
    await journal.mark(step.name, { state: 'succeeded', finishedAt: journal.timestamp(), ...(summary === undefined ? {} : { message: summary }) }, step.phaseAfter);
    timings.push({ step: step.name, ms: performance.now() - began });
    await step.after?.(context, value);
  }
  return { output: value as Out, timings };
}
