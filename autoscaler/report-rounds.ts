/**
 * The seconds in which rounds of load reports came in, from any activator. A round names
 * only the apps with load; every other app the activator knows had none. So an app with no
 * load has no observation in a second, where it used to have one of zero, and the decider
 * reads the two alike but for one thing: where an app's observations begin, which it takes
 * as the start of its history on its first decision (warming up, "no history" panic, the
 * idle time of an app with no request seen). These rounds give it back: the oldest second
 * with a round that came after the loop began to follow the app is where its reports of
 * zero would have begun.
 *
 * Pure: the caller passes the time of each round. Sequence numbers, not times, say which
 * round came after the loop began to follow an app, so a wall clock that steps back does
 * not reorder them.
 */
export class ReportRounds {
  /** Seconds with a round, ascending. */
  readonly #seconds: number[] = [];
  /** The number of the last round in each of those seconds. */
  readonly #lastRound: number[] = [];
  #count = 0;

  /** Rounds received so far: the rounds that cover an app followed from now on are numbered above it. */
  get count(): number {
    return this.#count;
  }

  /** A round came in at nowMs. */
  record(nowMs: number): void {
    this.#count++;
    const second = Math.floor(nowMs / 1000);
    let index = this.#seconds.length;
    // Rounds come in time order, unless the clock stepped back: then the second is found from the end.
    while (index > 0 && (this.#seconds[index - 1] as number) > second) index--;
    if (index > 0 && this.#seconds[index - 1] === second) {
      this.#lastRound[index - 1] = this.#count;
      return;
    }
    this.#seconds.splice(index, 0, second);
    this.#lastRound.splice(index, 0, this.#count);
  }

  /** Forgets the seconds before oldestSecond. */
  forgetBefore(oldestSecond: number): void {
    let drop = 0;
    while (drop < this.#seconds.length && (this.#seconds[drop] as number) < oldestSecond) drop++;
    if (drop === 0) return;
    this.#seconds.splice(0, drop);
    this.#lastRound.splice(0, drop);
  }

  /** The oldest second from oldestSecond on with a round numbered above afterRound; undefined when none. */
  firstAfter(afterRound: number, oldestSecond: number): number | undefined {
    for (let i = 0; i < this.#seconds.length; i++) {
      const second = this.#seconds[i] as number;
      if (second >= oldestSecond && (this.#lastRound[i] as number) > afterRound) return second;
    }
    return undefined;
  }
}
