/**
 * The worker thread that indexes one pack (started by pack-indexer.ts): it indexes the pack
 * named in workerData at once, then checks its closure when asked, after the pack has moved
 * into the repository. Answers are IndexAnswer messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkClosed, indexPackFile, PackRejected } from './pack-index.js';
import type { IndexAnswer, IndexJob } from './pack-indexer.js';

const port = parentPort;
if (!port) throw new Error('pack-index-worker.ts runs only as a worker thread');
const job = workerData as IndexJob;

async function answer(work: () => Promise<IndexAnswer>): Promise<void> {
  try {
    port?.postMessage(await work());
  } catch (error) {
    // Anything else is thrown out of the worker: its 'error' event fails the push.
    if (!(error instanceof PackRejected)) throw error;
    port?.postMessage({ kind: 'rejected', message: error.message } satisfies IndexAnswer);
  }
}

let oids: string[] = [];
port.on('message', () => {
  void answer(async () => {
    await checkClosed(job.gitdir, oids, new Set(oids));
    return { kind: 'checked' };
  });
});
void answer(async () => {
  oids = await indexPackFile(job.gitdir, job.packFile);
  return { kind: 'indexed', oids };
});
