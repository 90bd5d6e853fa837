// autoscaler: Knative's KPA rules as a pure decider and the loop that feeds it.
export { type DeciderState, type Decision, decide, initialDeciderState, type Observation, type ScalingPolicy, scalingPolicy } from './decide.js';
export { type LoadReport, ScalingLoop, type ScalingLoopOptions, type ScalingRuntime } from './scaling-loop.js';
