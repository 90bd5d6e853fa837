// The Kubernetes backend: loaded on demand (runtime/index.ts's loadKubernetesBackend), so
// commands that do not talk to a cluster do not pay for loading the Kubernetes client.
export { KubeRuntime, type KubeRuntimeOptions } from './kube-runtime.js';
export { KubeStore, type KubeStoreOptions, loadKubeConfig } from './kube-store.js';
export { readPodLogs } from './pod-logs.js';
export { addressAnnotation, LeaseElector, MemberDirectory, memberLabel, memberLeaseName } from './lease.js';
export { CertificateSecrets, certificateSecretName } from './certificate-secrets.js';
export { CertManagerCertificates } from './cert-manager-certificates.js';
export { CertManagerChallenges } from './cert-manager-challenges.js';
