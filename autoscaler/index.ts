// autoscaler: Knative's KPA rules as a pure decider, the scaling loop, policy simulation.
// Not built yet: issue #5. README's status table says so.
export {};
