import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The activator's Prometheus metrics, registered on registry (none when absent, as in tests). */
export function activatorMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  return {
    requests: new Counter({ name: 'dormant_activator_requests_total', help: 'Requests answered, by app and status', labelNames: ['app', 'code'], registers }),
    held: new Gauge({ name: 'dormant_activator_held_requests', help: 'Requests waiting for a replica', labelNames: ['app'], registers }),
    hold: new Histogram({
      name: 'dormant_activator_cold_start_seconds',
      help: 'How long requests waited for an app to wake from zero (the cold-start time)',
      labelNames: ['app'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    upstream: new Histogram({
      name: 'dormant_activator_request_seconds',
      help: 'From arrival to the end of the response, by app',
      labelNames: ['app'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    rejected: new Counter({ name: 'dormant_activator_queue_rejections_total', help: 'Requests refused because the app queue was full', labelNames: ['app'], registers }),
  };
}

export type ActivatorMetrics = ReturnType<typeof activatorMetrics>;
