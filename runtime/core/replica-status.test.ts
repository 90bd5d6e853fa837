import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type App, apiVersion, type Condition } from '../../crds/index.js';
import { type ReplicaStatus, withReplicaStatus } from './replica-status.js';

const earlier = '2026-12-01T00:00:00Z';
const now = '2026-12-06T12:00:00Z';
const serving: Omit<Condition, 'lastTransitionTime'> = { type: 'Ready', status: 'True', reason: 'Serving', message: 'replica a is ready' };
const autoscaled: Condition = { type: 'Autoscaled', status: 'True', reason: 'Stable', message: '1 replica', lastTransitionTime: earlier };

function app(status: App['status']): App {
  return { apiVersion, kind: 'App', metadata: { name: 'web', namespace: 'default', resourceVersion: '7' }, spec: {} as App['spec'], ...(status ? { status } : {}) };
}

describe('withReplicaStatus', () => {
  const rows: readonly { name: string; status: App['status']; wanted: ReplicaStatus; written: App['status'] | 'no write' }[] = [
    {
      name: 'the same counts and condition: no write',
      status: { desiredReplicas: 1, readyReplicas: 1, conditions: [{ ...serving, lastTransitionTime: earlier }] },
      wanted: { desiredReplicas: 1, readyReplicas: 1, ready: serving },
      written: 'no write',
    },
    {
      name: 'no condition to report and the counts unchanged: no write',
      status: { desiredReplicas: 0, readyReplicas: 0 },
      wanted: { desiredReplicas: 0, readyReplicas: 0, ready: undefined },
      written: 'no write',
    },
    {
      name: 'a first report writes counts and the condition at the time of the write',
      status: undefined,
      wanted: { desiredReplicas: 1, readyReplicas: 0, ready: { type: 'Ready', status: 'Unknown', reason: 'Starting' } },
      written: { desiredReplicas: 1, readyReplicas: 0, conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Starting', lastTransitionTime: now }] },
    },
    {
      name: 'a new message with the same status keeps the transition time; other conditions stay',
      status: { desiredReplicas: 2, readyReplicas: 1, conditions: [autoscaled, { ...serving, lastTransitionTime: earlier }] },
      wanted: { desiredReplicas: 2, readyReplicas: 2, ready: { ...serving, message: 'replica b is ready' } },
      written: { desiredReplicas: 2, readyReplicas: 2, conditions: [autoscaled, { ...serving, message: 'replica b is ready', lastTransitionTime: earlier }] },
    },
    {
      name: 'a status change moves the transition time',
      status: { desiredReplicas: 1, readyReplicas: 1, conditions: [{ ...serving, lastTransitionTime: earlier }] },
      wanted: { desiredReplicas: 1, readyReplicas: 0, ready: { type: 'Ready', status: 'False', reason: 'CrashLoopBackOff', message: 'exited' } },
      written: { desiredReplicas: 1, readyReplicas: 0, conditions: [{ type: 'Ready', status: 'False', reason: 'CrashLoopBackOff', message: 'exited', lastTransitionTime: now }] },
    },
    {
      name: 'counts change without a condition: the Ready condition there is kept',
      status: { url: 'http://web.localhost', desiredReplicas: 0, readyReplicas: 0, conditions: [{ ...serving, lastTransitionTime: earlier }] },
      wanted: { desiredReplicas: 1, readyReplicas: 0, ready: undefined },
      written: { url: 'http://web.localhost', desiredReplicas: 1, readyReplicas: 0, conditions: [{ ...serving, lastTransitionTime: earlier }] },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const result = withReplicaStatus(app(row.status), row.wanted, now);
      if (row.written === 'no write') assert.equal(result, undefined);
      else assert.deepEqual(result?.status, row.written);
    });
  }
});
