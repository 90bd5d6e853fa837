import { request } from 'node:http';
import { constants } from 'node:os';
import { maxCommandBytes } from '../run-endpoint.js';
import { adminTokenFile, readAdminToken } from '../admin-token.js';
import type { Command } from '../command.js';
import { cliErrors } from '../errors.js';
import { encodeFrame, FrameDecoder } from '../run-frames.js';
import { currentSettings } from '../settings.js';

/** The exit code of a process killed by a signal, as a shell gives it: 128 + its number. */
const signalExit = (signal: string | null): number => 128 + ((signal ? (constants.signals as Record<string, number | undefined>)[signal] : undefined) ?? 1);

export const run: Command = {
  name: 'run',
  usage: 'dormant run APP [-t|-T] -- COMMAND [ARG...]   (one word is a shell line: dormant run web -- "rake db:migrate && echo done"; from a terminal it gets one, -T: never)',
  summary: "Run a one-off process in the app's serving release, its config and sandbox, with this terminal's stdin, stdout and stderr",
  args: [2, 257],
  options: { tty: { type: 'boolean', short: 't' }, 'no-tty': { type: 'boolean', short: 'T' } },
  async run({ io, args, flags, store }) {
    // A terminal on both ends (as ssh and docker run -it decide): the process gets one of its own, of this one's size, and sees each key as it is typed.
    const terminal = io.stdin as { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
    const screen = io.stdout as { isTTY?: boolean; columns?: number; rows?: number };
    const tty = flags['no-tty'] !== true && (flags.tty === true || (terminal.isTTY === true && screen.isTTY === true));
    const [name = '', ...command] = args;
    if (Buffer.byteLength(JSON.stringify(command)) > maxCommandBytes) throw cliErrors.usage({ problem: `the command is over ${maxCommandBytes / 1024} KiB; put it in a script of the app and run that`, usage: run.usage });
    await (await store()).get('App', name);
    const settings = await currentSettings(flags, io);
    if (!settings.running || settings.metricsPort === 0) throw cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `run a command in ${name}` });
    const token = await readAdminToken(settings.stateDir);
    // Whether dormant up follows this terminal's resizes (it says so in its answer), and the size it was told first.
    let follows = false;
    const sentSize = { columns: screen.columns, rows: screen.rows };
    const socket = await new Promise<import('node:net').Socket>((resolve, reject) => {
      const call = request({
        host: '127.0.0.1',
        port: settings.metricsPort,
        method: 'POST',
        path: `/apps/${encodeURIComponent(name)}/run`,
        headers: {
          connection: 'Upgrade',
          upgrade: 'dormant-run',
          'x-dormant-command': Buffer.from(JSON.stringify(command)).toString('base64'),
          ...(tty ? { 'x-dormant-tty': `${sentSize.columns || 80}x${sentSize.rows || 24}` } : {}),
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
      });
      call.on('upgrade', (response, upgraded, head) => {
        if (head.length > 0) upgraded.unshift(head);
        follows = response.headers['x-dormant-resize'] === '1';
        resolve(upgraded);
      });
      call.on('response', (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          if (response.statusCode === 401) reject(cliErrors.adminUnauthorized({ tokenFile: adminTokenFile(settings.stateDir) }));
          else reject(cliErrors.runRefused({ app: name, answer: body.trim().replace(/^error \[[A-Z_]+\]: /, '').slice(0, 500) }));
        });
      });
      call.on('error', (error: NodeJS.ErrnoException) => reject(cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `run a command in ${name} (${error.code ?? error.message})` })));
      call.end();
    });
    // Keys go as typed (Ctrl-C to the process, not to this CLI), and the terminal is given back as it was.
    const raw = tty && terminal.isTTY === true && terminal.setRawMode !== undefined;
    if (raw) terminal.setRawMode?.(true);
    // The terminal resized (SIGWINCH): the process's follows, and a full-screen program redraws.
    const resizable = io.stdout as { on?: (event: 'resize', listener: () => void) => unknown; off?: (event: 'resize', listener: () => void) => unknown };
    const resized = () => {
      if (screen.columns && screen.rows) socket.write(encodeFrame('resize', `${screen.columns}x${screen.rows}`));
    };
    if (tty && follows && screen.isTTY === true) {
      resizable.on?.('resize', resized);
      // Resized while the sandbox or pod was made: no event comes for that.
      if (screen.columns !== sentSize.columns || screen.rows !== sentSize.rows) resized();
    }
    // This terminal's input, as it comes, until it ends or the process does.
    const input = io.stdin[Symbol.asyncIterator]();
    let exited = false;
    void (async () => {
      try {
        for (let next = await input.next(); !next.done && !exited; next = await input.next()) {
          const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
          if (!socket.write(encodeFrame('stdin', chunk))) await new Promise((resolve) => socket.once('drain', resolve));
        }
        if (!exited) socket.write(encodeFrame('stdinEnd'));
      } catch {
        // The connection went first.
      }
    })();
    const decoder = new FrameDecoder();
    const finished = new Promise<number>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) {
          if (frame.kind === 'stdout' || frame.kind === 'stderr') {
            // A terminal or pipe that takes its time (a pager, Ctrl-S) holds the process back through the connection, not this process's memory.
            const out = (frame.kind === 'stdout' ? io.stdout : io.stderr) as { write(text: Uint8Array): unknown; once?: (event: 'drain', listener: () => void) => unknown };
            if (out.write(frame.payload) === false && out.once) {
              socket.pause();
              out.once('drain', () => socket.resume());
            }
          }
          else if (frame.kind === 'error') reject(cliErrors.runRefused({ app: name, answer: frame.payload.toString('utf8') }));
          else if (frame.kind === 'exit') {
            const exit = JSON.parse(frame.payload.toString('utf8')) as { code: number | null; signal: string | null };
            resolve(exit.code ?? signalExit(exit.signal));
          }
        }
      });
      socket.on('error', () => undefined);
      socket.once('close', () => reject(cliErrors.runRefused({ app: name, answer: 'dormant up closed the connection before the process ended' })));
    });
    let code: number;
    try {
      code = await finished;
    } finally {
      exited = true;
      resizable.off?.('resize', resized);
      if (raw) terminal.setRawMode?.(false);
    }
    socket.end();
    // A terminal's input does not end by itself: let it go, or this process would wait on it.
    void input.return?.();
    (io.stdin as { destroy?: () => void }).destroy?.();
    return code;
  },
};
