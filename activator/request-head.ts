// Checks of a request's head before it is routed: pure functions over strings, no allocation
// on the common path (an origin-form target and one well-formed Host).

/** `name[:port]` or `[v6 literal][:port]` (RFC 9110 7.2, RFC 3986 3.2.2): nothing that could close a quoted Forwarded value. */
const hostPattern = /^(?:[A-Za-z0-9_][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;
/** An absolute-form target of the http scheme, any case (RFC 9112 3.2.2): authority, then path and query. */
const absoluteForm = /^http:\/\/([^/?#]*)([/?][^#]*)?$/i;

/** Whether a Host value (or the authority of a target) is a host name or address with an optional port. */
export function isHost(value: string): boolean {
  return hostPattern.test(value);
}

/** How many Host lines a request has (raw name/value pairs, as `IncomingMessage.rawHeaders`). */
export function hostLines(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0, length = rawHeaders.length; i < length; i += 2) {
    const name = rawHeaders[i] ?? '';
    // Case-insensitive "host" without lower-casing (no string made per header).
    if (
      name.length === 4 &&
      (name.charCodeAt(0) | 32) === 104 &&
      (name.charCodeAt(1) | 32) === 111 &&
      (name.charCodeAt(2) | 32) === 115 &&
      (name.charCodeAt(3) | 32) === 116
    ) {
      count++;
    }
  }
  return count;
}

export type HeadProblem = 'tooManyHeaders' | 'duplicateHost' | 'badHost';

/**
 * What is wrong with a request's header lines, or undefined. `host` is the host it is routed
 * by (the Host header, or the authority of an absolute-form target), undefined when none.
 */
export function headProblem(rawHeaders: readonly string[], host: string | undefined, maxHeaderCount: number): HeadProblem | undefined {
  if (rawHeaders.length > 2 * maxHeaderCount) return 'tooManyHeaders';
  if (hostLines(rawHeaders) > 1) return 'duplicateHost';
  if (host !== undefined && host !== '' && !hostPattern.test(host)) return 'badHost';
  return undefined;
}

/** The target to send upstream and the authority to route by ('' to keep the Host header). */
export interface OriginForm {
  readonly authority: string;
  readonly path: string;
}

const asterisk: OriginForm = { authority: '', path: '*' };

/**
 * A request target that is not a path (`/...`), turned into what is sent upstream
 * (RFC 9112 3.2): an absolute-form `http://authority/path` is routed by its authority and
 * sent as `/path`; `*` is kept for OPTIONS, as is an OPTIONS `http://authority` with an
 * empty path (3.2.4). Anything else (other schemes, userinfo, no authority, `*` on another
 * method, a bare name) is undefined: refused.
 */
export function originForm(method: string, target: string): OriginForm | undefined {
  if (target === '*') return method === 'OPTIONS' ? asterisk : undefined;
  const match = absoluteForm.exec(target);
  if (match === null) return undefined;
  const authority = match[1] ?? '';
  if (authority === '' || !hostPattern.test(authority)) return undefined;
  const rest = match[2] ?? '';
  if (rest === '') return { authority, path: method === 'OPTIONS' ? '*' : '/' };
  return { authority, path: rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest };
}
