// Bytes of hand-made git packs, for the tests of gitd's pack scan and of pushes that attack it.

/** A pack object's header: its type (3 blob, 6 ofs-delta, 7 ref-delta...) and its declared size. */
export function objectHeader(type: number, size: number): Buffer {
  const bytes = [(type << 4) | (size % 16)];
  for (let rest = Math.floor(size / 16); rest > 0; rest = Math.floor(rest / 128)) {
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) | 0x80;
    bytes.push(rest % 128);
  }
  return Buffer.from(bytes);
}

/** An ofs-delta's base offset, `distance` bytes back (big-endian groups of 7 bits, each but the last one less). */
export function ofsDistance(distance: number): Buffer {
  const bytes = [distance % 128];
  for (let rest = Math.floor(distance / 128); rest > 0; rest = Math.floor(rest / 128)) {
    rest -= 1;
    bytes.unshift(0x80 | rest % 128);
  }
  return Buffer.from(bytes);
}

/** Delta data: its base's size and its result's, then `ops`. */
export function deltaData(baseBytes: number, resultBytes: number, ops: readonly number[] = []): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    for (let rest = n; ; ) {
      const low = rest % 128;
      rest = Math.floor(rest / 128);
      out.push(rest > 0 ? low | 0x80 : low);
      if (rest === 0) return out;
    }
  };
  return Buffer.from([...varint(baseBytes), ...varint(resultBytes), ...ops]);
}

/** Delta data making an object of `bytes` from a base of `bytes`: insert one byte, then copy the base but its last byte (16 MiB a copy). */
export function insertOneByteDelta(bytes: number): Buffer {
  const ops = [1, 0x41];
  for (let at = 0; at < bytes - 1; ) {
    const length = Math.min(0xffffff, bytes - 1 - at);
    const op = [0x80];
    for (const [value, count, firstBit] of [
      [at, 4, 0x01],
      [length, 3, 0x10],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const byte = Math.floor(value / 256 ** i) % 256;
        if (byte !== 0) {
          op[0] = (op[0] ?? 0) | (firstBit << i);
          op.push(byte);
        }
      }
    }
    ops.push(...op);
    at += length;
  }
  return deltaData(bytes, bytes, ops);
}
