import { request } from 'node:http';
import { adminTokenFile, readAdminToken } from '../admin-token.js';
import type { Command } from '../command.js';
import { cliErrors } from '../errors.js';
import { encodeFrame, FrameDecoder } from '../run-frames.js';
import { currentSettings } from '../settings.js';

/** The exit code of a process killed by a signal, as a shell gives it. */
const signalCodes: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

export const run: Command = {
  name: 'run',
  usage: 'dormant run APP -- COMMAND [ARG...]   (one word is a shell line: dormant run web -- "rake db:migrate && echo done")',
  summary: "Run a one-off process in the app's serving release, its config and sandbox, with this terminal's stdin, stdout and stderr",
  args: [2, 257],
  async run({ io, args, flags, store }) {
    const [name = '', ...command] = args;
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
          socket.write(encodeFrame('stdin', chunk));
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
          if (frame.kind === 'stdout') io.stdout.write(frame.payload);
          else if (frame.kind === 'stderr') io.stderr.write(frame.payload);
          else if (frame.kind === 'error') reject(cliErrors.runRefused({ app: name, answer: frame.payload.toString('utf8') }));
          else if (frame.kind === 'exit') {
            const exit = JSON.parse(frame.payload.toString('utf8')) as { code: number | null; signal: string | null };
            resolve(exit.code ?? 128 + (signalCodes[exit.signal ?? ''] ?? 1));
          }
        }
      });
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
