import { request } from 'node:http';
import { parseDuration } from '../../crds/index.js';
import { adminTokenFile, readAdminToken } from '../admin-token.js';
import { type Command, flagString } from '../command.js';
import { cliErrors } from '../errors.js';
import { currentSettings } from '../settings.js';

export const trace: Command = {
  name: 'trace',
  usage: 'dormant trace APP [--for 10m] > requests.csv   (then: dormant policy simulate --trace requests.csv)',
  summary: "Record an app's requests (arrival, duration, status) from the running dormant up, for policy simulate",
  args: 1,
  longRunning: () => true,
  options: { for: { type: 'string' } },
  async run({ io, args, flags, store }) {
    const [app = ''] = args;
    await (await store()).get('App', app);
    const forText = flagString(flags, 'for');
    const forMs = forText === undefined ? undefined : parseDuration(forText);
    if (forText !== undefined && (forMs === undefined || forMs <= 0)) {
      throw cliErrors.usage({ problem: `--for ${forText} is not a duration; use one such as 30s, 10m or 1h`, usage: trace.usage });
    }
    const settings = await currentSettings(flags, io);
    if (!settings.running) throw cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `trace ${app}` });
    if (settings.metricsPort === 0) throw cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `trace ${app} (it runs with --metrics-port 0)` });

    // The metrics port's admin endpoints take the token this dormant up wrote at its start.
    const token = await readAdminToken(settings.stateDir);

    const done = new AbortController();
    const stop = () => done.abort();
    io.stop.addEventListener('abort', stop);
    const timer = forMs === undefined ? undefined : setTimeout(stop, forMs);
    let rows = -1;
    try {
      await new Promise<void>((resolve, reject) => {
        const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
        const call = request({ host: '127.0.0.1', port: settings.metricsPort, path: `/trace/${encodeURIComponent(app)}`, headers, signal: done.signal }, (response) => {
          if (response.statusCode === 401) {
            response.resume();
            reject(cliErrors.adminUnauthorized({ tokenFile: adminTokenFile(settings.stateDir) }));
            return;
          }
          if (response.statusCode !== 200) {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk.toString()));
            response.on('end', () => reject(cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `trace ${app}: ${body.trim()}` })));
            return;
          }
          // Said once the activator records, so that what follows is in the trace.
          io.stderr.write(`Recording requests to ${app}${forText ? ` for ${forText}` : ' until Ctrl-C'}...\n`);
          response.on('data', (chunk: Buffer) => {
            const text = chunk.toString('utf8');
            for (const c of text) if (c === '\n') rows++;
            io.stdout.write(text);
          });
          response.on('end', resolve);
          response.on('error', () => resolve());
        });
        call.on('error', (error: NodeJS.ErrnoException) => {
          if (done.signal.aborted) resolve();
          else reject(cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `trace ${app}: ${error.code ?? error.message}` }));
        });
        call.end();
      });
    } finally {
      clearTimeout(timer);
      io.stop.removeEventListener('abort', stop);
    }
    io.stderr.write(`Recorded ${Math.max(0, rows)} request${rows === 1 ? '' : 's'}.\n`);
    return undefined;
  },
};
