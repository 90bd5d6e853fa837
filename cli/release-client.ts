/**
 * The CLI's side of `POST /apps/APP/releases`: asks the running dormant up for a config
 * change's or rollback's release, prints its progress to stderr as it comes (as a push's
 * `remote:` lines), and returns what serves, or throws the error it answered.
 */
import { request } from 'node:http';
import { hostname, userInfo } from 'node:os';
import { DormantError } from '../errors/index.js';
import { adminTokenFile, readAdminToken } from './admin-token.js';
import { cliErrors } from './errors.js';
import type { Io } from './io.js';
import type { Settings } from './settings.js';

export interface Released {
  readonly revision: string;
  readonly version: string;
  readonly url: string;
}

/** Who asks, as the release records it. */
export function cliUser(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No entry in the password file (a container's uid): the uid stands for it.
    user = String(process.getuid?.() ?? 'unknown');
  }
  return `${user}@${hostname()} (dormant CLI)`.slice(0, 256);
}

/** An error the server answered, as the CLI throws it: its own code and message. */
function answered(error: { code?: unknown; message?: unknown }): Error {
  const code = typeof error.code === 'string' ? error.code : 'GITD_RELEASE_FAILED';
  const message = typeof error.message === 'string' ? error.message : 'the release failed';
  return new DormantError<undefined>({ code, httpStatus: 500, exitCode: 1, message: () => message }, undefined);
}

export async function requestRelease(io: Io, settings: Settings, app: string, ask: Record<string, unknown>): Promise<Released> {
  const token = await readAdminToken(settings.stateDir);
  const body = JSON.stringify({ ...ask, by: cliUser() });
  return new Promise<Released>((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
    const call = request({ host: '127.0.0.1', port: settings.metricsPort, method: 'POST', path: `/apps/${encodeURIComponent(app)}/releases`, headers }, (response) => {
      if (response.statusCode === 401) {
        response.resume();
        reject(cliErrors.adminUnauthorized({ tokenFile: adminTokenFile(settings.stateDir) }));
        return;
      }
      let pending = '';
      let done: Released | undefined;
      let failure: Error | undefined;
      const onLine = (line: string) => {
        if (line.trim() === '') return;
        let value: { progress?: unknown; released?: Released; error?: { code?: unknown; message?: unknown } };
        try {
          value = JSON.parse(line) as typeof value;
        } catch {
          failure = cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `release ${app}: dormant up answered ${line.slice(0, 200)}` });
          return;
        }
        if (typeof value.progress === 'string') io.stderr.write(`${value.progress}\n`);
        else if (value.released) done = value.released;
        else if (value.error) failure = answered(value.error);
      };
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) onLine(line);
      });
      response.on('end', () => {
        onLine(pending);
        if (failure) reject(failure);
        else if (done) resolve(done);
        else reject(cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `release ${app}: dormant up ended the answer before the release was done (it may still be under way: dormant releases ${app})` }));
      });
      response.on('error', reject);
    });
    call.on('error', (error: NodeJS.ErrnoException) => reject(cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `release ${app} (${error.code ?? error.message})` })));
    call.end(body);
  });
}
