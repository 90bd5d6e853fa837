/**
 * An app's logs on Kubernetes: its pods' logs through the apiserver (which asks each
 * kubelet), with the kubelet's timestamps, merged oldest first; with follow, new lines of
 * the pods running when it starts, and every pod started or restarted later (a wake-up, a
 * rollout, a crash) from its first line. What `dormant logs` and KubeRuntime.logs read.
 */
import { PassThrough } from 'node:stream';
import { CoreV1Api, type KubeConfig, Log, type V1Pod, Watch } from '@kubernetes/client-node';
import type { LogLine, LogOptions } from '../runtime.js';
import { appLabel } from './deployment-spec.js';
import { listWatch } from './list-watch.js';
import { apiClient } from './api-client.js';

function parseLogLine(replica: string, line: string): LogLine | undefined {
  if (line.length === 0) return undefined;
  const space = line.indexOf(' ');
  const time = space > 0 ? line.slice(0, space) : '';
  if (!/^\d{4}-\d\d-\d\dT/.test(time)) return { time: new Date().toISOString(), replica, stream: 'stdout', text: line };
  return { time, replica, stream: 'stdout', text: line.slice(space + 1) };
}

/** The app container's current instance, when it runs: pods and restarts are followed one instance at a time. */
function runningInstance(pod: V1Pod): string | undefined {
  const status = pod.status?.containerStatuses?.find((c) => c.name === 'app');
  return status?.state?.running === undefined ? undefined : `${pod.metadata?.uid ?? ''}/${status.restartCount}`;
}

/** The reason of Dormant's own events (its App's deploys, releases and runs). */
export const platformEventReason = 'DormantPlatform';

export async function* readPodLogs(config: KubeConfig, namespace: string, app: string, options: LogOptions = {}): AsyncIterable<LogLine> {
  const core = apiClient(config, CoreV1Api);
  // The replicas' lines: not those of dormant run's pods (a one-off's output, keys echoed on its terminal).
  const labelSelector = `${appLabel}=${app},!dormant.dev/run`;
  const pods = await core.listNamespacedPod({ namespace, labelSelector });
  const sinceSeconds = options.sinceMs === undefined ? undefined : Math.max(1, Math.ceil((Date.now() - options.sinceMs) / 1000));
  const lines: LogLine[] = [];
  for (const pod of pods.items) {
    const name = pod.metadata?.name ?? '';
    const text = await core.readNamespacedPodLog({ name, namespace, timestamps: true, ...(sinceSeconds === undefined ? {} : { sinceSeconds }) }).catch(() => '');
    for (const line of String(text).split('\n')) {
      const parsed = parseLogLine(name, line);
      if (parsed) lines.push(parsed);
    }
  }
  // The platform's events about the app, among its lines (written by the runtime's record()).
  const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=App,involvedObject.name=${app},reason=${platformEventReason}` }).catch(() => undefined);
  for (const event of events?.items ?? []) {
    const time = (event.lastTimestamp ?? event.firstTimestamp ?? event.metadata?.creationTimestamp)?.toISOString();
    if (time === undefined || (options.sinceMs !== undefined && Date.parse(time) < options.sinceMs)) continue;
    lines.push({ time, replica: 'dormant', stream: 'platform', text: event.message ?? '' });
  }
  lines.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  yield* lines;
  if (!options.follow || options.signal?.aborted) return;

  const merged = new PassThrough();
  const stopped = new AbortController();
  const controllers: AbortController[] = [];
  const stop = () => {
    stopped.abort();
    for (const c of controllers) c.abort();
    merged.end();
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  const follower = new Log(config);
  // What was read above is not read again: those instances are followed from now on; every later one (a wake-up, a restart) from its first line.
  const printed = new Set(pods.items.map(runningInstance).filter((i) => i !== undefined));
  const following = new Map<string, string>();
  const follow = async (pod: V1Pod) => {
    const name = pod.metadata?.name ?? '';
    const instance = runningInstance(pod);
    if (instance === undefined || following.get(name) === instance || stopped.signal.aborted) return;
    following.set(name, instance);
    const out = new PassThrough();
    let partial = '';
    out.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) if (part.length > 0 && !merged.writableEnded) merged.write(`${name} ${part}\n`);
    });
    const controller = await follower.log(namespace, name, 'app', out, { follow: true, timestamps: true, ...(printed.has(instance) ? { sinceSeconds: 1 } : {}) }).catch(() => undefined);
    if (!controller) following.delete(name); // not startable yet: the next event of this pod tries again
    else if (stopped.signal.aborted) controller.abort();
    else controllers.push(controller);
  };
  void listWatch<V1Pod & { metadata: { name: string } }>({
    watcher: new Watch(config),
    path: `/api/v1/namespaces/${namespace}/pods`,
    labelSelector,
    list: async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector });
      return { items: list.items as (V1Pod & { metadata: { name: string } })[], resourceVersion: list.metadata?.resourceVersion };
    },
    onEvent: ({ type, object }) => {
      if (type === 'DELETED') following.delete(object.metadata.name);
      else void follow(object);
    },
    signal: stopped.signal,
  });
  try {
    let buffered = '';
    for await (const chunk of merged as AsyncIterable<Buffer>) {
      const parts = (buffered + chunk.toString('utf8')).split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) {
        const space = part.indexOf(' ');
        const parsed = parseLogLine(part.slice(0, space), part.slice(space + 1));
        if (parsed) yield parsed;
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    stopped.abort();
    for (const c of controllers) c.abort();
  }
}
