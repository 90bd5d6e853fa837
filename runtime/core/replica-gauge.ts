import { Gauge, type Registry } from 'prom-client';
import type { ReplicaPhase } from './reconcile.js';

/** `dormant_replicas{app,phase}`: the same series whichever executor runs the replicas. */
export class ReplicaGauge {
  readonly #gauge: Gauge<'app' | 'phase'>;

  constructor(registry: Registry | undefined) {
    this.#gauge = new Gauge({ name: 'dormant_replicas', help: 'Replicas by app and phase', labelNames: ['app', 'phase'], registers: registry ? [registry] : [] });
  }

  set(app: string, counts: Readonly<Partial<Record<ReplicaPhase, number>>>): void {
    for (const [phase, count] of Object.entries(counts)) this.#gauge.set({ app, phase }, count);
  }
}
