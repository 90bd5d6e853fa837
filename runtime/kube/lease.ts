/**
 * Leader election and membership over coordination.k8s.io Leases, as client-go's
 * leaderelection does it: a holder renews its Lease every few seconds; anyone may take a
 * Lease whose renewal is older than its duration. The decision is a pure function of the
 * Lease as read, the candidate and the time; the elector does the reads and writes, each
 * guarded by the Lease's resourceVersion so two candidates can never both win.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiClient } from './api-client.js';

export interface LeaseView {
  readonly holder: string | undefined;
  readonly renewedAtMs: number | undefined;
  readonly durationMs: number;
}

export type LeaseDecision = { readonly action: 'renew' } | { readonly action: 'take'; readonly transition: boolean } | { readonly action: 'wait'; readonly holder: string };

/** What a candidate does with the Lease it read: renew its own, take a free or expired one, or wait. */
export function leaseDecision(lease: LeaseView | undefined, candidate: string, nowMs: number): LeaseDecision {
  if (lease === undefined || lease.holder === undefined || lease.holder === '') return { action: 'take', transition: lease !== undefined };
  if (lease.holder === candidate) return { action: 'renew' };
  const expired = lease.renewedAtMs === undefined || nowMs - lease.renewedAtMs > lease.durationMs;
  return expired ? { action: 'take', transition: true } : { action: 'wait', holder: lease.holder };
}

export function viewOfLease(lease: V1Lease): LeaseView {
  const renew = lease.spec?.renewTime;
  return {
    holder: lease.spec?.holderIdentity ?? undefined,
    renewedAtMs: renew === undefined || renew === null ? undefined : new Date(renew).getTime(),
    durationMs: (lease.spec?.leaseDurationSeconds ?? 15) * 1000,
  };
}

export interface LeaseElectorOptions {
  readonly config: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly log: Logger;
  readonly durationSeconds?: number;
  readonly renewEveryMs?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Called when this candidate starts or stops holding the Lease. */
  readonly onChange?: (leading: boolean) => void;
  /** On stop, delete the Lease instead of releasing it (a Lease of one's own, such as a member's: it would pile up otherwise). */
  readonly deleteOnStop?: boolean;
  readonly clock?: () => number;
}

const isStatus = (error: unknown, code: number) => (error as { code?: number }).code === code;

/** Holds, or tries to take, one Lease until stopped. */
export class LeaseElector {
  readonly #api: CoordinationV1Api;
  readonly #options: LeaseElectorOptions;
  readonly #clock: () => number;
  #leading = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The attempt under way, which stop() lets finish before it releases or deletes the Lease. */
  #attempting: Promise<void> | undefined;
  /** When this candidate last renewed successfully: it stops leading before the Lease could expire for others. */
  #renewedAtMs = 0;

  constructor(options: LeaseElectorOptions) {
    this.#options = options;
    this.#api = apiClient(options.config, CoordinationV1Api);
    this.#clock = options.clock ?? Date.now;
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** Tries at once, then every renewEveryMs. */
  async start(): Promise<void> {
    await this.#attempt();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#attempting = this.#attempt().finally(() => {
        this.#attempting = undefined;
        this.#schedule();
      });
    }, this.#options.renewEveryMs ?? 2000);
    this.#timer.unref();
  }

  #set(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#options.log.info({ lease: this.#options.name, identity: this.#options.identity }, leading ? 'leading: took the lease' : 'not leading any more');
    this.#options.onChange?.(leading);
  }

  async #attempt(): Promise<void> {
    const { namespace, name, identity } = this.#options;
    const durationSeconds = this.#options.durationSeconds ?? 10;
    const now = this.#clock();
    const spec = (acquired: boolean) => ({
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: new V1MicroTime(now),
      ...(acquired ? { acquireTime: new V1MicroTime(now) } : {}),
    });
    try {
      let current: V1Lease | undefined;
      try {
        current = await this.#api.readNamespacedLease({ name, namespace });
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
      const decision = leaseDecision(current ? viewOfLease(current) : undefined, identity, now);
      if (decision.action === 'wait') {
        this.#set(false);
        return;
      }
      const metadata = { name, namespace, ...(this.#options.labels ? { labels: { ...this.#options.labels } } : {}), ...(this.#options.annotations ? { annotations: { ...this.#options.annotations } } : {}) };
      if (current === undefined) {
        await this.#api.createNamespacedLease({ namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec: { ...spec(true), leaseTransitions: 0 } } });
      } else {
        const transitions = (current.spec?.leaseTransitions ?? 0) + (decision.action === 'take' && decision.transition ? 1 : 0);
        await this.#api.replaceNamespacedLease({
          name,
          namespace,
          // The read's resourceVersion: if another candidate wrote in between, this write fails.
          body: {
            ...current,
            metadata: { ...current.metadata, ...metadata, labels: { ...current.metadata?.labels, ...metadata.labels }, annotations: { ...current.metadata?.annotations, ...metadata.annotations } },
            spec: { ...current.spec, ...spec(decision.action === 'take'), leaseTransitions: transitions },
          },
        });
      }
      this.#renewedAtMs = now;
      this.#set(true);
    } catch (error) {
      // Lost a race (409), or the apiserver is away: lead only while the last renewal is surely still valid.
      if (!isStatus(error, 409)) this.#options.log.warn({ err: error, lease: name }, 'lease attempt failed');
      if (this.#leading && this.#clock() - this.#renewedAtMs > (durationSeconds * 1000) / 2) this.#set(false);
      if (isStatus(error, 409)) this.#set(false);
    }
  }

  /** Stops renewing; a held Lease is released so another candidate takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    // A renewal still under way would otherwise land after the release, or re-create a deleted Lease.
    await this.#attempting;
    if (!this.#leading) return;
    this.#set(false);
    const { namespace, name } = this.#options;
    try {
      const current = await this.#api.readNamespacedLease({ name, namespace });
      if (current.spec?.holderIdentity === this.#options.identity && this.#options.deleteOnStop) {
        // By uid: the Lease this candidate holds, whatever its resourceVersion now.
        await this.#api.deleteNamespacedLease({ name, namespace, body: { preconditions: { uid: current.metadata?.uid ?? '' } } });
      } else if (current.spec?.holderIdentity === this.#options.identity) {
        await this.#api.replaceNamespacedLease({ name, namespace, body: { ...current, spec: { ...current.spec, holderIdentity: '' } } });
      }
    } catch {
      // It expires by itself.
    }
  }
}

export const memberLabel = 'dormant.dev/autoscaler-member';
export const addressAnnotation = 'dormant.dev/address';

/** A DNS-label name for a member's Lease from any identity (host-pid, pod name). */
export function memberLeaseName(identity: string): string {
  const cleaned = identity.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `dormant-autoscaler-${cleaned}`.slice(0, 63).replace(/-+$/, '');
}

/**
 * The autoscalers alive now, as the activators find them: each autoscaler holds a Lease of
 * its own, labelled as a member and annotated with the address its stats server listens
 * on; a member whose Lease has not been renewed within its duration is gone.
 */
export class MemberDirectory {
  readonly #api: CoordinationV1Api;
  readonly #namespace: string;
  readonly #log: Logger;
  readonly #clock: () => number;
  #addresses: readonly string[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { config: KubeConfig; namespace: string; log: Logger; clock?: () => number }) {
    this.#api = apiClient(options.config, CoordinationV1Api);
    this.#namespace = options.namespace;
    this.#log = options.log;
    this.#clock = options.clock ?? Date.now;
  }

  addresses(): readonly string[] {
    return this.#addresses;
  }

  async start(refreshMs = 2000): Promise<void> {
    await this.#refresh();
    const again = () => {
      this.#timer = setTimeout(() => void this.#refresh().finally(again), refreshMs);
      this.#timer.unref();
    };
    again();
  }

  async #refresh(): Promise<void> {
    try {
      const list = await this.#api.listNamespacedLease({ namespace: this.#namespace, labelSelector: `${memberLabel}=true` });
      const now = this.#clock();
      this.#addresses = list.items
        .filter((lease) => {
          const view = viewOfLease(lease);
          return view.holder !== undefined && view.holder !== '' && view.renewedAtMs !== undefined && now - view.renewedAtMs <= view.durationMs;
        })
        .map((lease) => lease.metadata?.annotations?.[addressAnnotation])
        .filter((address): address is string => typeof address === 'string' && address.length > 0)
        .sort();
    } catch (error) {
      // The apiserver is away: keep posting to the members last seen.
      this.#log.warn({ err: error }, 'cannot list the autoscalers; keeping the last list');
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
