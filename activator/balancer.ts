/** What the balancer needs of an upstream. */
export interface Slot {
  readonly inFlight: number;
}

/**
 * Power of two choices: of two random candidates, the one with fewer requests in flight,
 * skipping any at its concurrency limit (0 = no limit). Pure: random is injected.
 * Returns the index in candidates, or -1 when every candidate is full.
 */
export function pickTwoChoices(candidates: readonly Slot[], limit: number, random: () => number): number {
  const count = candidates.length;
  if (count === 0) return -1;
  const hasRoom = (i: number) => limit === 0 || (candidates[i]?.inFlight ?? 0) < limit;
  if (count === 1) return hasRoom(0) ? 0 : -1;
  const first = Math.floor(random() * count);
  let second = Math.floor(random() * (count - 1));
  if (second >= first) second++;
  const a = candidates[first]?.inFlight ?? 0;
  const b = candidates[second]?.inFlight ?? 0;
  const better = b < a ? second : first;
  const other = better === first ? second : first;
  if (hasRoom(better)) return better;
  if (hasRoom(other)) return other;
  // Both sampled are full: any with room, least loaded first.
  let best = -1;
  for (let i = 0; i < count; i++) {
    if (hasRoom(i) && (best === -1 || (candidates[i]?.inFlight ?? 0) < (candidates[best]?.inFlight ?? 0))) best = i;
  }
  return best;
}
