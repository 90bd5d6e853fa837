// The pure checks of a request's head, and the answers written on a socket, as tables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headProblem, isHost, originForm } from './request-head.js';
import { clientErrorAnswer } from './socket-answers.js';

describe('isHost', () => {
  const rows: [string, boolean][] = [
    ['echo.localhost', true],
    ['echo.localhost:8080', true],
    ['echo.localhost:', true],
    ['ECHO.Localhost', true],
    ['my_app.internal', true],
    ['127.0.0.1:80', true],
    ['[::1]', true],
    ['[::1]:8080', true],
    ['[::ffff:127.0.0.1]:1', true],
    ['echo.localhost:1",for=6.6.6.6;host="x', false],
    ['echo.localhost:80x', false],
    ['echo.localhost:123456', false],
    ['echo.localhost:1:2', false],
    ['echo.localhost/x', false],
    ['user@echo.localhost', false],
    ['echo.localhost,other', false],
    ['echo localhost', false],
    ['[::1', false],
    ['[zz::1]', false],
    ['.echo', false],
    ['-echo', false],
  ];
  for (const [host, valid] of rows) it(`${JSON.stringify(host)} is ${valid ? '' : 'not '}a host`, () => assert.equal(isHost(host), valid));
});

describe('headProblem', () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => [`x-h${i}`, '1']).flat();
  const rows: { name: string; raw: string[]; host: string | undefined; max: number; problem: ReturnType<typeof headProblem> }[] = [
    { name: 'one good Host', raw: ['Host', 'a.localhost'], host: 'a.localhost', max: 100, problem: undefined },
    { name: 'no Host (HTTP/1.0)', raw: [], host: undefined, max: 100, problem: undefined },
    { name: 'an empty Host', raw: ['host', ''], host: '', max: 100, problem: undefined },
    { name: 'exactly the limit', raw: ['host', 'a', ...lines(99)], host: 'a', max: 100, problem: undefined },
    { name: 'one line over the limit', raw: ['host', 'a', ...lines(100)], host: 'a', max: 100, problem: 'tooManyHeaders' },
    { name: 'two Host lines, same case', raw: ['host', 'a', 'host', 'a'], host: 'a', max: 100, problem: 'duplicateHost' },
    { name: 'two Host lines, any case', raw: ['Host', 'a', 'x-y', '1', 'HOST', 'b'], host: 'a', max: 100, problem: 'duplicateHost' },
    { name: 'a Host that closes the Forwarded quote', raw: ['host', 'a:1",for=6'], host: 'a:1",for=6', max: 100, problem: 'badHost' },
    { name: 'a bad authority that replaced a good Host', raw: ['host', 'a'], host: 'a b', max: 100, problem: 'badHost' },
  ];
  for (const row of rows) it(row.name, () => assert.equal(headProblem(row.raw, row.host, row.max), row.problem));
});

describe('originForm', () => {
  const rows: { method: string; target: string; form: ReturnType<typeof originForm> }[] = [
    { method: 'GET', target: 'http://a.localhost/x?y=1', form: { authority: 'a.localhost', path: '/x?y=1' } },
    { method: 'GET', target: 'HTTP://A.localhost:8080/x', form: { authority: 'A.localhost:8080', path: '/x' } },
    { method: 'GET', target: 'http://a.localhost', form: { authority: 'a.localhost', path: '/' } },
    { method: 'GET', target: 'http://a.localhost?q', form: { authority: 'a.localhost', path: '/?q' } },
    { method: 'OPTIONS', target: '*', form: { authority: '', path: '*' } },
    { method: 'OPTIONS', target: 'http://a.localhost', form: { authority: 'a.localhost', path: '*' } },
    { method: 'OPTIONS', target: 'http://a.localhost/', form: { authority: 'a.localhost', path: '/' } },
    { method: 'GET', target: '*', form: undefined },
    { method: 'GET', target: 'https://a.localhost/', form: undefined },
    { method: 'GET', target: 'ws://a.localhost/', form: undefined },
    { method: 'GET', target: 'ftp://a.localhost/', form: undefined },
    { method: 'GET', target: 'http://user@a.localhost/', form: undefined },
    { method: 'GET', target: 'http:///x', form: undefined },
    { method: 'GET', target: 'http://a"b/', form: undefined },
    { method: 'GET', target: 'a.localhost/x', form: undefined },
  ];
  for (const row of rows) it(`${row.method} ${row.target}`, () => assert.deepEqual(originForm(row.method, row.target), row.form));
});

describe('clientErrorAnswer', () => {
  const limits = { maxHeaderBytes: 16_384, headersTimeoutMs: 30_000 };
  const rows: { name: string; code: string | undefined; started: boolean; status: string | undefined; error?: string }[] = [
    { name: 'a parse error on an idle connection', code: 'HPE_INVALID_METHOD', started: false, status: '400', error: 'ACTIVATOR_BAD_REQUEST' },
    { name: 'a parse error while an answer streams', code: 'HPE_INVALID_METHOD', started: true, status: undefined },
    { name: 'headers over the size limit', code: 'HPE_HEADER_OVERFLOW', started: false, status: '431', error: 'ACTIVATOR_HEADERS_TOO_LARGE' },
    { name: 'the headers timeout', code: 'ERR_HTTP_REQUEST_TIMEOUT', started: false, status: '408', error: 'ACTIVATOR_HEADERS_TIMEOUT' },
    { name: 'the headers timeout while an answer streams', code: 'ERR_HTTP_REQUEST_TIMEOUT', started: true, status: undefined },
    { name: 'a reset by the client', code: 'ECONNRESET', started: false, status: undefined },
    { name: 'an error without a code', code: undefined, started: false, status: '400', error: 'ACTIVATOR_BAD_REQUEST' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const answer = clientErrorAnswer(row.code, row.started, limits);
      if (row.status === undefined) {
        assert.equal(answer, undefined);
        return;
      }
      assert.match(answer ?? '', new RegExp(`^HTTP/1\\.1 ${row.status} .*\\r\\n`));
      assert.match(answer ?? '', new RegExp(`\\r\\nx-dormant-error: ${row.error}\\r\\n`));
      assert.match(answer ?? '', /\r\nconnection: close\r\n/);
      const [head = '', body = ''] = (answer ?? '').split('\r\n\r\n');
      assert.equal(Number(/content-length: (\d+)/.exec(head)?.[1]), Buffer.byteLength(body));
    });
  }
});
