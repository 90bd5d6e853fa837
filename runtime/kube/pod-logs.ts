/**
 * An app's logs on Kubernetes: its pods' logs through the apiserver (which asks each
 * kubelet), with the kubelet's timestamps, merged oldest first; with follow, new lines of
 * the pods that exist when it starts (pods started later, by a wake-up, are not followed
 * yet). What `dormant logs` and KubeRuntime.logs read.
 */
import { PassThrough } from 'node:stream';
import { CoreV1Api, type KubeConfig, Log } from '@kubernetes/client-node';
import type { LogLine, LogOptions } from '../runtime.js';
import { appLabel } from './deployment-spec.js';

function parseLogLine(replica: string, line: string): LogLine | undefined {
  if (line.length === 0) return undefined;
  const space = line.indexOf(' ');
  const time = space > 0 ? line.slice(0, space) : '';
  if (!/^\d{4}-\d\d-\d\dT/.test(time)) return { time: new Date().toISOString(), replica, stream: 'stdout', text: line };
  return { time, replica, stream: 'stdout', text: line.slice(space + 1) };
}

export async function* readPodLogs(config: KubeConfig, namespace: string, app: string, options: LogOptions = {}): AsyncIterable<LogLine> {
  const core = config.makeApiClient(CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace, labelSelector: `${appLabel}=${app}` });
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
  lines.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  yield* lines;
  if (!options.follow || options.signal?.aborted) return;
  const merged = new PassThrough();
  const controllers: AbortController[] = [];
  const stop = () => {
    for (const c of controllers) c.abort();
    merged.end();
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  const follower = new Log(config);
  try {
    for (const pod of pods.items) {
      const name = pod.metadata?.name ?? '';
      const out = new PassThrough();
      let partial = '';
      out.on('data', (chunk: Buffer) => {
        const parts = (partial + chunk.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        for (const part of parts) if (part.length > 0) merged.write(`${name} ${part}\n`);
      });
      // A pod whose container has not started cannot be followed yet; the others still are.
      const controller = await follower.log(namespace, name, 'app', out, { follow: true, timestamps: true, sinceSeconds: 1 }).catch(() => undefined);
      if (controller) controllers.push(controller);
    }
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
    for (const c of controllers) c.abort();
  }
}
