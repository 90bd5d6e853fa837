import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/** Drives a node:http exchange as undici would: the handler cannot tell the difference. */
class NodeController implements Dispatcher.DispatchController {
  readonly #request: ClientRequest;
  #response: IncomingMessage | undefined = undefined;
  #aborted = false;
  #paused = false;
  #reason: Error | null = null;

  constructor(outgoing: ClientRequest) {
    this.#request = outgoing;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  set response(response: IncomingMessage) {
    this.#response = response;
  }

  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#request.destroy(reason);
  }

  pause(): void {
    this.#paused = true;
    this.#response?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#response?.resume();
  }
}

/**
 * Sends `OPTIONS *` (RFC 9112 3.2.4) to a replica over a connection of its own. undici's
 * dispatch takes only `/path` and absolute URLs, so the one asterisk-form request goes
 * through node:http, which sends any target; it is rare (a server ping), so it is not pooled.
 * Headers are raw name/value pairs, Host among them. A replica silent for `idleTimeoutMs`
 * (undici's headers and body timeouts, 300 s, by default) fails the request as undici would,
 * so that a replica that never answers does not hold a concurrency slot for good.
 */
export function dispatchAsterisk(
  address: string,
  options: { readonly method: string; readonly headers: string[]; readonly body: Readable | null },
  handler: Dispatcher.DispatchHandler,
  idleTimeoutMs = 300_000,
): void {
  const colon = address.lastIndexOf(':');
  const outgoing = request({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), method: options.method, path: '*', headers: options.headers, setHost: false, agent: false });
  outgoing.setTimeout(idleTimeoutMs, () => {
    outgoing.destroy(Object.assign(new Error(`the replica sent nothing for ${idleTimeoutMs} ms`), { code: 'UND_ERR_HEADERS_TIMEOUT' }));
  });
  const controller = new NodeController(outgoing);
  let ended = false;
  const fail = (error: Error) => {
    if (ended) return;
    ended = true;
    handler.onResponseError?.(controller, error);
  };
  outgoing.on('error', fail);
  outgoing.on('information', (info) => handler.onResponseStart?.(controller, info.statusCode, info.headers, info.statusMessage));
  outgoing.on('response', (response) => {
    controller.response = response;
    handler.onResponseStart?.(controller, response.statusCode ?? 502, response.headers, response.statusMessage);
    response.on('data', (chunk: Buffer) => handler.onResponseData?.(controller, chunk));
    response.on('end', () => {
      if (ended) return;
      ended = true;
      handler.onResponseEnd?.(controller, response.trailers);
    });
    response.on('error', fail);
  });
  handler.onRequestStart?.(controller, {});
  if (controller.aborted) return;
  if (options.body === null) outgoing.end();
  else options.body.pipe(outgoing);
}
