// The NetworkPolicies of manifests/base, read as a network plugin would: app pods reach
// the activator's HTTP port and gitd's SSH port only, never the autoscaler's load reports
// nor any metrics/admin port. The test cluster's bridge plugin does not enforce
// NetworkPolicy, so the rules are evaluated here (a plugin's reading, narrowed to what
// these policies use); k8s-install.cluster.ts applies them to a real apiserver.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}
interface Peer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
}
interface Policy {
  kind: string;
  metadata: { name: string; namespace: string };
  spec: { podSelector: Selector; policyTypes: string[]; ingress?: { from?: Peer[]; ports?: { port: string | number }[] }[] };
}
interface Pod {
  namespace: string;
  labels: Record<string, string>;
}

const base = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'manifests', 'base');
const documents = (file: string) => parseAllDocuments(readFileSync(join(base, file), 'utf8')).map((doc) => doc.toJS() as Record<string, unknown>);
const policies = documents('network-policies.yaml') as unknown as Policy[];

function selects(selector: Selector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = key in labels;
    if (operator === 'Exists' && !has) return false;
    if (operator === 'DoesNotExist' && has) return false;
    if (operator === 'In' && !(has && values.includes(labels[key] ?? ''))) return false;
    if (operator === 'NotIn' && has && values.includes(labels[key] ?? '')) return false;
  }
  return true;
}

/** Whether `from` may open a connection to `to` on the named port: no policy selecting `to` allows all; else some rule must. */
function allowed(from: Pod, to: Pod, port: string): boolean {
  const selecting = policies.filter((p) => p.metadata.namespace === to.namespace && p.spec.policyTypes.includes('Ingress') && selects(p.spec.podSelector, to.labels));
  if (selecting.length === 0) return true;
  return selecting.some((policy) =>
    (policy.spec.ingress ?? []).some((rule) => {
      const portMatches = rule.ports === undefined || rule.ports.some((p) => p.port === port);
      const peerMatches =
        rule.from === undefined ||
        rule.from.some((peer) => {
          // No namespaceSelector: the policy's own namespace; {} selects every namespace (their labels are not needed here).
          const namespaceOk = peer.namespaceSelector === undefined ? from.namespace === policy.metadata.namespace : Object.keys(peer.namespaceSelector).length === 0;
          return namespaceOk && (peer.podSelector === undefined || selects(peer.podSelector, from.labels));
        });
      return portMatches && peerMatches;
    }),
  );
}

const component = (name: string): Pod => ({ namespace: 'dormant-system', labels: { 'app.kubernetes.io/name': 'dormant', 'app.kubernetes.io/component': name } });
const appPod: Pod = { namespace: 'default', labels: { 'dormant.dev/app': 'tenant', 'dormant.dev/revision': 'tenant-00001' } };
const prometheus: Pod = { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' } };

describe('NetworkPolicies of manifests/base', () => {
  it("an app pod reaches the activator's HTTP and HTTPS ports and gitd's SSH port, and nothing else of Dormant's", () => {
    assert.equal(allowed(appPod, component('activator'), 'http'), true);
    assert.equal(allowed(appPod, component('activator'), 'https'), true);
    assert.equal(allowed(appPod, component('gitd'), 'ssh'), true);
    assert.equal(allowed(appPod, component('autoscaler'), 'stats'), false, 'the load reports, which have no token');
    assert.equal(allowed(appPod, component('autoscaler'), 'metrics'), false);
    assert.equal(allowed(appPod, component('activator'), 'metrics'), false, 'the admin endpoints');
  });

  it('activators report load to the autoscaler; a monitoring pod scrapes metrics but sends no load reports', () => {
    assert.equal(allowed(component('activator'), component('autoscaler'), 'stats'), true);
    assert.equal(allowed(prometheus, component('autoscaler'), 'metrics'), true);
    assert.equal(allowed(prometheus, component('activator'), 'metrics'), true);
    assert.equal(allowed(prometheus, component('autoscaler'), 'stats'), false);
  });

  it('every port a component declares is named by its policy (none closed by mistake)', () => {
    for (const file of ['activator.yaml', 'autoscaler.yaml', 'gitd.yaml']) {
      for (const doc of documents(file).filter((d) => d.kind === 'Deployment')) {
        const template = (doc.spec as { template: { metadata: { labels: Record<string, string> }; spec: { containers: { ports?: { name: string }[] }[] } } }).template;
        const policy = policies.find((p) => selects(p.spec.podSelector, template.metadata.labels));
        assert.ok(policy, `${file}: a NetworkPolicy selects its pods`);
        const named = new Set((policy.spec.ingress ?? []).flatMap((rule) => (rule.ports ?? []).map((p) => p.port)));
        for (const port of template.spec.containers.flatMap((c) => c.ports ?? [])) assert.ok(named.has(port.name), `${file}: port ${port.name}`);
      }
    }
  });
});
