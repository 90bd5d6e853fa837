import { apiTimestamp, type PipelineStep, type Revision, type RevisionStatus } from '../crds/index.js';
import type { ResourceStore } from '../runtime/index.js';
import { type StepJournal, type StepName, stepNames } from './step-chain.js';

/**
 * A push's steps as its Revision's status.steps. Checkout comes before the Revision (its
 * spec depends on what checkout found): until `open` creates it, marks stay here, and the
 * Revision starts with them.
 */
export class RevisionJournal implements StepJournal {
  readonly #store: ResourceStore;
  readonly #now: () => Date;
  /** Copies the steps into the App's status.latestRevisionSteps. */
  readonly #toApp: (steps: PipelineStep[]) => Promise<void>;
  readonly #steps: PipelineStep[] = stepNames.map((name) => ({ name, state: 'pending' }));
  #revision: Revision | undefined;

  constructor(options: { store: ResourceStore; now: () => Date; toApp: (steps: PipelineStep[]) => Promise<void> }) {
    this.#store = options.store;
    this.#now = options.now;
    this.#toApp = options.toApp;
  }

  timestamp(): string {
    return apiTimestamp(this.#now());
  }

  /** The Revision as last written. */
  get revision(): Revision {
    if (this.#revision === undefined) throw new Error('the Revision is not created yet');
    return this.#revision;
  }

  /** The steps so far, as a copy. */
  get steps(): PipelineStep[] {
    return [...this.#steps];
  }

  /** Creates the Revision, in phase Building, with the steps marked so far. */
  async open(revision: Omit<Revision, 'status'>): Promise<Revision> {
    this.#revision = await this.#store.create({ ...revision, status: { phase: 'Building', steps: [...this.#steps] } });
    return this.#revision;
  }

  async mark(step: StepName, change: Partial<PipelineStep>, phase?: RevisionStatus['phase']): Promise<void> {
    const index = stepNames.indexOf(step);
    this.#steps[index] = { ...(this.#steps[index] ?? { name: step, state: 'pending' }), ...change };
    if (this.#revision === undefined) return;
    await this.#write({ steps: [...this.#steps], ...(phase ? { phase } : {}) });
  }

  async fail(step: StepName, message: string): Promise<void> {
    if (this.#revision === undefined) return; // nothing recorded before the Revision exists
    await this.mark(step, { state: 'failed', finishedAt: this.timestamp(), message }, 'Failed').catch(() => {});
    await this.#toApp(this.steps).catch(() => {});
  }

  /** Merges fields into the Revision's status. */
  async set(fields: Partial<RevisionStatus>): Promise<void> {
    await this.#write(fields);
  }

  async #write(fields: Partial<RevisionStatus>): Promise<void> {
    const revision = this.revision;
    this.#revision = await this.#store.updateStatus({ ...revision, status: { ...(revision.status ?? { phase: 'Building', steps: [] }), ...fields } });
  }
}
