// Answers written straight onto a socket, where no ServerResponse exists: parse errors and
// timeouts of the HTTP server, and upgrade requests refused before they reach an app.
import { STATUS_CODES } from 'node:http';
import { activatorErrors } from './errors.js';

/** A whole HTTP/1.1 response carrying an activator error, closing the connection. */
export function rawAnswer(error: { readonly httpStatus: number; readonly code: string; readonly message: string }): string {
  return (
    `HTTP/1.1 ${error.httpStatus} ${STATUS_CODES[error.httpStatus] ?? ''}\r\n` +
    `content-type: text/plain; charset=utf-8\r\nx-dormant-error: ${error.code}\r\n` +
    `content-length: ${Buffer.byteLength(error.message)}\r\nconnection: close\r\n\r\n${error.message}`
  );
}

export interface ClientErrorLimits {
  readonly maxHeaderBytes: number;
  readonly headersTimeoutMs: number;
}

/**
 * What to write on a socket whose request failed before the app saw it (the HTTP server's
 * `clientError`), or undefined to cut the connection without a word: when the client is
 * gone, or when an answer is already under way on that socket (a streamed response, such
 * as Server-Sent Events), whose body a second status line would corrupt. Node's own default
 * handler draws the same line (lib/_http_server.js, socketOnError).
 */
export function clientErrorAnswer(code: string | undefined, answerStarted: boolean, limits: ClientErrorLimits): string | undefined {
  if (answerStarted || code === 'ECONNRESET' || code === 'EPIPE') return undefined;
  if (code === 'HPE_HEADER_OVERFLOW') return rawAnswer(activatorErrors.headersTooLarge({ maxHeaderBytes: limits.maxHeaderBytes }));
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return rawAnswer(activatorErrors.headersTimeout({ timeoutMs: limits.headersTimeoutMs }));
  return rawAnswer(activatorErrors.badRequest({ reason: code ?? 'unknown error' }));
}
