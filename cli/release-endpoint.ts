/**
 * `POST /apps/APP/releases` on dormant up's metrics port (admin token): a config change or
 * rollback released by the running gitd. The body is a ReleaseAsk (JSON, 64 KiB at most);
 * the answer streams one JSON object per line: `{"progress": "..."}` as the release goes,
 * then `{"released": {...}}` or `{"error": {"code", "message"}}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDormantError } from '../errors/index.js';
import { type GitServer, gitdErrors, type ReleaseAsk, releaseNumber } from '../gitd/index.js';
import type { ResourceStore } from '../runtime/index.js';

/** The largest request body read: 256 variables of 4 KiB, or fewer larger ones (32 KiB each at most). */
const maxBody = 1024 * 1024;
const maxValueBytes = 32 * 1024;
const envName = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

/** The ask the body states, or why it is not one. Pure. */
export function parseReleaseAsk(body: string): ReleaseAsk {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw gitdErrors.releaseAskInvalid({ reason: 'the body is not JSON' });
  }
  if (typeof value !== 'object' || value === null) throw gitdErrors.releaseAskInvalid({ reason: 'the body is not a JSON object' });
  const ask = value as Record<string, unknown>;
  const by = ask.by;
  if (by !== undefined && (typeof by !== 'string' || by.length > 256 || /[\n\r]/.test(by))) throw gitdErrors.releaseAskInvalid({ reason: '"by" must be one line of at most 256 characters' });
  const withBy = typeof by === 'string' ? { by } : {};
  const reserved = (name: string) => name === 'PORT' || name.startsWith('DORMANT_');
  const unset = ask.unset ?? [];
  if (!Array.isArray(unset) || unset.length > 256 || !unset.every((name) => typeof name === 'string' && envName.test(name) && !reserved(name))) throw gitdErrors.releaseAskInvalid({ reason: '"unset" must be a list of at most 256 variable names' });
  const set = ask.set ?? {};
  if (typeof set !== 'object' || set === null || Array.isArray(set)) throw gitdErrors.releaseAskInvalid({ reason: '"set" must be an object of variables and their values' });
  const entries = Object.entries(set as Record<string, unknown>);
  if (entries.length > 256) throw gitdErrors.releaseAskInvalid({ reason: '"set" has more than 256 variables' });
  for (const [name, value] of entries) {
    if (!envName.test(name) || reserved(name)) throw gitdErrors.releaseAskInvalid({ reason: `"set" names "${name.slice(0, 64)}", which is not a variable of the app's config` });
    if (typeof value !== 'string' || value.includes('\0') || Buffer.byteLength(value) > maxValueBytes) throw gitdErrors.releaseAskInvalid({ reason: `the value of ${name} is not a string of at most 32 KiB without NUL` });
  }
  if (ask.kind === 'config') return { kind: 'config', set: Object.fromEntries(entries) as Record<string, string>, unset: unset as string[], ...withBy };
  if (ask.kind === 'rollback') {
    const to = ask.to;
    if (to !== undefined && (typeof to !== 'string' || !/^[a-z0-9-]{1,70}$/.test(to))) throw gitdErrors.releaseAskInvalid({ reason: '"to" must be a release such as v3' });
    return { kind: 'rollback', ...(typeof to === 'string' ? { to } : {}), ...withBy };
  }
  if (ask.kind === 'restart') return { kind: 'restart', ...withBy };
  throw gitdErrors.releaseAskInvalid({ reason: '"kind" must be "config", "rollback" or "restart"' });
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBody) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const errorLine = (error: unknown): { error: { code: string; message: string } } =>
  isDormantError(error) ? { error: { code: error.code, message: error.message } } : errorLine(gitdErrors.releaseFailed({ reason: (error as Error).message }));

export async function serveRelease(gitd: GitServer | undefined, store: ResourceStore, app: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const json = { 'content-type': 'application/json' };
  if (request.method !== 'POST') {
    response.writeHead(405, { ...json, allow: 'POST' }).end(`${JSON.stringify({ error: { code: 'GITD_RELEASE_INVALID', message: 'POST a release request to /apps/APP/releases' } })}\n`);
    return;
  }
  if (!gitd) {
    response.writeHead(503, json).end(`${JSON.stringify({ error: { code: 'CLI_NOT_RUNNING', message: 'this dormant up runs no gitd (--components), which releases apps' } })}\n`);
    return;
  }
  const body = await readBody(request);
  if (body === undefined) {
    response.writeHead(413, json).end(`${JSON.stringify(errorLine(gitdErrors.releaseAskInvalid({ reason: `the body is larger than ${maxBody / 1024 / 1024} MiB` })))}\n`);
    return;
  }
  let ask: ReleaseAsk;
  try {
    ask = parseReleaseAsk(body);
    await store.get('App', app);
  } catch (error) {
    response.writeHead(isDormantError(error) ? error.httpStatus : 400, json).end(`${JSON.stringify(errorLine(error))}\n`);
    return;
  }
  response.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  // The release goes on if the CLI leaves (as a push does when its client disconnects).
  const write = (line: object) => {
    if (!response.destroyed) response.write(`${JSON.stringify(line)}\n`);
  };
  try {
    const released = await gitd.release(app, ask, (line) => write({ progress: line }));
    write({ released: { revision: released.revision.metadata.name, version: `v${releaseNumber(released.revision.metadata.name)}`, url: released.url } });
  } catch (error) {
    write(errorLine(error));
  }
  response.end();
}
