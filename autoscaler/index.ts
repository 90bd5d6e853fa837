// autoscaler: Knative's KPA rules as a pure decider, the scaling loop, policy simulation
// (issue #5). Until then, a scaler that only wakes apps.
export { type Scalable, WakeOnlyScaler } from './wake-only-scaler.js';
