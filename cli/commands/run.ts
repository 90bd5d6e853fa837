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
  usage: 'dormant run APP -- COMMAND [ARG...]   (one word is a shell line: dormant run web -- "rake db:migrate && echo done")',
  summary: "Run a one-off process in the app's serving release, its config and sandbox, with this terminal's stdin, stdout and stderr",
  args: [2, 257],
  async run({ io, args, flags, store }) {
    const [name = '', ...command] = args;
    if (Buffer.byteLength(JSON.stringify(command)) > maxCommandBytes) throw cliErrors.usage({ problem: `the command is over ${maxCommandBytes / 1024} KiB; put it in a script of the app and run that`, usage: run.usage });
    await (await store()).get('App', name);
    const settings = await currentSettings(flags, io);
    if (!settings.running || settings.metricsPort === 0) throw cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `run a command in ${name}` });
    const token = await readAdminToken(settings.stateDir);
    const socket = await new Promise<import('node:net').Socket>((resolve, reject) => {
      const call = request({
        host: '127.0.0.1',
        port: settings.metricsPort,
        method: 'POST',
        path: `/apps/${encodeURIComponent(name)}/run`,
        headers: { connection: 'Upgrade', upgrade: 'dormant-run', 'x-dormant-command': Buffer.from(JSON.stringify(command)).toString('base64'), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      });
      call.on('upgrade', (_response, upgraded, head) => {
        if (head.length > 0) upgraded.unshift(head);
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
    const code = await new Promise<number>((resolve, reject) => {
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
    exited = true;
    socket.end();
    // A terminal's input does not end by itself: let it go, or this process would wait on it.
    void input.return?.();
    (io.stdin as { destroy?: () => void }).destroy?.();
    return code;
  },
};
