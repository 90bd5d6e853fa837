import type { AppTraffic } from './app-traffic.js';

/** What the tick reads of an app to know whether it still has work for it. */
export interface AppActivity {
  /** Requests waiting in its queue. */
  readonly held: number;
  /** What its held-requests gauge says (-1: never set). */
  readonly heldInGauge: number;
  /** Its meter counted something since its last report: a request in flight, started or ended. */
  readonly unreported: boolean;
}

/**
 * Whether the tick still has work for an app: held requests to expire, re-poke or dispatch,
 * load to report, or a gauge to bring in line. Without any, the tick and the report rounds
 * pass it by until a request for it starts. Pure.
 */
export function hasWork(activity: AppActivity): boolean {
  return activity.held > 0 || activity.unreported || activity.heldInGauge !== activity.held;
}

/**
 * The apps the activator's tick has work for, so that the tick and the load reports cost
 * O(apps with traffic), not O(apps): a thousand apps asleep cost them nothing. An app is
 * listed when it is added and when a request for it starts, and leaves when hasWork says
 * it has none. On the request path, listing is a flag test, and for an app that was idle a
 * push onto an array that keeps its room: nothing is allocated per request.
 */
export class ActiveApps {
  readonly #list: AppTraffic[] = [];
  /** When the last round of load reports was made. */
  #lastRoundMs = Number.NEGATIVE_INFINITY;

  /** Apps listed now. */
  get size(): number {
    return this.#list.length;
  }

  /** A new app: the next tick visits it (its held gauge reads 0 from the start, as every app's does). */
  add(traffic: AppTraffic): void {
    if (traffic.listed) return;
    traffic.listed = true;
    this.#list.push(traffic);
  }

  /** A request for traffic starts (proxied, held or tunnelled): it is counted, and the app is visited from the next tick. */
  started(traffic: AppTraffic, nowMs: number): void {
    if (!traffic.listed) {
      // The rounds that passed it by would each have reported nothing and begun a new window.
      traffic.meter.skippedUntil(this.#lastRoundMs);
      traffic.listed = true;
      this.#list.push(traffic);
    }
    traffic.meter.started(nowMs);
  }

  /** A deleted app: no more visits. */
  remove(traffic: AppTraffic): void {
    if (!traffic.listed) return;
    traffic.listed = false;
    const index = this.#list.indexOf(traffic);
    if (index >= 0) this.#list.splice(index, 1);
  }

  /** Visits each listed app once; one for which visit returns false leaves the list. */
  sweep(visit: (traffic: AppTraffic) => boolean): void {
    const list = this.#list;
    let kept = 0;
    // The length is read on each turn: an app listed by a visit (a request started by what it answered) is visited too.
    for (let i = 0; i < list.length; i++) {
      const traffic = list[i] as AppTraffic;
      if (visit(traffic)) list[kept++] = traffic;
      else traffic.listed = false;
    }
    list.length = kept;
  }

  /** A round of load reports was made at nowMs: an app that was left out of it starts its next window there. */
  roundMade(nowMs: number): void {
    this.#lastRoundMs = nowMs;
  }
}
