/**
 * A first pass over a received pack, before isomorphic-git indexes it (which reads the whole
 * pack and inflates every object in memory): walk the objects one by one, inflate each as a
 * stream with node:zlib and throw the output away, counting it. An object over the per-object
 * limit, a push over the per-push limit, and a pack that is cut short, not a pack, or not
 * zlib data are refused here with what was wrong, and nothing big is ever held in memory.
 * A pack with more objects than allowed is refused from its header; each object's place in
 * its delta chain is tracked, a chain too deep is refused, and what indexing will build,
 * rebuilt bases included (index-cost.ts), is held to the per-push limit too. The walk lets
 * other work run every 10 ms, and builds an error only to throw it.
 *
 * Pack format (git's Documentation/gitformat-pack.txt): "PACK", version 2 or 3, object count,
 * then per object a type and size header (size of the inflated data), for an ofs-delta the
 * base's negative offset, for a ref-delta the base's oid, then the zlib stream; a SHA-1 of
 * everything before it ends the pack. A delta's inflated data starts with two sizes: its
 * base's and its result's.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createInflate, inflateSync } from 'node:zlib';
import type { DormantError } from '../errors/index.js';
import { gitdErrors } from './errors.js';
import { type Chained, cachedBaseBytes, chained, WorstBySize } from './index-cost.js';

export interface PackLimits {
  /** The most one object may inflate to (a delta: the object it makes). */
  readonly maxObjectBytes: number;
  /** The most all objects of one push may inflate to together, and the most indexing them may build (index-cost.ts). */
  readonly maxPushBytes: number;
  /** The most objects one pack may hold, checked on its header before anything is inflated. */
  readonly maxObjects: number;
  /** The longest chain of deltas: a delta on a whole object is 1. */
  readonly maxDeltaDepth: number;
}

export interface PackSummary {
  readonly objects: number;
  /** What the objects inflate to, deltas counted at the size of the object they make. */
  readonly inflatedBytes: number;
  /** What indexing them builds, rebuilt delta bases included (index-cost.ts). */
  readonly indexBytes: number;
  /** The longest chain of deltas (0: none). */
  readonly deepestDelta: number;
}

/** A pack refused by the scan; `error` is the catalogue error to show, `message` the short reason for git's unpack status. */
export class PackScanRefused extends Error {
  readonly error: DormantError;
  constructor(short: string, error: DormantError) {
    super(short);
    this.error = error;
  }
}

const typeNames: Readonly<Record<number, string>> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag', 6: 'ofs-delta', 7: 'ref-delta' };
const trailerBytes = 20;
/** Objects that declare at most this much inflate in one synchronous call (bounded: ~1 ms). */
const syncInflateBytes = 256 * 1024;
const windowBytes = 1024 * 1024;

/** Bytes, said the way a person reads them: "512 bytes", "1.5 MiB", "1024 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${bytes} bytes`;
  const mib = bytes / 1024 / 1024;
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`;
}

const mibOf = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Positional reads of the pack through a 1 MiB window. */
class PackFile {
  readonly #handle: FileHandle;
  readonly size: number;
  #window = Buffer.alloc(0);
  #windowStart = 0;

  constructor(handle: FileHandle, size: number) {
    this.#handle = handle;
    this.size = size;
  }

  /** Up to `length` bytes from `position` (fewer at the end of the file); length ≤ 1 MiB. */
  async bytesAt(position: number, length: number): Promise<Buffer> {
    const end = Math.min(position + length, this.size);
    if (position < this.#windowStart || end > this.#windowStart + this.#window.length) {
      const buffer = Buffer.alloc(Math.min(windowBytes, this.size - position));
      const { bytesRead } = await this.#handle.read(buffer, 0, buffer.length, position);
      this.#window = buffer.subarray(0, bytesRead);
      this.#windowStart = position;
    }
    return this.#window.subarray(position - this.#windowStart, end - this.#windowStart);
  }
}

interface ObjectHeader {
  readonly type: number;
  readonly declaredBytes: number;
  /** Bytes from the object's start to its zlib stream. */
  readonly headerBytes: number;
  /** An ofs-delta's base: this many bytes before the object. */
  readonly baseDistance?: number;
}

/** The type/size header, and the delta base reference after it; undefined: cut short. */
export function parseObjectHeader(bytes: Buffer): ObjectHeader | { readonly problem: string } | undefined {
  let at = 0;
  let byte = bytes[at++];
  if (byte === undefined) return undefined;
  const type = (byte >> 4) & 7;
  let size = byte & 15;
  let shift = 4;
  while (byte & 0x80) {
    byte = bytes[at++];
    if (byte === undefined) return undefined;
    if (shift > 49) return { problem: 'has a size header longer than any real object needs' };
    size += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  }
  if (typeNames[type] === undefined) return { problem: `has type ${type}, which no git object has` };
  if (type === 6) {
    // Big-endian groups of 7 bits, each but the last one less than it says (gitformat-pack.txt, "offset encoding").
    const start = at;
    let distance = -1;
    do {
      byte = bytes[at++];
      if (byte === undefined) return undefined;
      if (at - start > 9) return { problem: 'has a delta base offset longer than any pack needs' };
      distance = (distance + 1) * 128 + (byte & 0x7f);
    } while (byte & 0x80);
    return { type, declaredBytes: size, headerBytes: at, baseDistance: distance };
  } else if (type === 7) {
    at += 20;
    if (at > bytes.length) return undefined;
  }
  return { type, declaredBytes: size, headerBytes: at };
}

/** The two sizes a delta starts with: its base's and its result's; undefined: not there yet. */
export function deltaSizes(delta: Buffer): { readonly baseBytes: number; readonly resultBytes: number } | undefined {
  let at = 0;
  const values: number[] = [];
  for (let field = 0; field < 2; field++) {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = delta[at++];
      if (byte === undefined || shift > 49) return undefined;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80)) break;
    }
    values.push(value);
  }
  const [baseBytes = 0, resultBytes = 0] = values;
  return { baseBytes, resultBytes };
}

/** The result size a delta declares after its base size; undefined: not there yet. */
export function deltaResultBytes(delta: Buffer): number | undefined {
  return deltaSizes(delta)?.resultBytes;
}

/** Checks a pack on disk against the limits without holding more than a window of it; throws PackScanRefused. */
export async function scanPack(path: string, limits: PackLimits): Promise<PackSummary> {
  const handle = await open(path, 'r');
  try {
    const pack = new PackFile(handle, (await handle.stat()).size);
    return await walk(pack, limits, path);
  } finally {
    await handle.close();
  }
}

function bad(reason: string): PackScanRefused {
  return new PackScanRefused(reason, gitdErrors.badPack({ reason }));
}

/** How long the scan may keep the event loop before it lets other work run. */
const turnMs = 10;

async function walk(pack: PackFile, limits: PackLimits, path: string): Promise<PackSummary> {
  const header = await pack.bytesAt(0, 12);
  if (header.length < 12 || header.toString('latin1', 0, 4) !== 'PACK') throw bad('the data after the commands is not a git pack');
  const version = header.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw bad(`the pack has version ${version}; git writes versions 2 and 3`);
  const count = header.readUInt32BE(8);
  if (count > limits.maxObjects) {
    throw new PackScanRefused(`the pack holds ${count} objects, over the limit of ${limits.maxObjects}`, gitdErrors.tooManyObjects({ objects: count, limit: limits.maxObjects }));
  }
  if (pack.size < 12 + trailerBytes) throw bad(`the pack is cut short: ${pack.size} bytes, fewer than its header and checksum take`);
  const end = pack.size - trailerBytes;
  let position = 12;
  let total = 0;
  let indexBytes = 0;
  let deepestDelta = 0;
  // Each object by where it starts, for the ofs-deltas after it.
  const objects = new Map<number, Chained>();
  // And by their size, for the ref-deltas after them (a delta's base has the size it declares).
  const bySize = new WorstBySize();
  let turnStarted = performance.now();
  for (let index = 1; index <= count; index++) {
    if (performance.now() - turnStarted > turnMs) {
      await nextTurn();
      turnStarted = performance.now();
    }
    const cutShort = () => bad(`the pack ends after ${index - 1} of ${count} objects (it was cut short on the way)`);
    if (position >= end) throw cutShort();
    const parsed = parseObjectHeader(await pack.bytesAt(position, 64));
    if (parsed === undefined) throw cutShort();
    if ('problem' in parsed) throw bad(`object ${index} of ${count} (at byte ${position}) ${parsed.problem}`);
    const type = typeNames[parsed.type] ?? 'object';
    const isDelta = parsed.type === 6 || parsed.type === 7;
    const describe = `object ${index} of ${count} (a ${type} at byte ${position})`;
    const where = { index, count, type, offset: position };
    const tooLarge = (bytes: number, atLeast: boolean) =>
      new PackScanRefused(
        `object ${index} of ${count} is ${atLeast ? 'over ' : ''}${formatBytes(bytes)}, over the ${formatBytes(limits.maxObjectBytes)} limit`,
        gitdErrors.objectTooLarge({ ...where, size: `${atLeast ? 'over ' : ''}${formatBytes(bytes)}`, limitMb: mibOf(limits.maxObjectBytes) }),
      );
    let ofsBase: Chained | undefined;
    if (parsed.baseDistance !== undefined) {
      const baseOffset = position - parsed.baseDistance;
      ofsBase = objects.get(baseOffset);
      if (ofsBase === undefined) throw bad(`${describe} names its base at byte ${baseOffset}, where no object before it starts`);
      if (ofsBase.depth + 1 > limits.maxDeltaDepth) {
        throw new PackScanRefused(
          `${describe} makes a chain of ${ofsBase.depth + 1} deltas, over the limit of ${limits.maxDeltaDepth}`,
          gitdErrors.deltaTooDeep({ ...where, depth: ofsBase.depth + 1, limit: limits.maxDeltaDepth }),
        );
      }
    }
    // The declared size first: cheap, and what an honest pack says. The inflated bytes are counted too, since a header can lie.
    if (!isDelta && parsed.declaredBytes > limits.maxObjectBytes) throw tooLarge(parsed.declaredBytes, false);
    // A delta's own data is rarely larger than what it makes; if it is, it is over the limit all the same.
    if (isDelta && parsed.declaredBytes > limits.maxObjectBytes) throw tooLarge(parsed.declaredBytes, true);
    const dataStart = position + parsed.headerBytes;
    const inflated = await inflateObject(pack, dataStart, end, { declaredBytes: parsed.declaredBytes, describe, cutShort });
    let counted = inflated.bytes;
    let made = inflated.bytes;
    let object = chained(counted, undefined);
    if (isDelta) {
      const sizes = inflated.deltaSizes;
      if (sizes === undefined) throw bad(`${describe} is a delta without its sizes`);
      if (sizes.resultBytes > limits.maxObjectBytes) throw tooLarge(sizes.resultBytes, false);
      counted = Math.max(counted, sizes.resultBytes);
      made = sizes.resultBytes;
      object = chained(counted, ofsBase === undefined ? { refBytes: sizes.baseBytes, sameSize: bySize.get(sizes.baseBytes) } : { ofs: ofsBase });
      if (object.depth > limits.maxDeltaDepth) {
        throw new PackScanRefused(
          `${describe} may make a chain of ${object.depth} deltas, over the limit of ${limits.maxDeltaDepth}`,
          gitdErrors.deltaTooDeep({ ...where, depth: object.depth, limit: limits.maxDeltaDepth }),
        );
      }
    }
    objects.set(position, object);
    bySize.add(made, object);
    deepestDelta = Math.max(deepestDelta, object.depth);
    total += counted;
    indexBytes += object.cost;
    if (total > limits.maxPushBytes) {
      throw new PackScanRefused(
        `the objects inflate to over ${formatBytes(limits.maxPushBytes)}`,
        gitdErrors.pushTooLarge({ index, count, limitMb: mibOf(limits.maxPushBytes) }),
      );
    }
    if (indexBytes > limits.maxPushBytes) {
      throw new PackScanRefused(
        `indexing the objects would build over ${formatBytes(limits.maxPushBytes)}: deltas on objects over ${formatBytes(cachedBaseBytes)} rebuild their chains`,
        gitdErrors.deltaChainTooLarge({ ...where, depth: object.depth, costMb: mibOf(object.cost), limitMb: mibOf(limits.maxPushBytes), cachedMb: mibOf(cachedBaseBytes) }),
      );
    }
    position = dataStart + inflated.compressedBytes;
  }
  if (position < end) throw bad(`the pack has ${end - position} bytes of junk after its ${count} objects`);
  if (position > end) throw bad(`the pack ends inside its last object (it was cut short on the way)`);
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(path, { start: 0, end: end - 1 })) hash.update(chunk as Buffer);
  const trailer = await pack.bytesAt(end, trailerBytes);
  if (!hash.digest().equals(trailer)) throw bad("the pack's checksum does not match its content (it was damaged on the way)");
  return { objects: count, inflatedBytes: total, indexBytes, deepestDelta };
}

interface Inflated {
  readonly bytes: number;
  readonly compressedBytes: number;
  /** A delta's base and result sizes, from its first inflated bytes. */
  readonly deltaSizes: ReturnType<typeof deltaSizes>;
}

/**
 * Inflates one object's zlib stream starting at `start`, keeping none of it but the first
 * bytes; the inflated size must be the declared one (so a lying header is caught while its
 * output is counted, never after it has all been made). Small objects inflate in one call.
 */
async function inflateObject(
  pack: PackFile,
  start: number,
  end: number,
  object: { readonly declaredBytes: number; readonly describe: string; readonly cutShort: () => PackScanRefused },
): Promise<Inflated> {
  const mismatch = (bytes: number, atLeast: boolean) =>
    bad(
      atLeast
        ? `${object.describe} inflates to more than the ${object.declaredBytes} bytes its header declares`
        : `${object.describe} inflates to ${bytes} bytes, but its header declares ${object.declaredBytes}`,
    );
  const notZlib = (error: Error) => bad(`${object.describe} is not valid zlib data (${error.message})`);
  if (object.declaredBytes <= syncInflateBytes) {
    // What deflate makes of it at worst (zlib's deflateBound, rounded up); a stream longer than that is streamed below.
    const input = await pack.bytesAt(start, Math.min(object.declaredBytes + (object.declaredBytes >> 10) + 64, end - start));
    try {
      const { buffer, engine } = inflateSync(input, { info: true, maxOutputLength: object.declaredBytes + 1 }) as unknown as {
        buffer: Buffer;
        engine: { bytesWritten: number };
      };
      if (buffer.length !== object.declaredBytes) throw mismatch(buffer.length, false);
      return { bytes: buffer.length, compressedBytes: engine.bytesWritten, deltaSizes: deltaSizes(buffer) };
    } catch (error) {
      if (error instanceof PackScanRefused) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') throw mismatch(object.declaredBytes, true);
      // The stream goes past what was read: a large compressed object (rare, incompressible data); stream it.
      if (code !== 'Z_BUF_ERROR' || input.length === end - start) throw code === 'Z_BUF_ERROR' ? object.cutShort() : notZlib(error as Error);
    }
  }
  return inflateStreaming(pack, start, end, object, { mismatch, notZlib });
}

async function inflateStreaming(
  pack: PackFile,
  start: number,
  end: number,
  object: { readonly declaredBytes: number; readonly cutShort: () => PackScanRefused },
  errors: { readonly mismatch: (bytes: number, atLeast: boolean) => PackScanRefused; readonly notZlib: (error: Error) => PackScanRefused },
): Promise<Inflated> {
  const inflate = createInflate({ chunkSize: 64 * 1024 });
  let bytes = 0;
  let head = Buffer.alloc(0);
  let failure: PackScanRefused | undefined;
  inflate.on('data', (chunk: Buffer) => {
    if (head.length < 32) head = Buffer.concat([head, chunk.subarray(0, 32)]);
    bytes += chunk.length;
    if (bytes > object.declaredBytes && failure === undefined) {
      failure = errors.mismatch(bytes, true);
      inflate.destroy();
    }
  });
  // Settles when the zlib stream has ended, failed, or was stopped over its size.
  const done = new Promise<void>((resolve) => {
    inflate.on('end', () => resolve());
    inflate.on('error', (error: NodeJS.ErrnoException) => {
      failure ??= error.code === 'Z_BUF_ERROR' ? object.cutShort() : errors.notZlib(error);
      resolve();
    });
    inflate.on('close', () => resolve());
  });
  let finished = false;
  void done.then(() => {
    finished = true;
  });
  try {
    let written = 0;
    for (let position = start; !finished && position < end; ) {
      const chunk = await pack.bytesAt(position, Math.min(64 * 1024, end - position));
      position += chunk.length;
      written += chunk.length;
      await Promise.race([new Promise<void>((resolve) => inflate.write(chunk, () => resolve())), done]);
      // zlib stopped taking input: its stream ended inside this chunk.
      if (inflate.bytesWritten < written) break;
    }
    // No more input: a complete stream ends, one cut short fails with "unexpected end of file".
    if (!inflate.destroyed) inflate.end();
    await done;
    if (failure) throw failure;
    if (bytes !== object.declaredBytes) throw errors.mismatch(bytes, false);
    return { bytes, compressedBytes: inflate.bytesWritten, deltaSizes: deltaSizes(head) };
  } finally {
    inflate.destroy();
  }
}
