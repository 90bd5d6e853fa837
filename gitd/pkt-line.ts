/**
 * git's pkt-line framing and receive-pack's messages, as pure functions over bytes.
 * A pkt-line is 4 hex digits of length (counting themselves, in bytes) and the payload;
 * "0000" is a flush. After the update commands' flush, a push sends the raw pack.
 */

export const zeroOid = '0'.repeat(40);
export const flushPkt = Buffer.from('0000');
/** The longest payload of one pkt-line: 65520 bytes in all. */
const maxPayload = 65516;

export function pktLine(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length > maxPayload) throw new RangeError(`pkt-line payload of ${body.length} bytes is over ${maxPayload}`);
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
}

/** Data on a side-band channel: 1 = pack data/report, 2 = progress (`remote:`), 3 = fatal error. */
export function sideBand(band: 1 | 2 | 3, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const chunk = maxPayload - 1;
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length || (at === 0 && body.length === 0); at += chunk) {
    parts.push(pktLine(Buffer.concat([Buffer.from([band]), body.subarray(at, at + chunk)])));
    if (body.length === 0) break;
  }
  return Buffer.concat(parts);
}

export interface PktSection {
  /** The payloads before the flush, as text without their trailing newline. */
  readonly lines: readonly string[];
  /** What follows the flush: the pack, or its beginning. */
  readonly rest: Buffer;
}

export class PktLineError extends Error {}

/**
 * Reads pkt-lines up to the first flush. Returns undefined when more bytes are needed;
 * throws PktLineError on bytes that are not pkt-lines.
 */
export function readPktSection(buffer: Buffer): PktSection | undefined {
  const lines: string[] = [];
  let at = 0;
  while (at + 4 <= buffer.length) {
    const header = buffer.toString('latin1', at, at + 4);
    if (!/^[0-9a-f]{4}$/.test(header)) throw new PktLineError(`expected a pkt-line length, got ${JSON.stringify(header)}`);
    const length = Number.parseInt(header, 16);
    if (length === 0) return { lines, rest: buffer.subarray(at + 4) };
    if (length < 4) throw new PktLineError(`pkt-line length ${length} is not allowed here`);
    if (at + length > buffer.length) return undefined;
    const payload = buffer.toString('utf8', at + 4, at + length);
    lines.push(payload.endsWith('\n') ? payload.slice(0, -1) : payload);
    at += length;
  }
  return undefined;
}

export interface AdvertisedRef {
  readonly name: string;
  readonly oid: string;
}

/** The ref advertisement; an empty repository advertises `capabilities^{}`. */
export function writeRefAdvertisement(refs: readonly AdvertisedRef[], capabilities: readonly string[]): Buffer {
  const caps = capabilities.join(' ');
  const [first, ...others] = refs.length === 0 ? [{ name: 'capabilities^{}', oid: zeroOid }] : refs;
  const lines = [pktLine(`${first?.oid} ${first?.name}\0${caps}\n`), ...others.map((r) => pktLine(`${r.oid} ${r.name}\n`)), flushPkt];
  return Buffer.concat(lines);
}

export interface RefUpdate {
  readonly oldOid: string;
  readonly newOid: string;
  readonly ref: string;
}

export interface UpdateRequest {
  readonly updates: readonly RefUpdate[];
  readonly capabilities: ReadonlySet<string>;
}

/** The update commands: `old new ref`, the first with `\0capabilities`. */
export function parseUpdateRequest(lines: readonly string[]): UpdateRequest {
  const updates: RefUpdate[] = [];
  let capabilities = new Set<string>();
  lines.forEach((line, index) => {
    let command = line;
    if (index === 0) {
      const nul = line.indexOf('\0');
      if (nul >= 0) {
        capabilities = new Set(line.slice(nul + 1).split(' ').filter(Boolean));
        command = line.slice(0, nul);
      }
    }
    if (command.startsWith('shallow ')) throw new PktLineError('shallow pushes are not supported; push from a full clone');
    const match = /^([0-9a-f]{40}) ([0-9a-f]{40}) (refs\/[^\s\0]+)$/.exec(command);
    if (!match) throw new PktLineError(`not an update command: ${JSON.stringify(command.slice(0, 120))}`);
    updates.push({ oldOid: match[1] ?? '', newOid: match[2] ?? '', ref: match[3] ?? '' });
  });
  return { updates, capabilities };
}

export interface RefResult {
  readonly ref: string;
  /** undefined: ok; otherwise why it was refused (`ng`). */
  readonly error: string | undefined;
}

/** `unpack ok|<reason>`, then `ok <ref>` or `ng <ref> <reason>` per ref, then a flush. */
export function writeReportStatus(unpackError: string | undefined, results: readonly RefResult[]): Buffer {
  // One line each: a reason with a line break (or any control character) would end the line early and break the report.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes.
  const oneLine = (text: string) => text.replace(/[\x00-\x1f\x7f]+/g, ' ');
  const lines = [
    pktLine(`unpack ${unpackError === undefined ? 'ok' : oneLine(unpackError)}\n`),
    ...results.map((r) => pktLine(r.error === undefined ? `ok ${r.ref}\n` : `ng ${r.ref} ${oneLine(r.error)}\n`)),
    flushPkt,
  ];
  return Buffer.concat(lines);
}
