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
  misdirected: {
    code: 'ACTIVATOR_MISDIRECTED',
    httpStatus: 421,
    exitCode: 1,
    message: (o: { host: string; servername: string }) => `This connection was made for ${o.servername}, which is another app's; open a connection for ${o.host} (its own TLS name) to reach it.\n`,
  },
  stopped: {
    code: 'ACTIVATOR_APP_STOPPED',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { app: string }) => `${o.app} is stopped by its owner, and serves nothing until it is started again (dormant start ${o.app}).\n`,
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
  badTarget: {
    code: 'ACTIVATOR_BAD_TARGET',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { method: string; target: string }) =>
      `${o.method} ${JSON.stringify(o.target)} is not a request target Dormant answers: send a path (GET /page), an http:// URL, or OPTIONS *.\n`,
  },
  badHost: {
    code: 'ACTIVATOR_BAD_HOST',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { host: string; duplicate: boolean }) =>
      o.duplicate
        ? 'This request has more than one Host header: send exactly one, naming the app (APP.DOMAIN[:PORT]).\n'
        : `The Host ${JSON.stringify(o.host)} is not a host name with an optional port (name[:port]): send the app's host, such as APP.DOMAIN[:PORT].\n`,
  },
  tooManyHeaders: {
    code: 'ACTIVATOR_TOO_MANY_HEADERS',
    httpStatus: 431,
    exitCode: 1,
    message: (o: { maxHeaderCount: number }) =>
      `This request has more than ${o.maxHeaderCount} header lines, the most the activator forwards (dormant up --max-header-count). Send fewer headers.\n`,
  },
  badUpgrade: {
    code: 'ACTIVATOR_BAD_UPGRADE',
    httpStatus: 400,
    exitCode: 1,
    message: () => 'An Upgrade request with a body is not forwarded: send the handshake without a body (a WebSocket handshake is a GET without one).\n',
  },
  badRequest: {
    code: 'ACTIVATOR_BAD_REQUEST',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { reason: string }) => `This is not a well-formed HTTP/1.1 request (${o.reason}); the connection is closed.\n`,
  },
  headersTooLarge: {
    code: 'ACTIVATOR_HEADERS_TOO_LARGE',
    httpStatus: 431,
    exitCode: 1,
    message: (o: { maxHeaderBytes: number }) => `This request's headers are larger than ${o.maxHeaderBytes} bytes, the activator's limit. Send smaller headers (fewer or shorter cookies).\n`,
  },
  headersTimeout: {
    code: 'ACTIVATOR_HEADERS_TIMEOUT',
    httpStatus: 408,
    exitCode: 1,
    message: (o: { timeoutMs: number }) => `This request's headers did not arrive within ${Math.round(o.timeoutMs / 1000)} s; the connection is closed. Send the whole head at once.\n`,
  },
});
