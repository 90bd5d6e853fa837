// activator: the data plane (host routing, hold at zero, proxy, per-app stats).
export { Activator, type ActivatorOptions, type ChallengeAnswers, defaultMaxHeaderCount, type AppStats, type EndpointSource, type RequestRecorder, type StatsSink, type TlsSource } from './activator.js';
export { activatorErrors } from './errors.js';
export { RemoteStatsSink, type RemoteStatsOptions } from './remote-stats.js';
export type { ColdStartSummary } from './cold-starts.js';
