// Cold start on Kubernetes: the bench app pushed to a `dormant up --runtime kubernetes` on
// the test cluster (hack/cluster/up, brought up when it is not), woken from zero pods N times
// with its image already on the node. Each phase is timed from the request's start by
// watches this scenario holds on the apiserver, as an outside observer:
//   decide_ms     the Deployment asks for a pod (the activator held, the autoscaler scaled)
//   scheduled_ms  the pod is bound to the node
//   started_ms    the kubelet reports its container running
//   ready_ms      the kubelet reports it Ready (its probe; Dormant routes on its own probe sooner)
// and p50/p90 are the first byte of the answer through the activator.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { startDormant, WorkingCopy } from '../../test/git-support.js';
import { benchAppFiles } from '../bench-env.js';
import { round, type Scenario, sleep } from '../scenario.js';
import { percentile } from '../vegeta.js';
import { firstByte } from './cold.js';

const app = 'benchk8s';
const registry = '127.0.0.1:5000';

interface PodTimes {
  created?: number;
  scheduled?: number;
  started?: number;
  ready?: number;
}

interface WatchedPod {
  metadata: { name: string };
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string }[]; containerStatuses?: { state?: { running?: object } }[] };
}

/** Brings the test cluster up (or finds it up) and returns its kubeconfig. */
function clusterKubeconfig(log: (line: string) => void): string {
  if (process.getuid?.() !== 0) throw new Error('k8s_cold needs the test cluster, which runs containerd and a kubelet: run the benchmark as root');
  log('k8s_cold: hack/cluster/up (about 10 s when built; the first time it builds Kubernetes)');
  const up = spawnSync('bash', [fileURLToPath(new URL('../../hack/cluster/up', import.meta.url))], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (up.status !== 0) throw new Error('hack/cluster/up failed; its output is above');
  const kubeconfig = up.stdout.trim();
  // Dormant's resources, as a user installs them.
  const kubectl = (...args: string[]) => spawnSync(join(dirname(kubeconfig), 'bin', 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8' });
  const applied = kubectl('apply', '-k', fileURLToPath(new URL('../../manifests/crds', import.meta.url)));
  if (applied.status !== 0) throw new Error(`kubectl apply -k manifests/crds failed: ${applied.stderr}`);
  kubectl('wait', '--for', 'condition=Established', 'crd/apps.dormant.dev', 'crd/revisions.dormant.dev', 'crd/autoscalepolicies.dormant.dev', '--timeout', '60s');
  return kubeconfig;
}

export const k8sCold: Scenario = {
  name: 'k8s_cold',
  summary: 'N wake-ups from zero pods on the test cluster (image cached on the node), with the phases of each',
  async run({ log, smoke }) {
    const runs = smoke ? 2 : 10;
    const kubeconfig = clusterKubeconfig(log);
    const config = new KubeConfig();
    config.loadFromFile(kubeconfig);
    const core = config.makeApiClient(CoreV1Api);
    const dormant = await startDormant(['--runtime', 'kubernetes', '--kubeconfig', kubeconfig, '--registry', registry], { metrics: true });
    const stopWatches = new AbortController();
    try {
      const copy = await WorkingCopy.create(dormant.work, app, dormant.adminKey);
      await copy.commit(benchAppFiles('k8s'), 'k8s');
      // The push's own rollout starts one pod, so the image is on the node before the first run.
      const pushed = await copy.push(dormant.remote(app));
      if (pushed.code !== 0) throw new Error(`pushing the bench app to Kubernetes failed:\n${pushed.stderr.slice(-800)}`);
      const policy = await dormant.dormant('policy', 'set', app, 'stableWindow=6s', 'scaleToZeroGracePeriod=0s');
      if (policy.code !== 0) throw new Error(policy.stderr);

      const pods = new Map<string, PodTimes>();
      let scaledUpAt: number | undefined;
      const watcher = new Watch(config);
      const watches = [
        await watcher.watch(
          '/api/v1/namespaces/default/pods',
          { labelSelector: `dormant.dev/app=${app}` },
          (type: string, pod: WatchedPod) => {
            if (type === 'DELETED') return;
            const now = performance.now();
            const times = pods.get(pod.metadata.name) ?? { created: now };
            pods.set(pod.metadata.name, times);
            if (pod.spec?.nodeName) times.scheduled ??= now;
            if (pod.status?.containerStatuses?.[0]?.state?.running) times.started ??= now;
            if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) times.ready ??= now;
          },
          () => {},
        ),
        await watcher.watch(
          '/apis/apps/v1/namespaces/default/deployments',
          { labelSelector: `dormant.dev/app=${app}` },
          (type: string, deployment: { spec?: { replicas?: number } }) => {
            if (type !== 'DELETED' && (deployment.spec?.replicas ?? 0) > 0) scaledUpAt ??= performance.now();
          },
          () => {},
        ),
      ];
      stopWatches.signal.addEventListener('abort', () => {
        for (const w of watches) w.abort();
      });

      const firstBytes: number[] = [];
      const phases = { decide: [] as number[], scheduled: [] as number[], started: [] as number[], ready: [] as number[] };
      const failures: string[] = [];
      for (let i = 0; i < runs; i++) {
        // At zero: no pod of the app left at all, terminating ones included.
        const deadline = performance.now() + 120_000;
        while ((await podCount(core, app)) > 0) {
          if (performance.now() > deadline) throw new Error('the bench app did not return to zero pods within 120 s');
          await sleep(250);
        }
        pods.clear();
        scaledUpAt = undefined;
        const started = performance.now();
        const answer = await firstByte(dormant.httpPort, `${app}.localhost`);
        if (answer.status !== 200) failures.push(`${answer.status} ${answer.body.slice(0, 100)}`);
        firstBytes.push(answer.ms);
        // The kubelet's Ready comes after Dormant's own probe: wait for it to report.
        const until = performance.now() + 10_000;
        while (![...pods.values()].some((p) => p.ready !== undefined) && performance.now() < until) await sleep(20);
        const pod = [...pods.values()].sort((a, b) => (a.created ?? 0) - (b.created ?? 0))[0];
        const at = (t: number | undefined) => (t === undefined ? Number.NaN : t - started);
        phases.decide.push(at(scaledUpAt));
        phases.scheduled.push(at(pod?.scheduled));
        phases.started.push(at(pod?.started));
        phases.ready.push(at(pod?.ready));
        log(
          `k8s_cold: run ${i + 1}/${runs}: first byte ${answer.ms.toFixed(0)} ms; decide ${at(scaledUpAt).toFixed(0)}, scheduled ${at(pod?.scheduled).toFixed(0)}, started ${at(pod?.started).toFixed(0)}, kubelet Ready ${at(pod?.ready).toFixed(0)} ms`,
        );
      }
      const p50 = (values: number[]) => round(percentile(values.filter(Number.isFinite), 50));
      const figures = {
        runs,
        p50_ms: round(percentile(firstBytes, 50)),
        p90_ms: round(percentile(firstBytes, 90)),
        phases: { decide_ms: p50(phases.decide), scheduled_ms: p50(phases.scheduled), started_ms: p50(phases.started), ready_ms: p50(phases.ready) },
      };
      const breaches = failures.length > 0 ? [`k8s_cold: ${failures.length} of ${runs} first requests failed (${failures.join('; ')})`] : [];
      if (figures.p50_ms > 1000) breaches.push(`k8s_cold: p50_ms ${figures.p50_ms} is above the 1000 ms bar`);
      return {
        figures,
        rows: [
          { figure: `k8s_cold: first byte from zero pods, p50 of ${runs} (bar 1000 ms)`, value: figures.p50_ms, unit: 'ms', reference: { name: 'bar', value: 1000 } },
          { figure: `k8s_cold: first byte from zero pods, p90 of ${runs}`, value: figures.p90_ms, unit: 'ms' },
          { figure: 'k8s_cold: Deployment scaled up, p50', value: figures.phases.decide_ms, unit: 'ms' },
          { figure: 'k8s_cold: pod scheduled, p50', value: figures.phases.scheduled_ms, unit: 'ms' },
          { figure: 'k8s_cold: container running, p50', value: figures.phases.started_ms, unit: 'ms' },
          { figure: "k8s_cold: kubelet's Ready, p50", value: figures.phases.ready_ms, unit: 'ms', reference: { name: 'first byte', value: figures.p50_ms } },
        ],
        breaches,
      };
    } finally {
      stopWatches.abort();
      await dormant.dormant('apps', 'delete', app, '--confirm', app).catch(() => undefined);
      await dormant.stop();
    }
  },
};

async function podCount(core: CoreV1Api, appName: string): Promise<number> {
  const list = await core.listNamespacedPod({ namespace: 'default', labelSelector: `dormant.dev/app=${appName}` }).catch(() => undefined);
  return list?.items.length ?? Number.POSITIVE_INFINITY;
}
