// autoscaler: Knative's KPA rules as a pure decider and the loop that feeds it.
export { type DeciderState, type Decision, decide, initialDeciderState, type Observation, type ScalingPolicy, scalingPolicy } from './decide.js';
export { type LoadReport, ScalingLoop, type ScalingLoopOptions, type ScalingRuntime } from './scaling-loop.js';
export { type ChartPanel, renderChart } from './chart.js';
export { perSecondLoad, type SimulationOptions, type SimulationResult, simulate, type TimelinePoint } from './simulate.js';
export { type LoadSample, parseTrace, requestLogHeader, type Trace, type TracedRequest, traceErrors } from './trace.js';
export { type StatsReceiver, type StatsServerOptions, serveStats } from './stats-server.js';
