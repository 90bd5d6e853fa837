// The test cluster end to end (npm run test:cluster): a Deployment of an image from the
// cluster's registry becomes a Ready pod whose IP the host reaches, scales to zero (its
// address is released) and back, logs through the apiserver and the kubelet, and is
// deleted; an image that is not in the registry fails that pod only, with the reason.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it, type TestContext } from 'node:test';
import { clusterDir, clusterImages, eventually, kubectl, kubectlOk, type PodSummary, pods } from './cluster-support.js';

const namespace = `smoke-${process.pid}`;
const images = clusterImages();

function deployment(name: string, image: string, replicas: number): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'web',
              image,
              imagePullPolicy: 'IfNotPresent',
              ports: [{ containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
            },
          ],
        },
      },
    },
  });
}

async function answer(ip: string): Promise<string> {
  const response = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(2_000) });
  return response.text();
}

const readyPod = (name: string, timeoutMs = 120_000) =>
  eventually(`a Ready pod of ${name}`, async () => (await pods(namespace, `app=${name}`)).find((pod) => pod.ready && pod.ip !== undefined), timeoutMs);

before(async () => {
  await kubectlOk(['create', 'namespace', namespace]);
  // Pods are refused until the namespace's default service account exists.
  await eventually('the default service account', async () => ((await kubectl(['get', 'serviceaccount', 'default', '-n', namespace])).code === 0 ? true : undefined));
});

after(async () => {
  await kubectl(['delete', 'namespace', namespace, '--wait=false']);
});

it('the node is Ready and runs the kubelet built from source', async () => {
  const node = JSON.parse(await kubectlOk(['get', 'nodes', '-o', 'json'])) as {
    items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[]; nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } } }[];
  };
  assert.equal(node.items.length, 1);
  const [only] = node.items;
  assert.ok(only);
  assert.equal(only.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
  assert.match(only.status.nodeInfo.kubeletVersion, /^v1\.34\.\d+$/);
  assert.match(only.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\/1\.6\./);
});

it('a Deployment becomes a Ready pod the host reaches by IP, scales to zero and back, logs, and is deleted', async (t: TestContext) => {
  const applied = performance.now();
  await kubectlOk(['apply', '-f', '-'], deployment('hello', images.hello, 1));
  const first = await readyPod('hello');
  const pulled = await kubectlOk(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${first.name},reason=Pulled`, '-o', 'jsonpath={.items[*].message}']);
  t.diagnostic(`first pod Ready ${(performance.now() - applied).toFixed(0)} ms after apply, pulling the image from the registry included (${/in ([\d.]+m?s)/.exec(pulled)?.[1] ?? 'pull time not reported'})`);
  assert.match(first.ip ?? '', /^10\.244\.0\.\d+$/);
  assert.equal(await answer(first.ip ?? ''), `hello from ${first.name}\n`);
  // Logs come from the kubelet through the apiserver: the apiserver's client certificate and the kubelet's serving one.
  assert.match(await kubectlOk(['logs', '-n', namespace, first.name]), /listening on 8080/);

  await kubectlOk(['scale', '-n', namespace, 'deployment/hello', '--replicas', '0']);
  await eventually('no pods at scale 0', async () => ((await pods(namespace, 'app=hello')).length === 0 ? true : undefined), 60_000);
  // The CNI plugin released the address when the sandbox stopped, so nothing answers there.
  const ipFile = join(clusterDir, 'cni', 'networks', 'dormant-cluster', first.ip ?? '');
  assert.equal(existsSync(ipFile), false, `${ipFile} still allocated`);
  await assert.rejects(answer(first.ip ?? ''));

  const woken = performance.now();
  await kubectlOk(['scale', '-n', namespace, 'deployment/hello', '--replicas', '1']);
  const second = await readyPod('hello');
  t.diagnostic(`scale 0 -> 1: pod Ready in ${(performance.now() - woken).toFixed(0)} ms`);
  assert.notEqual(second.name, first.name);
  assert.equal(await answer(second.ip ?? ''), `hello from ${second.name}\n`);

  await kubectlOk(['delete', '-n', namespace, 'deployment/hello']);
  await eventually('the pods of a deleted Deployment gone', async () => ((await pods(namespace, 'app=hello')).length === 0 ? true : undefined), 60_000);
});

it('an image that is not in the registry fails its own pod with the reason, and the others keep serving', async () => {
  await kubectlOk(['apply', '-f', '-'], deployment('steady', images.hello, 1));
  const steady = await readyPod('steady');
  const missing = images.hello.replace(/\/cluster-hello@sha256:[0-9a-f]{64}$/, '/not-pushed:1');
  assert.notEqual(missing, images.hello);
  await kubectlOk(['apply', '-f', '-'], deployment('ghost', missing, 1));
  const failing = await eventually<PodSummary>(
    'the pull failure reported',
    async () => (await pods(namespace, 'app=ghost')).find((pod) => pod.waitingReason === 'ErrImagePull' || pod.waitingReason === 'ImagePullBackOff'),
    60_000,
  );
  assert.equal(failing.ready, false);
  const events = await kubectlOk(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${failing.name}`, '-o', 'jsonpath={.items[*].message}']);
  assert.match(events, /not-pushed:1.*not found/);
  assert.equal(await answer(steady.ip ?? ''), `hello from ${steady.name}\n`);
  await kubectlOk(['delete', '-n', namespace, 'deployment/ghost', 'deployment/steady']);
});

it("Services work (kube-proxy): a cluster IP and a NodePort on 127.0.0.1 reach the pods, and a pod reaches the apiserver through the kubernetes Service", async () => {
  await kubectlOk(['apply', '-f', '-'], deployment('served', images.hello, 1));
  const pod = await readyPod('served');
  await kubectlOk(['expose', '-n', namespace, 'deployment/served', '--port', '80', '--target-port', '8080', '--type', 'NodePort']);
  const clusterIp = await kubectlOk(['get', 'service', 'served', '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}']);
  const nodePort = await kubectlOk(['get', 'service', 'served', '-n', namespace, '-o', 'jsonpath={.spec.ports[0].nodePort}']);
  const viaService = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(2_000) })).text();
  assert.equal(await eventually('the cluster IP answering', () => viaService(`http://${clusterIp}/`), 30_000, 200), `hello from ${pod.name}\n`);
  assert.equal(await eventually('the NodePort answering', () => viaService(`http://127.0.0.1:${nodePort}/`), 30_000, 200), `hello from ${pod.name}\n`);

  // The apiserver listens on loopback; pods reach it at the kubernetes Service, with its certificate checked.
  const script =
    "fetch('https://' + process.env.KUBERNETES_SERVICE_HOST + ':' + process.env.KUBERNETES_SERVICE_PORT + '/version').then((r) => r.json()).then((v) => console.log('apiserver ' + v.gitVersion), (e) => { console.log('failed ' + (e.cause?.message ?? e.message)); process.exit(1); })";
  await kubectlOk([
    'run', 'apicheck', '-n', namespace, `--image=${images.hello}`, '--image-pull-policy=IfNotPresent', '--restart=Never',
    '--env=NODE_EXTRA_CA_CERTS=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt', '--command', '--', 'node', '-e', script,
  ]);
  const phase = await eventually(
    'the apiserver check finished',
    async () => {
      const value = await kubectlOk(['get', 'pod', 'apicheck', '-n', namespace, '-o', 'jsonpath={.status.phase}']);
      return value === 'Succeeded' || value === 'Failed' ? value : undefined;
    },
    60_000,
    200,
  );
  const logs = await kubectlOk(['logs', 'apicheck', '-n', namespace]);
  assert.equal(phase, 'Succeeded', logs);
  assert.match(logs, /^apiserver v1\.34\.\d+$/m);
  await kubectlOk(['delete', '-n', namespace, 'deployment/served', 'service/served', 'pod/apicheck']);
});
