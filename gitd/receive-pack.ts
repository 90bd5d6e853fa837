/**
 * The server side of `git push` on one channel: advertise refs, read the commands and the
 * pack, admit the pack, run the deploy pipeline for the deploy branch, move refs by
 * compare-and-swap, and report per ref. Protocol v0 (a v2 client falls back to it).
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { App } from '../crds/index.js';
import {
  parseUpdateRequest,
  PktLineError,
  type RefResult,
  type RefUpdate,
  readPktSection,
  sideBand,
  writeRefAdvertisement,
  writeReportStatus,
  zeroOid,
} from './pkt-line.js';
import { type Deployed, PushRejected } from './push-pipeline.js';
import { type AdmittedPack, type AppRepository, isValidRefName, PackRejected } from './repository.js';

export const capabilities = ['report-status', 'side-band-64k', 'ofs-delta', 'atomic', 'quiet', 'delete-refs', 'no-thin', 'agent=dormant/0.1'];

/** An SSH exec channel as gitd uses it. */
export interface GitChannel extends Duplex {
  readonly stderr: { write(data: string | Buffer): unknown };
}

export interface ReceivePackOptions {
  readonly app: string;
  readonly repo: AppRepository;
  /** The App, created if this push may create it; undefined: pushes to it are refused. */
  readonly resolveApp: () => Promise<App>;
  readonly deploy: (request: { app: App; commit: string; branch: string; progress: (line: string) => void }) => Promise<Deployed>;
  /** Serializes everything that reads and moves this app's refs. */
  readonly withRepoLock: <T>(work: () => Promise<T>) => Promise<T>;
  readonly maxPackBytes: number;
  readonly log: Logger;
  readonly keepaliveMs?: number;
}

/** The deploy branches of an app: spec.git.branch, and master too when that is main. */
export function isDeployRef(app: App, ref: string): boolean {
  const branch = app.spec.git.branch;
  return ref === `refs/heads/${branch}` || (branch === 'main' && ref === 'refs/heads/master');
}

class ChannelReader {
  readonly #chunks: AsyncIterator<Buffer>;
  constructor(channel: Duplex) {
    // The default iterator destroys the stream at its end: that would close the SSH channel
    // before the report goes out, since the client ends its side right after the pack.
    this.#chunks = channel.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  }
  async next(): Promise<Buffer | undefined> {
    const { value, done } = await this.#chunks.next();
    return done ? undefined : Buffer.isBuffer(value) ? value : Buffer.from(value as string);
  }
}

/** Serves one receive-pack; resolves with the exit status for the SSH channel. */
export async function serveReceivePack(channel: GitChannel, options: ReceivePackOptions): Promise<number> {
  const { repo, log } = options;
  channel.write(writeRefAdvertisement(await repo.refs(), capabilities));

  // The commands, up to their flush.
  const reader = new ChannelReader(channel);
  let buffered = Buffer.alloc(0);
  let section: ReturnType<typeof readPktSection>;
  try {
    for (;;) {
      section = readPktSection(buffered);
      if (section) break;
      if (buffered.length > 1024 * 1024) throw new PktLineError('the update commands are over 1 MiB');
      const chunk = await reader.next();
      if (!chunk) {
        // A client with nothing to push hangs up after the advertisement.
        if (buffered.length === 0) return 0;
        throw new PktLineError('the connection ended inside the update commands');
      }
      buffered = Buffer.concat([buffered, chunk]);
    }
  } catch (error) {
    if (!(error instanceof PktLineError)) throw error;
    channel.stderr.write(`fatal: protocol error: ${error.message}; this is a git remote, use git push\n`);
    log.warn({ app: options.app, err: error.message }, 'push rejected: not the git protocol');
    return 128;
  }
  if (section.lines.length === 0) return 0;
  let request: ReturnType<typeof parseUpdateRequest>;
  try {
    request = parseUpdateRequest(section.lines);
  } catch (error) {
    channel.stderr.write(`fatal: protocol error: ${(error as Error).message}\n`);
    return 128;
  }
  const useSideBand = request.capabilities.has('side-band-64k');
  const quiet = request.capabilities.has('quiet');
  const progress = (line: string) => {
    if (quiet) return;
    if (useSideBand) channel.write(sideBand(2, `${line}\n`));
    else channel.stderr.write(`${line}\n`);
  };
  const fatal = (message: string) => {
    if (useSideBand) channel.write(sideBand(3, `${message}\n`));
    else channel.stderr.write(`${message}\n`);
  };
  const report = (unpackError: string | undefined, results: readonly RefResult[]) => {
    if (!request.capabilities.has('report-status')) return;
    const status = writeReportStatus(unpackError, results);
    channel.write(useSideBand ? Buffer.concat([sideBand(1, status), Buffer.from('0000')]) : status);
  };

  // The pack, into quarantine, bounded.
  const needsPack = request.updates.some((u) => u.newOid !== zeroOid);
  let packFile: string | undefined;
  if (needsPack) {
    packFile = await repo.quarantineFile();
    const file = createWriteStream(packFile);
    let received = section.rest.length;
    let overLimit = received > options.maxPackBytes;
    if (!overLimit && section.rest.length > 0) file.write(section.rest);
    for (let chunk = await reader.next(); chunk && !overLimit; chunk = await reader.next()) {
      received += chunk.length;
      if (received > options.maxPackBytes) overLimit = true;
      else if (!file.write(chunk)) await new Promise<void>((resolve) => file.once('drain', () => resolve()));
    }
    file.end();
    await finished(file);
    if (overLimit) {
      await rm(packFile, { force: true });
      const limit = `the pack is over the ${Math.round(options.maxPackBytes / 1024 / 1024)} MiB limit`;
      fatal(`error: ${limit}; push less history at once or ask the operator to raise the limit (--max-pack-mb)`);
      report(limit, request.updates.map((u) => ({ ref: u.ref, error: 'pack too large' })));
      return 1;
    }
  }
  // A delete-only push carries no pack, and the client waits for the report without closing its side.

  return options.withRepoLock(async () => {
    let admitted: AdmittedPack | undefined;
    if (packFile) {
      try {
        admitted = await repo.admitPack(packFile, request.updates.filter((u) => u.newOid !== zeroOid).map((u) => u.newOid));
      } catch (error) {
        if (!(error instanceof PackRejected)) throw error;
        fatal(`error: ${error.message}`);
        report(error.message.slice(0, 200), request.updates.map((u) => ({ ref: u.ref, error: 'unpacker error' })));
        log.warn({ app: options.app, err: error.message }, 'push rejected: bad pack');
        return 1;
      }
    }
    const results = await applyUpdates(request.updates, request.capabilities.has('atomic'), options, progress, useSideBand ? channel : undefined);
    // A pack whose every update failed leaves nothing behind.
    if (admitted && results.every((r) => r.error !== undefined)) await admitted.remove();
    report(undefined, results);
    return 0;
  });
}

async function applyUpdates(
  updates: readonly RefUpdate[],
  atomic: boolean,
  options: ReceivePackOptions,
  progress: (line: string) => void,
  keepaliveChannel: Duplex | undefined,
): Promise<RefResult[]> {
  const { repo } = options;
  const errors = new Map<string, string>();
  let app: App | undefined;
  try {
    app = await options.resolveApp();
  } catch (error) {
    const message = (error as Error).message;
    progress(`-----> ${message}`);
    return updates.map((u) => ({ ref: u.ref, error: message.split('\n')[0] ?? message }));
  }
  for (const update of updates) {
    const current = (await repo.resolve(update.ref)) ?? zeroOid;
    if (!isValidRefName(update.ref)) errors.set(update.ref, 'funny refname: only refs/heads/... and refs/tags/... are accepted');
    else if (current !== update.oldOid) errors.set(update.ref, `stale info: the ref moved to ${current.slice(0, 7)} since you fetched; pull and push again`);
    else if (update.newOid === zeroOid && isDeployRef(app, update.ref)) errors.set(update.ref, 'deleting the deploy branch is not allowed (dormant apps delete removes the app)');
    else if (update.newOid !== zeroOid && !(await repo.isCommit(update.newOid))) errors.set(update.ref, 'only commits can be pushed to a branch or tag here');
    else if (
      isDeployRef(app, update.ref) &&
      update.oldOid !== zeroOid &&
      !app.spec.git.allowForcePush &&
      !(await repo.isAncestor(update.oldOid, update.newOid))
    ) {
      errors.set(update.ref, 'non-fast-forward: pull and merge first, or set spec.git.allowForcePush to deploy rewritten history');
    }
  }
  const atomicFailure = () => {
    if (!atomic || errors.size === 0) return;
    for (const u of updates) if (!errors.has(u.ref)) errors.set(u.ref, 'atomic push failed');
  };
  atomicFailure();

  const deployUpdate = updates.find((u) => !errors.has(u.ref) && u.newOid !== zeroOid && app && isDeployRef(app, u.ref));
  if (deployUpdate && app) {
    // Long builds: an empty band-1 packet now and then keeps proxies and the client waiting.
    const keepalive = keepaliveChannel ? setInterval(() => keepaliveChannel.write(Buffer.from('0005\x01')), options.keepaliveMs ?? 5000) : undefined;
    try {
      const branch = deployUpdate.ref.slice('refs/heads/'.length);
      await options.deploy({ app, commit: deployUpdate.newOid, branch, progress });
    } catch (error) {
      if (!(error instanceof PushRejected)) options.log.error({ app: options.app, err: error }, 'push pipeline failed unexpectedly');
      errors.set(deployUpdate.ref, error instanceof PushRejected ? error.message : `internal error: ${(error as Error).message}`);
      atomicFailure();
    } finally {
      clearInterval(keepalive);
    }
  }

  for (const update of updates) {
    if (errors.has(update.ref)) continue;
    await repo.setRef(update.ref, update.newOid === zeroOid ? undefined : update.newOid);
  }
  return updates.map((u) => ({ ref: u.ref, error: errors.get(u.ref) }));
}
