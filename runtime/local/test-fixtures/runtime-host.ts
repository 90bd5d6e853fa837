// A stand-in for `dormant up`: a LocalRuntime in its own process, for the test that kills it
// with SIGKILL. Prints one JSON line with the replicas' pids once they are ready.
import { pino } from 'pino';
import { LocalStore } from '../../local-store/local-store.js';
import { LocalRuntime } from '../local-runtime.js';
import { deployFixture } from './fixture-app.js';

const [stateDir, replicas = '2', fork = '0'] = process.argv.slice(2);
if (!stateDir) throw new Error('usage: runtime-host STATE_DIR [REPLICAS] [FORK_CHILD]');
const store = await LocalStore.open({ stateDir });
const runtime = new LocalRuntime({ stateDir, store, log: pino({ level: 'silent' }) });
await runtime.start();
const { app, revision } = await deployFixture(store, { app: 'hosted', revision: 'hosted-00001', env: { VERSION: 'v1', FORK_CHILD: fork } });
await store.updateStatus({ ...app, status: { readyRevision: revision.metadata.name } });
await runtime.rollout(app, revision);
await runtime.setScale('hosted', Number(replicas));
for await (const endpoints of runtime.endpoints('hosted')) {
  if (endpoints.filter((e) => e.ready).length === Number(replicas)) break;
}
process.stdout.write(`${JSON.stringify({ pids: runtime.describe('hosted').replicas.map((r) => r.pid) })}\n`);
setInterval(() => {}, 60_000);
