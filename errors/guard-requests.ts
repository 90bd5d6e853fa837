/**
 * The last line of every HTTP server Dormant runs (activator, metrics/admin, autoscaler
 * stats): an error a request handler throws, or a promise it returns rejects with, becomes
 * an answer and a log line, never an uncaught exception that ends Dormant and every
 * replica with it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defineErrors, isDormantError } from './define-errors.js';

/** What the guard logs with; a pino Logger fits. */
export interface ErrorLog {
  error(object: object, message: string): void;
}

export const guardErrors = defineErrors({
  handlerFailed: {
    code: 'HTTP_HANDLER_FAILED',
    httpStatus: 500,
    exitCode: 1,
    message: (o: { server: string }) =>
      `Dormant's ${o.server} failed while answering this request; it logged the failure and keeps running; retry, and if it repeats report the log line (msg "request handler failed")`,
  },
});

/** Longest request target quoted in the log line: a hostile one may be long. */
const maxLoggedTarget = 512;

/**
 * Answers a request whose handler threw: a DormantError with its own status and message,
 * anything else 500 HTTP_HANDLER_FAILED. An answer already under way cannot be replaced:
 * its connection is cut instead, so the client sees a truncated answer, not a wrong one.
 */
export function answerThrown(error: unknown, request: IncomingMessage, response: ServerResponse, guard: { readonly server: string; readonly log: ErrorLog }): void {
  const target = request.url ?? '';
  guard.log.error({ err: error, server: guard.server, method: request.method, url: target.length > maxLoggedTarget ? `${target.slice(0, maxLoggedTarget)}...` : target }, 'request handler failed');
  const answer = isDormantError(error) ? error : guardErrors.handlerFailed({ server: guard.server });
  try {
    if (response.headersSent || response.writableEnded) {
      response.destroy();
      return;
    }
    response.writeHead(answer.httpStatus, { 'content-type': 'text/plain; charset=utf-8', 'x-dormant-error': answer.code, connection: 'close' });
    response.end(`error [${answer.code}]: ${answer.message}\n`);
  } catch {
    // Writing the answer failed too (a destroyed socket): nothing is left to tell the client.
    response.destroy();
  }
}

/** A request listener whose handler's throws and rejections are answered by answerThrown. */
export function guardRequests(
  guard: { readonly server: string; readonly log: ErrorLog },
  handler: (request: IncomingMessage, response: ServerResponse) => void | Promise<void>,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    try {
      const result = handler(request, response);
      if (result) result.catch((error: unknown) => answerThrown(error, request, response, guard));
    } catch (error) {
      answerThrown(error, request, response, guard);
    }
  };
}
