// The cluster hack/cluster/up started, as the cluster tests see it: its kubectl and
// kubeconfig, the images it pushed, and polling with a deadline.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { type RunResult, runProgram } from '../git-support.js';

export const clusterDir = process.env.DORMANT_CLUSTER_DIR ?? '/tmp/dormant-cluster';
export const kubeconfig = join(clusterDir, 'admin.kubeconfig');

/** The images hack/cluster/images.ts pushed (images.env). */
export function clusterImages(): { readonly pause: string; readonly hello: string } {
  let text: string;
  try {
    text = readFileSync(join(clusterDir, 'images.env'), 'utf8');
  } catch {
    throw new Error(`no cluster at ${clusterDir}: run the cluster tests with npm run test:cluster, which brings it up`);
  }
  const value = (name: string) => {
    const found = new RegExp(`^${name}=(.+)$`, 'm').exec(text)?.[1];
    if (found === undefined) throw new Error(`${name} is missing from ${clusterDir}/images.env`);
    return found;
  };
  return { pause: value('PAUSE_IMAGE'), hello: value('HELLO_IMAGE') };
}

export function kubectl(args: readonly string[], input?: string): Promise<RunResult> {
  return runProgram(join(clusterDir, 'bin', 'kubectl'), ['--kubeconfig', kubeconfig, ...args], input === undefined ? {} : { input });
}

/** kubectl that must succeed; its stdout. */
export async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  const result = await kubectl(args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** Polls check every intervalMs until it returns a value other than undefined; throws naming what after timeoutMs. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last === undefined ? '' : ` (last error: ${String(last)})`}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface PodSummary {
  readonly name: string;
  readonly ip: string | undefined;
  readonly ready: boolean;
  readonly phase: string;
  readonly waitingReason: string | undefined;
  readonly waitingMessage: string | undefined;
}

export async function pods(namespace: string, selector: string): Promise<PodSummary[]> {
  interface Pod {
    metadata: { name: string; deletionTimestamp?: string };
    status?: {
      phase?: string;
      podIP?: string;
      conditions?: { type: string; status: string }[];
      containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[];
    };
  }
  const list = JSON.parse(await kubectlOk(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json'])) as { items: Pod[] };
  return list.items.map((pod) => ({
    name: pod.metadata.name,
    ip: pod.status?.podIP,
    ready: pod.metadata.deletionTimestamp === undefined && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    phase: pod.status?.phase ?? 'Unknown',
    waitingReason: pod.status?.containerStatuses?.[0]?.state?.waiting?.reason,
    waitingMessage: pod.status?.containerStatuses?.[0]?.state?.waiting?.message,
  }));
}

export interface AppAnswer {
  readonly status: number;
  readonly body: string;
  /** X-Dormant-Cold-Start: ms the request waited for a wake-up. */
  readonly coldStart: string | undefined;
}

/** GET / of an app through the activator on 127.0.0.1:port, on a fresh connection. */
export function getApp(port: number, app: string, timeoutMs = 60_000, path = '/'): Promise<AppAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: `${app}.localhost` }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, coldStart: res.headers['x-dormant-cold-start'] as string | undefined }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}
