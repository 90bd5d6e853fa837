import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodView } from './deployment-spec.js';
import { podAnswers, podEvents, podPhase, replicaStatusOf, trackPod } from './tracked-pod.js';

const view = (over: Partial<PodView> = {}): PodView => ({
  name: 'p',
  revision: 'web-00001',
  ip: '10.244.0.7',
  ready: false,
  terminating: false,
  waitingReason: undefined,
  waitingMessage: undefined,
  restarts: 0,
  lastExitCode: undefined,
  ...over,
});

describe('tracked pods', () => {
  it('a new pod without an answer yet is starting; the probe answering makes it ready before the kubelet says so', () => {
    const pod = trackPod(undefined, view(), 0, 3);
    assert.equal(pod.sequence, 3);
    assert.equal(podPhase(pod), 'starting');
    pod.probed = true;
    assert.equal(podPhase(pod), 'ready');
  });

  it('a restart voids what the probe saw', () => {
    const pod = trackPod(undefined, view(), 0, 0);
    pod.probed = true;
    trackPod(pod, view({ restarts: 1, lastExitCode: 1 }), 10, 99);
    assert.equal(pod.probed, false);
    assert.equal(pod.sequence, 0, 'a known pod keeps its order of first sight');
    assert.equal(podPhase(pod), 'backoff', 'it exited and was restarted: Kubernetes is backing off');
  });

  it("once the kubelet has said Ready, its word decides: not ready is not answering, whatever the probe saw", () => {
    const pod = trackPod(undefined, view({ ready: true }), 0, 0);
    assert.equal(podAnswers(pod), true);
    trackPod(pod, view({ ready: false }), 10, 0);
    pod.probed = true;
    assert.equal(podAnswers(pod), false);
  });

  it('a terminating pod drains; a crash-looping one is in back-off; no address, no answer', () => {
    assert.equal(podPhase(trackPod(undefined, view({ ready: true, terminating: true }), 0, 0)), 'draining');
    assert.equal(podPhase(trackPod(undefined, view({ ip: undefined, waitingReason: 'ImagePullBackOff' }), 0, 0)), 'backoff');
    const unaddressed = trackPod(undefined, view({ ip: undefined }), 0, 0);
    unaddressed.probed = true;
    assert.equal(podAnswers(unaddressed), false);
  });
});

describe('replicaStatusOf', () => {
  const rows: { name: string; serving: string | undefined; desired: number; pods: PodView[]; reason: string; ready: number }[] = [
    { name: 'nothing deployed', serving: undefined, desired: 0, pods: [], reason: 'NotDeployed', ready: 0 },
    { name: 'at zero', serving: 'web-00001', desired: 0, pods: [], reason: 'ScaledToZero', ready: 0 },
    { name: 'a pod of the serving revision ready', serving: 'web-00001', desired: 1, pods: [view({ ready: true })], reason: 'Serving', ready: 1 },
    { name: "another revision's ready pod does not count", serving: 'web-00002', desired: 1, pods: [view({ ready: true })], reason: 'Starting', ready: 0 },
    { name: 'crash-looping pods say so', serving: 'web-00001', desired: 1, pods: [view({ waitingReason: 'CrashLoopBackOff', lastExitCode: 3 })], reason: 'CrashLoopBackOff', ready: 0 },
    { name: 'a terminating crashed pod is not the reason', serving: 'web-00001', desired: 1, pods: [view({ terminating: true, waitingReason: 'CrashLoopBackOff' })], reason: 'Starting', ready: 0 },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const status = replicaStatusOf(row.serving, row.desired, row.pods.map((v, i) => trackPod(undefined, v, 0, i)));
      assert.equal(status.ready?.reason, row.reason);
      assert.equal(status.readyReplicas, row.ready);
      assert.equal(status.desiredReplicas, row.desired);
    });
  }
});

describe('podEvents', () => {
  it('says a pod ready once, with the time since it was first seen', () => {
    const pod = trackPod(undefined, view(), 1000, 0);
    assert.deepEqual(podEvents(pod, undefined, 1000), []);
    const before = pod.view;
    trackPod(pod, view({ ready: true }), 1850, 0);
    assert.deepEqual(podEvents(pod, before, 1850), ['Pod p of web-00001 ready 850 ms after it was first seen']);
    pod.saidReady = true;
    assert.deepEqual(podEvents(pod, pod.view, 2000), []);
  });

  it('says a readiness check that fails after the pod was ready, not a stop or an exit', () => {
    const pod = trackPod(undefined, view({ ready: true }), 0, 0);
    pod.saidReady = true;
    assert.deepEqual(podEvents(trackPod(pod, view({ ready: false, running: true }), 10, 0), view({ ready: true, running: true }), 10), ['Pod p of web-00001 failed its readiness check: it gets no requests until it passes again']);
    assert.deepEqual(podEvents(trackPod(pod, view({ ready: false, running: true, terminating: true }), 20, 0), view({ ready: true, running: true }), 20), [], 'stopping');
    assert.deepEqual(podEvents(trackPod(pod, view({ ready: false, running: false, lastExitCode: 1 }), 30, 0), view({ ready: true, running: true }), 30), [], 'exited: the crash is said when Kubernetes restarts it');
  });

  it('says a crash with its exit (code, signal, out of memory) and the back-off that follows', () => {
    const pod = trackPod(undefined, view({ ready: true }), 0, 0);
    pod.saidReady = true;
    const crashed = view({ restarts: 1, lastExitCode: 3, lastExitReason: 'Error' });
    assert.deepEqual(podEvents(trackPod(pod, crashed, 10, 0), view({ ready: true }), 10), ['Pod p of web-00001 crashed: its app exited with code 3; Kubernetes restarts it (restart 1)']);
    const killed = view({ restarts: 2, lastExitCode: 137, lastExitReason: 'OOMKilled', waitingReason: 'CrashLoopBackOff', waitingMessage: 'back-off 10s restarting failed container' });
    assert.deepEqual(podEvents(trackPod(pod, killed, 20, 0), crashed, 20), [
      'Pod p of web-00001 crashed: its app was killed by the kernel: it used all of its memory limit (exit code 137; raise spec.run.resources.limits.memory); Kubernetes restarts it (restart 2)',
      'Pod p of web-00001 is in back-off after 2 restarts: back-off 10s restarting failed container',
    ]);
    const signalled = view({ restarts: 3, lastExitCode: 143 });
    assert.deepEqual(podEvents(trackPod(pod, signalled, 30, 0), killed, 30), ['Pod p of web-00001 crashed: its app was killed by signal 15 (exit code 143); Kubernetes restarts it (restart 3)']);
  });
});
