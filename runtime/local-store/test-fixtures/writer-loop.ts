// Writes to a LocalStore as fast as it can, printing one line per write, until killed.
// Used by the kill -9 test in local-store.test.ts.
import { apiVersion } from '../../../crds/index.js';
import { LocalStore } from '../local-store.js';

const [stateDir, round] = process.argv.slice(2);
if (!stateDir) throw new Error('usage: writer-loop STATE_DIR ROUND');
const store = await LocalStore.open({ stateDir });
// Large objects keep each write in flight longer, so kills land inside writes.
const ballast = 'x'.repeat(4 * 1024 * 1024);
for (let i = 0; ; i++) {
  const name = `app-${round}-${i % 5}`;
  const existing = await store.find('App', name);
  if (existing) {
    await store.update({ ...existing, metadata: { ...existing.metadata, annotations: { ballast: `${i}${ballast}` } }, spec: { ...existing.spec, run: { ...existing.spec.run, port: 1000 + i } } });
    await store.updateStatus({ ...(await store.get('App', name)), status: { readyReplicas: i } });
  } else {
    await store.create({ apiVersion, kind: 'App', metadata: { name }, spec: {} });
  }
  process.stdout.write(`${i}\n`);
}
