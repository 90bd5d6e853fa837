// Builds a release folder with the test app and records App + Revision objects for it.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type App, apiVersion, type Revision } from '../../../crds/index.js';
import type { LocalStore } from '../../local-store/local-store.js';

const serverSource = fileURLToPath(new URL('./server.cjs', import.meta.url));

/** A release folder where git push would make it: <stateDir>/releases/<app>/<revision> (the runtime runs nothing elsewhere). */
export async function releaseDir(stateDir: string, app: string, revision: string): Promise<string> {
  const dir = join(stateDir, 'releases', app, revision);
  await mkdir(dir, { recursive: true });
  await copyFile(serverSource, join(dir, 'server.js'));
  return dir;
}

let commitCounter = 0;

export interface FixtureRevision {
  readonly app: string;
  readonly revision: string;
  readonly env?: Record<string, string>;
  readonly startTimeout?: string;
  readonly drainTimeout?: string;
  readonly readinessPath?: string;
  readonly command?: string[];
  readonly releaseDir?: string;
}

/** Creates the App if needed and a Revision of the fixture app; returns both. */
export async function deployFixture(store: LocalStore, options: FixtureRevision): Promise<{ app: App; revision: Revision }> {
  const app =
    (await store.find('App', options.app)) ??
    (await store.create({
      apiVersion,
      kind: 'App',
      metadata: { name: options.app },
      spec: { run: options.readinessPath ? { readinessPath: options.readinessPath } : {} },
    }));
  commitCounter++;
  const revision = await store.create({
    apiVersion,
    kind: 'Revision',
    metadata: { name: options.revision, labels: { 'dormant.dev/app': options.app } },
    spec: {
      app: options.app,
      commit: commitCounter.toString(16).padStart(40, '0'),
      releaseDir: options.releaseDir ?? (await releaseDir(store.stateDir, options.app, options.revision)),
      run: {
        command: options.command ?? [process.execPath, 'server.js'],
        env: options.env ?? {},
        ...(options.startTimeout ? { startTimeout: options.startTimeout } : {}),
        ...(options.drainTimeout ? { drainTimeout: options.drainTimeout } : {}),
      },
    },
  });
  return { app, revision };
}
