import { request } from 'node:http';
import { connect } from 'node:net';

/** No answer within this long counts as not ready (a pod's address may swallow SYNs). */
const probeTimeoutMs = 1000;

/**
 * One readiness check of a replica, as the kubelet's probes do: an HTTP GET of `path`
 * answered below 500, or without a path a TCP connect that is accepted.
 */
export function replicaAnswers(host: string, port: number, path: string | undefined): Promise<boolean> {
  return path === undefined ? tcpAccepts(host, port) : httpAnswers(host, port, path);
}

function tcpAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(probeTimeoutMs);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function httpAnswers(host: string, port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = request({ host, port, path, agent: false, timeout: probeTimeoutMs, headers: { 'user-agent': 'dormant-probe' } }, (response) => {
      response.resume();
      resolve((response.statusCode ?? 500) < 500);
    });
    probe.once('timeout', () => probe.destroy());
    probe.once('error', () => resolve(false));
    probe.end();
  });
}

/**
 * How long to wait before the next readiness probe, given how long the replica has been
 * starting. A refused loopback connect costs microseconds, so probing every 2 ms while
 * most apps boot keeps the added cold-start latency at a few ms; slow starters are
 * probed less often (never less than every 100 ms).
 */
export function probeDelayMs(elapsedMs: number): number {
  if (elapsedMs < 1000) return 2;
  if (elapsedMs < 5000) return 10;
  if (elapsedMs < 20_000) return 50;
  return 100;
}
