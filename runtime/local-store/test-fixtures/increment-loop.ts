// Increments an App's "count" annotation N times through a LocalStore, retrying on
// conflicts, as a separate process. Used by the lock test in local-store.test.ts.
import { isDormantError } from '../../../errors/index.js';
import { LocalStore } from '../local-store.js';

const [stateDir, times = '10'] = process.argv.slice(2);
if (!stateDir) throw new Error('usage: increment-loop STATE_DIR TIMES');
const store = await LocalStore.open({ stateDir, lockTimeoutMs: 30_000 });
for (let i = 0; i < Number(times); i++) {
  for (;;) {
    const app = await store.get('App', 'counter');
    const count = Number(app.metadata.annotations?.count ?? 0);
    try {
      await store.update({ ...app, metadata: { ...app.metadata, annotations: { count: String(count + 1) } } });
      break;
    } catch (error) {
      if (!isDormantError(error, 'STORE_CONFLICT')) throw error;
    }
  }
}
await store.close();
