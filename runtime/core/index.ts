/** What both executors share: the reconciler, the endpoints hub, the status writer, readiness probes and back-off. */
export { EndpointsHub } from './endpoints-hub.js';
export { EventChannel } from './event-channel.js';
export { LatestValue } from './latest-value.js';
export { probeDelayMs, replicaAnswers } from './readiness-probe.js';
export { type DesiredApp, type PlannedReplica, planReplicas, type ReplicaPhase, type RuntimeAction, reconcile } from './reconcile.js';
export { type ReconcileExecutor, ReconcileLoop } from './reconcile-loop.js';
export { type ReplicaStatus, withReplicaStatus } from './replica-status.js';
export { defaultRestartBackoff, nextFailureCount, type RestartBackoff, restartDelayMs } from './restart-backoff.js';
export { StatusWriter, type StatusWriterOptions } from './status-writer.js';
export { Informer, type InformerOptions } from './informer.js';
export { ReplicaGauge } from './replica-gauge.js';
export { servedApps } from './served-apps.js';
