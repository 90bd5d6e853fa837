import { defineErrors } from '../errors/index.js';

/** Answers the activator gives instead of an app's; the message is the response body. */
export const activatorErrors = defineErrors({
  unknownHost: {
    code: 'ACTIVATOR_UNKNOWN_HOST',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { host: string; apps: readonly string[]; domain: string }) =>
      `No app is served at ${o.host || '(no Host header)'}.\n${
        o.apps.length === 0 ? 'There are no apps yet.' : `Apps: ${o.apps.map((a) => `${a}.${o.domain}`).join(', ')}.`
      }\nDeploy one with: dormant apps create NAME, then git push to the remote it prints.\n`,
  },
  queueFull: {
    code: 'ACTIVATOR_QUEUE_FULL',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { app: string; queueDepth: number }) =>
      `${o.app} is busy: ${o.queueDepth} requests are already waiting for it. Retry shortly; its owner can raise queueDepth or maxScale (dormant policy set ${o.app} ...).\n`,
  },
  holdTimeout: {
    code: 'ACTIVATOR_HOLD_TIMEOUT',
    httpStatus: 504,
    exitCode: 1,
    message: (o: { app: string; waitedMs: number; waking: boolean }) =>
      o.waking
        ? `${o.app} did not become ready within ${Math.round(o.waitedMs / 1000)} s, so this request was not sent to it. Check dormant logs ${o.app}; its owner can raise requestTimeout.\n`
        : `${o.app} had no free replica within ${Math.round(o.waitedMs / 1000)} s (all at their containerConcurrency limit). Retry shortly.\n`,
  },
  notDeployed: {
    code: 'ACTIVATOR_NOT_DEPLOYED',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { app: string }) =>
      `${o.app} has nothing deployed yet. Deploy it with git push (dormant apps lists its git remote), then try again.\n`,
  },
  upstreamFailed: {
    code: 'ACTIVATOR_UPSTREAM_FAILED',
    httpStatus: 502,
    exitCode: 1,
    message: (o: { app: string; reason: string }) => `${o.app} failed to answer: ${o.reason}. Check dormant logs ${o.app}.\n`,
  },
});
