import type { App, Revision } from '../../crds/index.js';
import type { ResourceStore } from '../resource-store.js';

/** Every App with the Revision its status says serves it (undefined: none, or gone), as a runtime takes them up at start. */
export async function servedApps(store: ResourceStore, namespace?: string): Promise<{ app: App; revision: Revision | undefined }[]> {
  const served = [];
  for (const app of await store.list('App', namespace === undefined ? {} : { namespace })) {
    const name = app.status?.readyRevision;
    const revision = name === undefined ? undefined : await store.find('Revision', name, app.metadata.namespace);
    served.push({ app, revision });
  }
  return served;
}
