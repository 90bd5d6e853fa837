// The Runtime contract (runtime/runtime-contract.ts) against the local runtime: replicas are
// processes of the contract app, run from a release folder where git push would put it.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { apiVersion } from '../../crds/index.js';
import { LocalStore } from '../local-store/local-store.js';
import { contractAppOf, runtimeContract } from '../runtime-contract.js';
import { LocalRuntime } from './local-runtime.js';

const contractApp = fileURLToPath(new URL('../test-fixtures/contract-app.cjs', import.meta.url));
const backoffBaseMs = 400;

runtimeContract(
  'LocalRuntime',
  {
    waitMs: 20_000,
    // A draining process is stopped once the activator says drained() (or at the drain timeout, 60 s here).
    drainedReleases: true,
    restart: {
      // The runtime restarts a crashed process itself, as a new replica with a new id.
      sameEndpoint: false,
      // Its own back-off (restartBackoff below): 400 ms, then 800 ms, less 10 ms for timers that fire a little early. The app's boot only adds to it.
      minDelayMs: [backoffBaseMs - 10, backoffBaseMs * 2 - 10],
      condition: { status: 'False', reason: 'CrashLoopBackOff', message: /exited with code 3 \(failure 2, restarting in 800 ms\); last log lines:\n.*crashing on request/s },
    },
  },
  async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-contract-'));
    const store = await LocalStore.open({ stateDir });
    const runtime = new LocalRuntime({
      stateDir,
      store,
      log: pino({ level: 'silent' }),
      restartBackoff: { baseMs: backoffBaseMs, maxMs: 5000, resetAfterMs: 60_000 },
      terminationGraceMs: 2000,
      statusDelayMs: 5,
    });
    await runtime.start();
    let commits = 0;
    return {
      store,
      runtime,
      deploy: async ({ app: name, revision: revisionName, env, readinessPath }) => {
        const { app, run } = await contractAppOf(store, name, readinessPath);
        const releaseDir = join(stateDir, 'releases', name, revisionName);
        await mkdir(releaseDir, { recursive: true });
        await copyFile(contractApp, join(releaseDir, 'server.js'));
        const revision = await store.create({
          apiVersion,
          kind: 'Revision',
          metadata: { name: revisionName, labels: { 'dormant.dev/app': name } },
          spec: {
            app: name,
            commit: (++commits).toString(16).padStart(40, '0'),
            releaseDir,
            // Longer than any wait of the suite: a drain ends by drained(), not by its timeout.
            run: { ...run, command: [process.execPath, 'server.js'], env: { ...env, LISTEN_HOST: '127.0.0.1' }, drainTimeout: '60s' },
          },
        });
        return { app, revision };
      },
      cleanup: async () => {
        await runtime.close();
        await store.close();
        await rm(stateDir, { recursive: true, force: true, maxRetries: 5 });
      },
    };
  },
);
