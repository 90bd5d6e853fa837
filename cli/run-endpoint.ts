/**
 * `dormant run` on dormant up's metrics port: `POST /apps/APP/run` with `Upgrade:
 * dormant-run` and the admin token; the command in `x-dormant-command` (base64 of a JSON
 * list of words). The connection then carries frames (run-frames.ts): the CLI's stdin in,
 * the process's stdout and stderr out, and last its exit. The process is stopped when the
 * CLI goes.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isDormantError } from '../errors/index.js';
import type { GitServer } from '../gitd/index.js';
import { encodeFrame, FrameDecoder, runArgv, terminalSizeOf } from './run-frames.js';

const maxWords = 256;
/** The command travels in a header: Node's HTTP server takes 16 KiB of head in all. */
export const maxCommandBytes = 8 * 1024;

/** The command a request names, or why not. Pure. */
export function commandOf(header: string | string[] | undefined): string[] | string {
  if (typeof header !== 'string' || header.length > (maxCommandBytes * 4) / 3 + 4) return 'x-dormant-command must name the command (base64 of a JSON list of words, 8 KiB at most)';
  let words: unknown;
  try {
    words = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return 'x-dormant-command is not base64 of JSON';
  }
  if (!Array.isArray(words) || words.length === 0 || words.length > maxWords || !words.every((word) => typeof word === 'string' && !word.includes('\0'))) return `x-dormant-command must be a list of 1 to ${maxWords} words without NUL`;
  return words as string[];
}

const answer = (socket: Duplex, status: string, message: string) => {
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
};

/** One run under way: its connection, and how to stop its process once it has one. */
interface RunSession {
  readonly socket: Duplex;
  stop: () => void;
}

/** The runs under way, stopped with their connections when dormant up stops. */
export class RunSessions {
  readonly #open = new Set<RunSession>();

  add(socket: Duplex): RunSession & { done: () => void } {
    const session: RunSession = { socket, stop: () => undefined };
    this.#open.add(session);
    return Object.assign(session, { done: () => void this.#open.delete(session) });
  }

  closeAll(): void {
    for (const session of this.#open) {
      session.stop();
      session.socket.destroy();
    }
    this.#open.clear();
  }
}

export async function serveRun(gitd: GitServer | undefined, sessions: RunSessions, app: string, request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  socket.on('error', () => undefined);
  if (!gitd) return answer(socket, '503 Service Unavailable', 'this dormant up runs no gitd (--components), which runs commands in releases\n');
  if (request.method !== 'POST' || request.headers.upgrade !== 'dormant-run') return answer(socket, '400 Bad Request', 'POST /apps/APP/run with Upgrade: dormant-run (dormant run APP -- CMD)\n');
  const argv = commandOf(request.headers['x-dormant-command']);
  if (typeof argv === 'string') return answer(socket, '400 Bad Request', `error [GITD_RELEASE_INVALID]: ${argv}\n`);
  // Registered before the sandbox is made (that can take a while): a CLI that leaves meanwhile, or dormant up stopping, stops the run once it exists.
  const session = sessions.add(socket);
  let oneOff: Awaited<ReturnType<GitServer['startOneOff']>>;
  try {
    oneOff = await gitd.startOneOff(app, runArgv(argv), terminalSizeOf(request.headers['x-dormant-tty']));
  } catch (error) {
    session.done();
    const code = isDormantError(error) ? error.code : 'GITD_RELEASE_FAILED';
    const status = isDormantError(error) ? `${error.httpStatus} Refused` : '500 Internal Server Error';
    return answer(socket, status, `error [${code}]: ${(error as Error).message}\n`);
  }
  session.stop = () => oneOff.stop();
  if (socket.destroyed) oneOff.stop();
  // A CLI sends its terminal's new sizes only where they are followed (an older dormant up would take the frame for a broken peer).
  const resize = oneOff.resize?.bind(oneOff);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: dormant-run\r\nconnection: Upgrade\r\n${resize ? 'x-dormant-resize: 1\r\n' : ''}\r\n`);
  const decoder = new FrameDecoder();
  const fromClient = (chunk: Buffer) => {
    try {
      for (const frame of decoder.push(chunk)) {
        // A process that reads slowly holds the CLI back, not dormant up's memory.
        if (frame.kind === 'stdin' && !oneOff.stdin.write(frame.payload)) {
          socket.pause();
          oneOff.stdin.once('drain', () => socket.resume());
        } else if (frame.kind === 'stdinEnd') oneOff.stdin.end();
        else if (frame.kind === 'resize') {
          const size = terminalSizeOf(frame.payload.toString('latin1'));
          if (size !== undefined) resize?.(size);
        }
      }
    } catch (error) {
      socket.end(encodeFrame('error', (error as Error).message));
      oneOff.stop();
    }
  };
  oneOff.stdin.on('error', () => undefined);
  if (head.length > 0) fromClient(head);
  socket.on('data', fromClient);
  // The CLI gone (Ctrl-C, a dropped connection): so is the process.
  socket.once('close', () => oneOff.stop());
  // Its output as it comes, each stream in its own frames; the exit once both have ended.
  const drained = (stream: NodeJS.ReadableStream, kind: 'stdout' | 'stderr') =>
    new Promise<void>((resolve) => {
      // A CLI that reads slowly (a paused terminal, a pager) holds the process back, not dormant up's memory.
      stream.on('data', (chunk: Buffer) => {
        if (socket.write(encodeFrame(kind, chunk))) return;
        stream.pause();
        socket.once('drain', () => stream.resume());
      });
      stream.once('end', resolve);
      stream.once('error', () => resolve());
    });
  const output = Promise.all([drained(oneOff.stdout, 'stdout'), drained(oneOff.stderr, 'stderr')]);
  const exit = await oneOff.exited;
  // A child it left running may hold its output open: a moment for what is written, not longer.
  await Promise.race([output, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  session.done();
  socket.end(encodeFrame('exit', JSON.stringify(exit)));
}
