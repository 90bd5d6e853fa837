// HTTP clients for end-to-end tests against the ports of a real `dormant up`.
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:http';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One GET to 127.0.0.1:port on a fresh connection. A trace (text/csv) streams until the
 * client leaves, so its answer is cut after the first chunk.
 */
export function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
        if (res.headers['content-type'] === 'text/csv') {
          req.destroy();
          done();
        }
      });
      res.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}
