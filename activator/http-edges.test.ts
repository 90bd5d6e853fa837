// The activator's HTTP edges over raw sockets: what a hostile or careless client can put on
// the wire (request targets, Host values, header counts, upgrades, garbage after a request)
// against a real activator and real upstream servers. Each case checks the answer the sender
// gets, what the app saw, and that other apps kept serving.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { call, closeAfterAll, dataUntil, endpoint, eventWaitBound, type Harness, harness, replica } from './test-support.js';

const { harnesses: open, servers } = closeAfterAll();

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

/** An app that records each request it gets and answers `name METHOD URL`. */
async function recordingApp(name: string, options: { maxHeadersCount?: number } = {}) {
  const seen: Seen[] = [];
  const r = await replica((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/plain', allow: 'GET, OPTIONS' }).end(`${name} ${req.method} ${req.url}`);
  });
  if (options.maxHeadersCount !== undefined) r.server.maxHeadersCount = options.maxHeadersCount;
  servers.push(r.server);
  return { ...r, seen };
}

/** An activator serving `echo` and `other`, each on its own recording app. */
async function setup(options: { headersTimeoutMs?: number; maxHeaderCount?: number; echoMaxHeadersCount?: number } = {}) {
  const { echoMaxHeadersCount, ...activatorOptions } = options;
  const h = await harness({ echo: {}, other: {} }, activatorOptions);
  open.push(h);
  const echo = await recordingApp('echo', echoMaxHeadersCount === undefined ? {} : { maxHeadersCount: echoMaxHeadersCount });
  const other = await recordingApp('other');
  await Promise.all([h.endpoints.set('echo', [endpoint('e', echo.address)]), h.endpoints.set('other', [endpoint('o', other.address)])]);
  return { h, echo, other };
}

/** Whether socket closes within waitMs: a bound on waiting for the close, not a wait for something to change. */
function closedWithin(socket: Socket, waitMs: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('close', onClose);
      resolve(false);
    }, waitMs);
    const onClose = () => {
      clearTimeout(timer);
      resolve(true);
    };
    socket.once('close', onClose);
  });
}

/** Writes text on a new connection and collects what comes back until the activator closes it (or waitMs passes). */
async function exchange(port: number, text: string, waitMs = 5000): Promise<{ text: string; closed: boolean }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  socket.write(text);
  const closed = await closedWithin(socket, waitMs);
  socket.destroy();
  return { text: received, closed };
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0);
}

function header(answer: string, name: string): string | undefined {
  const head = answer.split('\r\n\r\n', 1)[0] ?? '';
  return new RegExp(`^${name}: (.*)$`, 'im').exec(head)?.[1];
}

/** The answer has this status and x-dormant-error code, and (when given) a body that matches message. */
function assertError(answer: string, status: number, code: string, message?: RegExp): void {
  assert.equal(statusOf(answer), status, answer);
  assert.equal(header(answer, 'x-dormant-error'), code);
  if (message) assert.match(answer, message);
}

/** Other apps keep serving after the bad input. */
async function stillServing(h: Harness): Promise<void> {
  const answer = await call(h.port, 'other.localhost', '/ok');
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'other GET /ok');
}

describe('activator request targets (RFC 9112 3.2)', eventWaitBound, () => {
  it('an absolute-form target is routed by its authority and sent upstream in origin form, with that authority as Host', async () => {
    const { h, echo } = await setup();
    const answer = await exchange(h.port, 'GET http://echo.localhost/x?y=1 HTTP/1.1\r\nhost: other.localhost\r\nconnection: close\r\n\r\n');
    assert.equal(statusOf(answer.text), 200, answer.text);
    assert.match(answer.text, /\r\n\r\n(?:\w+\r\n)?echo GET \/x\?y=1\r\n/);
    assert.equal(echo.seen.length, 1);
    assert.equal(echo.seen[0]?.url, '/x?y=1', 'never the absolute URL as the path');
    assert.equal(echo.seen[0]?.headers.host, 'echo.localhost', 'Host replaced by the authority');
    assert.equal(echo.seen[0]?.headers['x-forwarded-host'], 'echo.localhost');
    await stillServing(h);
  });

  it('an absolute-form target for an unknown authority gets 404, not the Host header app', async () => {
    const { h, echo } = await setup();
    const answer = await exchange(h.port, 'GET http://nowhere.example/ HTTP/1.1\r\nhost: echo.localhost\r\nconnection: close\r\n\r\n');
    assertError(answer.text, 404, 'ACTIVATOR_UNKNOWN_HOST', /No app is served at nowhere\.example/);
    assert.equal(echo.seen.length, 0);
    await stillServing(h);
  });

  it('the http scheme is case-insensitive, and an empty path is /', async () => {
    const { h, echo } = await setup();
    const answer = await exchange(h.port, 'GET HTTP://ECHO.localhost HTTP/1.1\r\nhost: echo.localhost\r\nconnection: close\r\n\r\n');
    assert.equal(statusOf(answer.text), 200, answer.text);
    assert.equal(echo.seen[0]?.url, '/');
    assert.equal(echo.seen[0]?.headers.host, 'ECHO.localhost');
  });

  for (const target of ['ws://echo.localhost/', 'ftp://echo.localhost/x', 'https://echo.localhost/', 'http://user@echo.localhost/', 'http:///x', 'http://echo.localhost:123456/']) {
    it(`the target ${target} gets 400 ACTIVATOR_BAD_TARGET and reaches no app`, async () => {
      const { h, echo } = await setup();
      const answer = await exchange(h.port, `GET ${target} HTTP/1.1\r\nhost: echo.localhost\r\nconnection: close\r\n\r\n`);
      assertError(answer.text, 400, 'ACTIVATOR_BAD_TARGET', /send a path \(GET \/page\), an http:\/\/ URL, or OPTIONS \*/);
      assert.equal(echo.seen.length, 0);
      await stillServing(h);
    });
  }

  it('OPTIONS * is forwarded to the app as OPTIONS *, and its answer relayed', async () => {
    const { h, echo } = await setup();
    const answer = await exchange(h.port, 'OPTIONS * HTTP/1.1\r\nhost: echo.localhost\r\nconnection: close\r\n\r\n');
    assert.equal(statusOf(answer.text), 200, answer.text);
    assert.equal(header(answer.text, 'allow'), 'GET, OPTIONS', "the app's own Allow");
    assert.match(answer.text, /\r\n\r\n(?:\w+\r\n)?echo OPTIONS \*\r\n/);
    assert.equal(echo.seen[0]?.method, 'OPTIONS');
    assert.equal(echo.seen[0]?.url, '*');
    assert.equal(echo.seen[0]?.headers['x-forwarded-for'], '127.0.0.1');
    await stillServing(h);
  });

  it('OPTIONS with an absolute-form target and an empty path is forwarded as OPTIONS * (RFC 9112 3.2.4)', async () => {
    const { h, echo } = await setup();
    const answer = await exchange(h.port, 'OPTIONS http://echo.localhost HTTP/1.1\r\nhost: echo.localhost\r\nconnection: close\r\n\r\n');
    assert.equal(statusOf(answer.text), 200, answer.text);
    assert.equal(echo.seen[0]?.url, '*');
  });

  it('CONNECT gets 400 ACTIVATOR_BAD_TARGET, not a silently closed connection', async () => {
    const { h, echo } = await setup();
    const answer = await exchange(h.port, 'CONNECT echo.localhost:80 HTTP/1.1\r\nhost: echo.localhost:80\r\n\r\n');
    assertError(answer.text, 400, 'ACTIVATOR_BAD_TARGET');
    assert.equal(echo.seen.length, 0);
    await stillServing(h);
  });

  it('an asterisk target on another method gets 400', async () => {
    const { h, echo } = await setup();
    const answer = await exchange(h.port, 'GET * HTTP/1.1\r\nhost: echo.localhost\r\nconnection: close\r\n\r\n');
    assertError(answer.text, 400, 'ACTIVATOR_BAD_TARGET');
    assert.equal(echo.seen.length, 0);
  });
});

describe('activator Host checks', eventWaitBound, () => {
  for (const host of ['echo.localhost:1",for=6.6.6.6;host="x', 'echo.localhost:80x', 'echo.localhost/x', 'user@echo.localhost', 'echo.localhost,other.localhost', 'echo.localhost:1:2']) {
    it(`the Host ${host} gets 400 ACTIVATOR_BAD_HOST and reaches no app`, async () => {
      const { h, echo } = await setup();
      const answer = await exchange(h.port, `GET / HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      assertError(answer.text, 400, 'ACTIVATOR_BAD_HOST', /is not a host name with an optional port/);
      assert.equal(echo.seen.length, 0);
      await stillServing(h);
    });
  }

  it('a request with two Host lines gets 400 ACTIVATOR_BAD_HOST, not 502', async () => {
    const { h, echo, other } = await setup();
    const answer = await exchange(h.port, 'GET / HTTP/1.1\r\nhost: echo.localhost\r\nHost: other.localhost\r\nconnection: close\r\n\r\n');
    assertError(answer.text, 400, 'ACTIVATOR_BAD_HOST', /more than one Host header/);
    assert.equal(echo.seen.length + other.seen.length, 0);
    await stillServing(h);
  });

  it('a bad Host on an Upgrade request gets 400 too', async () => {
    const { h, echo } = await setup();
    const answer = await exchange(h.port, 'GET / HTTP/1.1\r\nhost: echo.localhost:1",for=6.6.6.6;host="x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
    assertError(answer.text, 400, 'ACTIVATOR_BAD_HOST');
    assert.equal(echo.seen.length, 0);
  });

  it('IPv6 literals and ports are hosts', async () => {
    const { h } = await setup();
    for (const host of ['[::1]', `[::1]:${h.port}`, `localhost:${h.port}`]) {
      const answer = await exchange(h.port, `GET / HTTP/1.1\r\nhost: ${host}\r\naccept: application/json\r\nconnection: close\r\n\r\n`);
      assert.equal(statusOf(answer.text), 200, `${host}: ${answer.text}`);
    }
  });
});

describe('activator header count', eventWaitBound, () => {
  it('a request with 1,100 small headers gets 431 ACTIVATOR_TOO_MANY_HEADERS and reaches no app', async () => {
    const { h, echo } = await setup();
    const many = Array.from({ length: 1100 }, (_, i) => `x-h${i}: 1\r\n`).join('');
    const answer = await exchange(h.port, `GET / HTTP/1.1\r\nhost: echo.localhost\r\n${many}connection: close\r\n\r\n`);
    assertError(answer.text, 431, 'ACTIVATOR_TOO_MANY_HEADERS', /more than 100 header lines.*--max-header-count/s);
    assert.equal(echo.seen.length, 0);
    await stillServing(h);
  });

  it('the limit is the activator option: 20 lines pass, 21 do not', async () => {
    const { h, echo } = await setup({ maxHeaderCount: 20 });
    const lines = (n: number) => Array.from({ length: n - 2 }, (_, i) => `x-h${i}: 1\r\n`).join('');
    const fits = await exchange(h.port, `GET / HTTP/1.1\r\nhost: echo.localhost\r\n${lines(20)}connection: close\r\n\r\n`);
    assert.equal(statusOf(fits.text), 200, fits.text);
    const over = await exchange(h.port, `GET / HTTP/1.1\r\nhost: echo.localhost\r\n${lines(21)}connection: close\r\n\r\n`);
    assert.equal(statusOf(over.text), 431, over.text);
    assert.match(over.text, /more than 20 header lines/);
    assert.equal(echo.seen.length, 1);
  });

  it("the activator's forwarding headers come first, so an app that keeps only its first headers still gets them", async () => {
    const { h, echo } = await setup({ echoMaxHeadersCount: 30 });
    const many = Array.from({ length: 60 }, (_, i) => `x-h${i}: 1\r\n`).join('');
    const answer = await exchange(h.port, `GET / HTTP/1.1\r\nhost: echo.localhost\r\nx-forwarded-for: 6.6.6.6\r\n${many}connection: close\r\n\r\n`);
    assert.equal(statusOf(answer.text), 200, answer.text);
    const seen = echo.seen[0]?.headers ?? {};
    assert.equal(seen['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'echo.localhost');
    assert.equal(seen.forwarded, 'for=127.0.0.1;host="echo.localhost";proto=http');
    assert.equal(seen.host, 'echo.localhost');
  });
});

describe('activator upgrades', eventWaitBound, () => {
  it('an Upgrade the app does not accept is answered and the connection closed: later bytes never reach the app', async () => {
    const { h, echo } = await setup();
    const smuggled = 'GET /second HTTP/1.1\r\nhost: echo.localhost\r\nx-forwarded-for: 6.6.6.6\r\n\r\n';
    const answer = await exchange(h.port, `GET /first HTTP/1.1\r\nhost: echo.localhost\r\nconnection: upgrade\r\nupgrade: foo\r\n\r\n${smuggled}`);
    assert.equal(answer.closed, true, 'the activator closes the connection after the answer');
    assert.equal(statusOf(answer.text), 200, answer.text);
    assert.match(answer.text, /\r\n\r\necho GET \/first$/, 'exactly the first answer, nothing after it');
    assert.equal(header(answer.text, 'connection'), 'close');
    assert.deepEqual(echo.seen.map((s) => s.url), ['/first'], 'the second request never reached the app');
    assert.equal(echo.seen[0]?.headers['x-forwarded-for'], '127.0.0.1');
    await stillServing(h);
  });

  it("a 101 from the app joins the sockets: bytes sent after the handshake reach the app's protocol", async () => {
    const h = await harness({ ws: {} });
    open.push(h);
    const r = await replica((_req, res) => res.end('plain'));
    servers.push(r.server);
    r.server.on('upgrade', (_req, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
      socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk])));
    });
    await h.endpoints.set('ws', [endpoint('w', r.address)]);
    const socket = connect(h.port, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.write('GET /chat HTTP/1.1\r\nhost: ws.localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\nhello');
    await dataUntil(socket, () => received.includes('echo:hello'));
    assert.match(received, /^HTTP\/1\.1 101 Switching Protocols\r\n[\s\S]*\r\n\r\necho:hello$/, 'bytes that came with the handshake are delivered once the app switched');
    socket.write('again');
    await dataUntil(socket, () => received.includes('echo:again'));
    assert.match(received, /echo:again/);
    socket.destroy();
  });

  it('an Upgrade request with a body gets 400 and reaches no app', async () => {
    const { h, echo } = await setup();
    const answer = await exchange(h.port, 'POST / HTTP/1.1\r\nhost: echo.localhost\r\nconnection: upgrade\r\nupgrade: foo\r\ncontent-length: 5\r\n\r\nhello');
    assertError(answer.text, 400, 'ACTIVATOR_BAD_UPGRADE');
    assert.equal(echo.seen.length, 0);
  });
});

describe('activator parse errors and timeouts', eventWaitBound, () => {
  it('garbage after a request whose streamed answer is under way cuts that connection, and writes no 400 into the stream', async () => {
    const h = await harness({ sse: {}, other: {} });
    open.push(h);
    const r = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      // The stream stays open on purpose, so that the garbage below arrives while its answer is under way; it ends later, to leave nothing behind.
      setTimeout(() => res.end('data: last\n\n'), 2000);
    });
    servers.push(r.server);
    const other = await recordingApp('other');
    await Promise.all([h.endpoints.set('sse', [endpoint('s', r.address)]), h.endpoints.set('other', [endpoint('o', other.address)])]);
    const socket = connect(h.port, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.write('GET /events HTTP/1.1\r\nhost: sse.localhost\r\n\r\n');
    await dataUntil(socket, () => received.includes('data: first'));
    assert.match(received, /data: first/);
    socket.write('NOT HTTP AT ALL\r\n\r\n');
    const closed = await closedWithin(socket, 5000);
    assert.equal(closed, true, 'the connection is cut');
    assert.doesNotMatch(received, /HTTP\/1\.1 400/, `no second status line inside the stream:\n${received}`);
    await stillServing(h);
  });

  it('garbage on a fresh connection gets 400 ACTIVATOR_BAD_REQUEST', async () => {
    const { h } = await setup();
    const answer = await exchange(h.port, 'NOT HTTP AT ALL\r\n\r\n');
    assertError(answer.text, 400, 'ACTIVATOR_BAD_REQUEST');
    await stillServing(h);
  });

  it('headers that do not finish within the headers timeout get 408 ACTIVATOR_HEADERS_TIMEOUT', async () => {
    const { h, echo } = await setup({ headersTimeoutMs: 500 });
    const started = performance.now();
    const answer = await exchange(h.port, 'GET / HTTP/1.1\r\nhost: echo.localhost\r\n', 10_000);
    const tookMs = performance.now() - started;
    assert.equal(answer.closed, true);
    assert.ok(tookMs >= 450, `answered after ${tookMs.toFixed(0)} ms: not before the headers timeout of 500 ms`);
    assertError(answer.text, 408, 'ACTIVATOR_HEADERS_TIMEOUT');
    assert.equal(echo.seen.length, 0);
    await stillServing(h);
  });
});
