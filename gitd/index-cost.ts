/**
 * What indexing a pack costs, object by object, as the scan sees them (pure; pack-scan.ts
 * feeds it). isomorphic-git 1.44's indexPack builds every object in memory. It keeps built
 * objects for delta bases in a 32 MiB cache that takes none over 8 MiB (RESOLVE_CACHE_BYTES,
 * ObjectCache in its fromPack), so a delta whose base is larger is built again from the start
 * of its chain (readSlice), and every object of a chain of more than 3 such rebuilds stays
 * in memory until indexing ends (offsetCache).
 *
 * So an object costs what it inflates to, and a delta whose base is over 8 MiB also costs its
 * base's cost: a file over 8 MiB changed k times in one push costs about its size times
 * (k+1)(k+2)/2, while files up to 8 MiB cost their size per version however long their
 * chains. A base evicted from the 32 MiB cache by other objects is taken as kept: evicting it
 * takes over 24 MiB of other objects, each counted.
 */

/** The largest built object isomorphic-git keeps for delta bases (a quarter of its 32 MiB cache). */
export const cachedBaseBytes = 8 * 1024 * 1024;

/** An object as the chain sees it. */
export interface Chained {
  /** 0 for a whole object, 1 + its base's for a delta. */
  readonly depth: number;
  /** What it inflates to (a delta: the object it makes). */
  readonly bytes: number;
  /** What building it costs indexPack, its rebuilt bases included. */
  readonly cost: number;
}

/**
 * An object's place in its chain. `base`: undefined for a whole object; an ofs-delta's base
 * from the pack; a ref-delta's by the size it declares. A ref-delta's base is found by oid,
 * which the scan does not compute, so it is taken as the worst it can be: read once from the
 * repository (git sends a thin pack's bases so), or, when an earlier object of the pack has
 * exactly that size (`sameSize`: the deepest and costliest of them), that object (a delta's
 * base must have the size it declares). Git sends bases inside the pack as ofs-deltas to a
 * server that offers ofs-delta, as Dormant does, so this only ever costs a crafted pack.
 */
export function chained(
  bytes: number,
  base: { readonly ofs: Chained } | { readonly refBytes: number; readonly sameSize: Pick<Chained, 'depth' | 'cost'> | undefined } | undefined,
): Chained {
  if (base === undefined) return { depth: 0, bytes, cost: bytes };
  if ('refBytes' in base) {
    const inPack = base.sameSize !== undefined && base.refBytes > cachedBaseBytes ? base.sameSize.cost : 0;
    return { depth: (base.sameSize?.depth ?? 0) + 1, bytes, cost: bytes + Math.max(base.refBytes, inPack) };
  }
  return { depth: base.ofs.depth + 1, bytes, cost: bytes + (base.ofs.bytes > cachedBaseBytes ? base.ofs.cost : 0) };
}

/** The deepest and costliest objects so far by their size, for the ref-deltas after them. */
export class WorstBySize {
  readonly #bySize = new Map<number, { depth: number; cost: number }>();

  add(size: number, object: Chained): void {
    const known = this.#bySize.get(size);
    if (known === undefined) this.#bySize.set(size, { depth: object.depth, cost: object.cost });
    else {
      known.depth = Math.max(known.depth, object.depth);
      known.cost = Math.max(known.cost, object.cost);
    }
  }

  get(size: number): Pick<Chained, 'depth' | 'cost'> | undefined {
    return this.#bySize.get(size);
  }
}
