import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { App, Revision } from '../../crds/index.js';
import type { ReplicaProcess } from './replica-process.js';
import { type WarmSandbox, WarmSandboxes } from './warm-sandboxes.js';

// Stand-ins for what the pool only compares and kills: an App object, a Revision by name, a process.
const appObject = (name: string) => ({ metadata: { name } }) as App;
const revision = (name: string) => ({ metadata: { name } }) as Revision;
const killed: string[] = [];
const sandbox = (app: string, madeFor: { app: App; revision: Revision }, id = `${app}-warm`): WarmSandbox => ({
  app,
  id,
  process: { kill: () => killed.push(id) } as unknown as ReplicaProcess,
  port: 0,
  releasePort: () => undefined,
  madeFor,
  taken: false,
});

describe('WarmSandboxes', () => {
  it('a replica of the same revision and App takes the warm sandbox, once', () => {
    const pool = new WarmSandboxes(4);
    const web = appObject('web');
    const parked = sandbox('web', { app: web, revision: revision('web-00001') });
    pool.park(parked);
    assert.ok(pool.has('web', web, revision('web-00001')));
    assert.equal(pool.take('web', web, revision('web-00001')), parked);
    assert.equal(parked.taken, true);
    assert.equal(pool.take('web', web, revision('web-00001')), undefined);
    assert.equal(pool.forget(parked), false, 'a taken one is the replica\'s now');
  });

  it('another revision, or a later App (new config), finds it stale: it is killed, and nothing is taken', () => {
    killed.length = 0;
    const pool = new WarmSandboxes(4);
    const web = appObject('web');
    pool.park(sandbox('web', { app: web, revision: revision('web-00001') }, 'a'));
    assert.equal(pool.take('web', web, revision('web-00002')), undefined);
    pool.park(sandbox('web', { app: web, revision: revision('web-00002') }, 'b'));
    assert.equal(pool.take('web', appObject('web'), revision('web-00002')), undefined);
    assert.deepEqual(killed, ['a', 'b']);
    assert.equal(pool.size, 0);
  });

  it('one per app: parking again replaces and kills the earlier one; over capacity the oldest goes', () => {
    killed.length = 0;
    const pool = new WarmSandboxes(2);
    const made = (app: string, id: string) => sandbox(app, { app: appObject(app), revision: revision(`${app}-00001`) }, id);
    pool.park(made('a', 'a1'));
    pool.park(made('a', 'a2'));
    pool.park(made('b', 'b1'));
    pool.park(made('c', 'c1'));
    assert.deepEqual(killed, ['a1', 'a2']);
    assert.equal(pool.size, 2);
    pool.dropAll();
    assert.deepEqual(killed, ['a1', 'a2', 'b1', 'c1']);
  });

  it('forget tells whether an exiting one was still parked', () => {
    const pool = new WarmSandboxes(2);
    const parked = sandbox('web', { app: appObject('web'), revision: revision('web-00001') });
    pool.park(parked);
    assert.equal(pool.forget(parked), true);
    assert.equal(pool.size, 0);
  });
});
