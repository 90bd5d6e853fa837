/**
 * The frames `dormant run` and dormant up exchange over an upgraded connection of the
 * metrics port: one byte of kind, four of length (big-endian), then the payload. The CLI
 * sends stdin and its end, and its terminal's new size (COLSxROWS) when it changes, where
 * dormant up said it follows them (x-dormant-resize); dormant up sends stdout, stderr,
 * and last the exit (JSON) or an error (text). Pure: an encoder, and a decoder fed bytes as they come.
 */
export const frameKinds = { stdin: 0, stdout: 1, stderr: 2, exit: 3, stdinEnd: 4, error: 5, resize: 6 } as const;
export type FrameKind = keyof typeof frameKinds;
const kindOf = new Map<number, FrameKind>(Object.entries(frameKinds).map(([name, code]) => [code, name as FrameKind]));

/** The largest payload a frame may carry: a larger one is a broken or hostile peer. */
export const maxFramePayload = 1024 * 1024;

export function encodeFrame(kind: FrameKind, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const head = Buffer.alloc(5);
  head.writeUInt8(frameKinds[kind], 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

export interface Frame {
  readonly kind: FrameKind;
  readonly payload: Buffer;
}

/** Frames out of bytes in any chunks; throws on an unknown kind or an oversized frame. */
export class FrameDecoder {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: Frame[] = [];
    while (this.#pending.length >= 5) {
      const code = this.#pending.readUInt8(0);
      const kind = kindOf.get(code);
      if (kind === undefined) throw new Error(`unknown frame kind ${code}`);
      const length = this.#pending.readUInt32BE(1);
      if (length > maxFramePayload) throw new Error(`a frame of ${length} bytes, over ${maxFramePayload}`);
      if (this.#pending.length < 5 + length) break;
      frames.push({ kind, payload: this.#pending.subarray(5, 5 + length) });
      this.#pending = this.#pending.subarray(5 + length);
    }
    return frames;
  }
}

/** A command line as the sandbox runs it: one word is a shell line (`dormant run web -- "rake db:migrate && echo ok"`), several are argv. Pure. */
export function runArgv(command: readonly string[]): string[] {
  return command.length === 1 ? ['/bin/sh', '-c', command[0] ?? ''] : [...command];
}

/** A terminal's size as `dormant run` sends it (x-dormant-tty: COLSxROWS), or undefined: no terminal. Pure. */
export function terminalSizeOf(header: string | string[] | undefined): { readonly columns: number; readonly rows: number } | undefined {
  const match = typeof header === 'string' ? /^(\d{1,4})x(\d{1,4})$/.exec(header) : null;
  if (!match) return undefined;
  const columns = Number(match[1]);
  const rows = Number(match[2]);
  return columns > 0 && rows > 0 ? { columns, rows } : undefined;
}

