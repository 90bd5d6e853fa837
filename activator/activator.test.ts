// The activator over real sockets: a real server, real upstream HTTP servers, real clients.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { arrivals, call, closeAfterAll, connectFailed, endpoint, eventWaitBound, type Harness, harness, replica } from './test-support.js';

const { harnesses: open, servers } = closeAfterAll();

async function setup(apps: Record<string, Record<string, unknown>>, options: { keepAliveTimeoutMs?: number } = {}): Promise<Harness> {
  const h = await harness(apps, options);
  open.push(h);
  return h;
}

async function echoReplica(name: string) {
  const r = await replica((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const delay = Number(url.searchParams.get('delay') ?? 0);
    // ?delay=N: the app is slow on purpose (a request that lasts, or requests that overlap); the tests assert on what that causes.
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain', connection: 'keep-alive', 'keep-alive': 'timeout=5', 'x-replica': name }).end(`${name} ${req.method} ${req.url} ${JSON.stringify(req.headers)}`), delay);
  });
  servers.push(r.server);
  return r;
}

/** An app that answers /slow only when the test calls finishSlow(), anything else at once. */
async function gatedReplica(name: string) {
  let finish = () => {};
  const r = await replica((req, res) => {
    const answer = () => res.writeHead(200, { 'x-replica': name }).end(name);
    if (req.url === '/slow') finish = answer;
    else answer();
  });
  servers.push(r.server);
  return { ...r, finishSlow: () => finish() };
}

describe('activator routing', eventWaitBound, () => {
  it('routes <app>.<domain> and spec.routes.hosts, forwards headers, strips hop-by-hop ones', async () => {
    const h = await setup({ hello: { routes: { hosts: ['shop.example.com'] } } });
    const r = await echoReplica('r1');
    await h.endpoints.set('hello', [endpoint('r1', r.address)]);
    for (const host of ['hello.localhost', `hello.localhost:${h.port}`, 'shop.example.com']) {
      const answer = await call(h.port, host, '/path?q=1', { headers: { 'x-forwarded-for': '10.9.8.7', 'proxy-authorization': 'secret', te: 'trailers' } });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['x-replica'], 'r1');
      assert.equal(answer.headers['keep-alive'], undefined, 'hop-by-hop response header stripped');
      assert.equal(answer.headers['x-dormant-cold-start'], undefined, 'no wake-up, no cold-start header');
      const [, method, path, json = '{}'] = /^r1 (\S+) (\S+) (.*)$/.exec(answer.body) ?? [];
      assert.equal(method, 'GET');
      assert.equal(path, '/path?q=1');
      const seen = JSON.parse(json) as Record<string, string>;
      assert.equal(seen.host, host);
      assert.equal(seen['x-forwarded-for'], '10.9.8.7, 127.0.0.1');
      assert.equal(seen['x-forwarded-proto'], 'http');
      assert.equal(seen['x-forwarded-host'], host);
      assert.equal(seen.forwarded, `for=127.0.0.1;host="${host}";proto=http`);
      assert.equal(seen['proxy-authorization'], undefined);
      assert.equal(seen.te, undefined);
    }
  });

  it('an unknown host gets 404 naming the apps and how to deploy one', async () => {
    const h = await setup({ alpha: {}, beta: {} });
    const answer = await call(h.port, 'gamma.localhost');
    assert.equal(answer.status, 404);
    assert.equal(answer.headers['x-dormant-error'], 'ACTIVATOR_UNKNOWN_HOST');
    assert.match(answer.body, /No app is served at gamma\.localhost\.\nApps: alpha\.localhost, beta\.localhost\.\nDeploy one with: dormant apps create NAME/);
    assert.equal(h.sink.pokes.length, 0);
  });

  it('the root lists apps as HTML, or JSON when asked', async () => {
    const h = await setup({ alpha: {} });
    const html = await call(h.port, `localhost:${h.port}`);
    assert.match(String(html.headers['content-type']), /text\/html/);
    assert.match(html.body, new RegExp(`<a href="http://alpha\\.localhost:${h.port}/">alpha</a>`));
    const json = await call(h.port, 'localhost', '/', { headers: { accept: 'application/json' } });
    assert.deepEqual(JSON.parse(json.body), { apps: [{ name: 'alpha', url: `http://alpha.localhost:${h.port}/` }] });
  });

  it('follows the store: an app created later is routed without a restart', async () => {
    const h = await setup({});
    const r = await echoReplica('late');
    // Applied once the activator learns of the app from the store's watch.
    const routed = h.endpoints.set('late', [endpoint('late-1', r.address)]);
    assert.equal((await call(h.port, 'late.localhost')).status, 404);
    await h.store.create({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: 'late' }, spec: {} });
    await routed;
    assert.equal((await call(h.port, 'late.localhost')).status, 200);
  });

  it('an oversized header is refused with 431', async () => {
    const h = await setup({ hello: {} });
    const socket = connect(h.port, '127.0.0.1');
    socket.write(`GET / HTTP/1.1\r\nhost: hello.localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    assert.match(chunk.toString(), /^HTTP\/1\.1 431 /);
    socket.destroy();
  });
});

describe('activator request traces', eventWaitBound, () => {
  it('records arrival, duration and status of each request to a traced app, until stopped', async () => {
    const h = await setup({ hello: {}, other: {} });
    const r = await echoReplica('r1');
    await Promise.all([h.endpoints.set('hello', [endpoint('r1', r.address)]), h.endpoints.set('other', [endpoint('r1', r.address)])]);
    const traced: [number, number, number][] = [];
    const stop = h.activator.traceRequests('hello', (arrivedMs, durationMs, status) => traced.push([arrivedMs, durationMs, status]));
    await call(h.port, 'hello.localhost', '/?delay=50');
    await call(h.port, 'other.localhost', '/');
    stop();
    await call(h.port, 'hello.localhost', '/');
    assert.equal(traced.length, 1, 'only the traced app, only while traced');
    const [arrivedMs = -1, durationMs = -1, status] = traced[0] ?? [];
    assert.ok(arrivedMs >= 0 && arrivedMs < 1000, `arrived ${arrivedMs} ms after tracing began`);
    assert.ok(durationMs >= 45 && durationMs < 1000, `took ${durationMs} ms`);
    assert.equal(status, 200);
  });
});

describe('activator hold at zero', eventWaitBound, () => {
  it('holds 1,000 concurrent requests while the app sleeps, pokes once, and answers all when a replica is ready', async (t: TestContext) => {
    const h = await setup({ sleepy: {} });
    const r = await echoReplica('woken');
    const before = process.memoryUsage().rss;
    const started = performance.now();
    const arrived = arrivals(h.port, 1000);
    const answers = Promise.all(Array.from({ length: 1000 }, () => call(h.port, 'sleepy.localhost')));
    await arrived;
    // The held gauge is set by the tick; a round is a tick that has run since they arrived.
    await h.sink.nextRound();
    assert.equal(await heldNow(h), 1000);
    const during = process.memoryUsage().rss;
    // Poked at the first request, then once a second while they wait: never once per request.
    const seconds = (performance.now() - started) / 1000;
    assert.equal(h.sink.pokes[0], 'sleepy');
    assert.ok(h.sink.pokes.length <= Math.ceil(seconds) + 1, `${h.sink.pokes.length} pokes in ${seconds.toFixed(1)} s`);
    assert.equal(h.sink.reports[0]?.[0]?.app, 'sleepy', 'the first request for a sleeping app is reported at once');
    h.endpoints.set('sleepy', [endpoint('w1', r.address)]);
    const results = await answers;
    assert.equal(results.filter((a) => a.status === 200).length, 1000);
    const cold = results.map((a) => Number(a.headers['x-dormant-cold-start']));
    assert.ok(cold.every((ms) => Number.isFinite(ms) && ms >= 0), 'each answer says how long it waited');
    t.diagnostic(`rss before ${(before / 2 ** 20).toFixed(0)} MiB, holding 1000: ${(during / 2 ** 20).toFixed(0)} MiB, after: ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
    const metrics = await h.registry.metrics();
    assert.match(metrics, /dormant_activator_cold_start_seconds_count\{app="sleepy"\} 1000/);
  });

  it('re-pokes while requests wait, so a lost poke does not strand them', async () => {
    const h = await setup({ deaf: { autoscale: { requestTimeout: '3s' } } });
    const waiting = call(h.port, 'deaf.localhost');
    const outcome = await Promise.race([h.sink.poked(2).then(() => 'poked again'), waiting.then((a) => `answered ${a.status} before a second poke`)]);
    assert.equal(outcome, 'poked again');
    const [first = 0, second = 0] = h.sink.pokedAtMs;
    assert.ok(second - first >= 950, `re-poked after ${(second - first).toFixed(0)} ms: once a second, not on every tick`);
    assert.equal((await waiting).status, 504);
  });

  it('an app with nothing deployed answers 503 at once, saying to git push, and is not woken', async () => {
    const h = await setup({ empty: {} });
    h.endpoints.undeployed.add('empty');
    const answer = await call(h.port, 'empty.localhost');
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['x-dormant-error'], 'ACTIVATOR_NOT_DEPLOYED');
    assert.match(answer.body, /^empty has nothing deployed yet. Deploy it with git push/);
    assert.deepEqual(h.sink.pokes, []);
  });

  it('a full queue answers 503 with Retry-After at once', async () => {
    const h = await setup({ small: { autoscale: { queueDepth: 2 } } });
    const arrived = arrivals(h.port, 2);
    const held = [call(h.port, 'small.localhost'), call(h.port, 'small.localhost')];
    await arrived;
    const rejected = await call(h.port, 'small.localhost');
    assert.equal(rejected.status, 503);
    assert.equal(rejected.headers['retry-after'], '1');
    assert.match(rejected.body, /small is busy: 2 requests are already waiting for it/);
    const r = await echoReplica('s');
    h.endpoints.set('small', [endpoint('s1', r.address)]);
    assert.deepEqual((await Promise.all(held)).map((a) => a.status), [200, 200]);
  });

  it('a request held past requestTimeout gets 504 naming the app', async () => {
    const h = await setup({ slowpoke: { autoscale: { requestTimeout: '1s' } } });
    const started = performance.now();
    const answer = await call(h.port, 'slowpoke.localhost');
    assert.equal(answer.status, 504);
    assert.match(answer.body, /slowpoke did not become ready within 1 s, so this request was not sent to it/);
    assert.ok(performance.now() - started >= 950);
  });

  it('a client that leaves while held makes no upstream request', async () => {
    // One at a time: had the request that left been sent on, the later one would wait for it.
    const h = await setup({ quitter: { autoscale: { containerConcurrency: 1 } } });
    const left = new Promise<number>((resolve) => h.activator.traceRequests('quitter', (_arrivedMs, _durationMs, status) => resolve(status)));
    const arrived = arrivals(h.port, 1);
    const abort = new AbortController();
    const leaving = call(h.port, 'quitter.localhost', '/', { signal: abort.signal }).catch(() => 'aborted');
    await arrived;
    abort.abort();
    assert.equal(await leaving, 'aborted');
    assert.equal(await left, 499, 'the activator saw the client leave');
    const r = await echoReplica('q');
    await h.endpoints.set('quitter', [endpoint('q1', r.address)]);
    assert.equal((await call(h.port, 'quitter.localhost', '/', { signal: AbortSignal.timeout(10_000) })).status, 200);
    assert.equal(r.requests(), 1, 'only the later request reached the app');
  });
});

/** Requests held across all apps, read from /metrics' source. */
async function heldNow(h: Harness): Promise<number> {
  const metric = await h.registry.getSingleMetric('dormant_activator_held_requests')?.get();
  // The gauge updates on the 100 ms tick; queue sizes are what the tick saw.
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

describe('activator balancing and replicas', eventWaitBound, () => {
  it('containerConcurrency 1 sends one request at a time to each replica', async () => {
    const h = await setup({ serial: { autoscale: { containerConcurrency: 1 } } });
    let inFlight = 0;
    let peak = 0;
    const r = await replica((_req, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      // Slow on purpose, so that requests would overlap without the limit; the test asserts the peak.
      setTimeout(() => {
        inFlight--;
        res.end('ok');
      }, 30);
    });
    servers.push(r.server);
    await h.endpoints.set('serial', [endpoint('only', r.address)]);
    const answers = await Promise.all(Array.from({ length: 8 }, () => call(h.port, 'serial.localhost')));
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
    assert.equal(peak, 1);
  });

  it('spreads load over ready replicas and skips those not ready', async () => {
    const h = await setup({ spread: {} });
    const [a, b, c] = [await echoReplica('a'), await echoReplica('b'), await echoReplica('c')];
    await h.endpoints.set('spread', [endpoint('a', a.address), endpoint('b', b.address), endpoint('c', c.address, { ready: false })]);
    await Promise.all(Array.from({ length: 60 }, () => call(h.port, 'spread.localhost', '/?delay=5')));
    assert.ok(a.requests() > 10 && b.requests() > 10, `a ${a.requests()}, b ${b.requests()}`);
    assert.equal(c.requests(), 0);
  });

  it('a replica that refuses connections is skipped: the request goes to another', async () => {
    const h = await setup({ flaky: {} });
    const good = await echoReplica('good');
    const dead = await echoReplica('dead');
    dead.server.close();
    await once(dead.server, 'close');
    await h.endpoints.set('flaky', [endpoint('dead', dead.address), endpoint('good', good.address)]);
    const answers = await Promise.all(Array.from({ length: 20 }, () => call(h.port, 'flaky.localhost')));
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
    assert.ok(answers.every((a) => a.headers['x-replica'] === 'good'));
  });

  it('a refused connection with no other replica waits for one instead of failing', async () => {
    const h = await setup({ phoenix: {} });
    const dead = await echoReplica('dead');
    dead.server.close();
    await once(dead.server, 'close');
    await h.endpoints.set('phoenix', [endpoint('dead', dead.address)]);
    const refused = connectFailed(dead.address);
    const waiting = call(h.port, 'phoenix.localhost');
    // The activator's connect to dead failed: the request is waiting for another replica.
    await refused;
    const fresh = await echoReplica('fresh');
    h.endpoints.set('phoenix', [endpoint('fresh', fresh.address)]);
    const answer = await waiting;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-replica'], 'fresh');
  });

  it('a reset of a reused connection on the only replica is retried at once, not held', async () => {
    const h = await setup({ resetting: { autoscale: { requestTimeout: '5s' } } });
    let served = 0;
    const r = await replica((req, res) => {
      served++;
      if (served === 2) {
        req.socket.destroy(); // the app drops a kept-alive connection as it is reused
        return;
      }
      res.end('fine');
    });
    servers.push(r.server);
    await h.endpoints.set('resetting', [endpoint('only', r.address)]);
    assert.equal((await call(h.port, 'resetting.localhost')).status, 200);
    const started = performance.now();
    const second = await call(h.port, 'resetting.localhost');
    assert.equal(second.status, 200);
    assert.ok(performance.now() - started < 1000, 'answered without waiting out a timeout');
    assert.equal((await call(h.port, 'resetting.localhost')).status, 200, 'later requests are not stuck behind it');
  });

  it('Expect: 100-continue and 103 Early Hints pass through', async () => {
    const h = await setup({ hints: {} });
    const r = await replica((req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(`got ${body}`));
    });
    servers.push(r.server);
    await h.endpoints.set('hints', [endpoint('e', r.address)]);
    const answer = await call(h.port, 'hints.localhost', '/', { method: 'POST', headers: { expect: '100-continue', 'content-length': '5' }, body: 'hello' });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'got hello');
  });

  it('a draining replica finishes its requests, gets no new ones, and is reported drained', async () => {
    const h = await setup({ drain: {} });
    const [old, next] = [await gatedReplica('old'), await echoReplica('new')];
    await h.endpoints.set('drain', [endpoint('old', old.address)]);
    const slowArrived = once(old.server, 'request');
    const slow = call(h.port, 'drain.localhost', '/slow');
    await slowArrived;
    await h.endpoints.set('drain', [endpoint('old', old.address, { ready: false, draining: true }), endpoint('new', next.address)]);
    const fresh = await Promise.all(Array.from({ length: 5 }, () => call(h.port, 'drain.localhost')));
    assert.ok(fresh.every((a) => a.headers['x-replica'] === 'new'));
    assert.deepEqual(h.endpoints.drainedCalls, [], 'not drained while a request is in flight');
    old.finishSlow();
    const answer = await slow;
    assert.equal(answer.headers['x-replica'], 'old');
    assert.equal(answer.status, 200);
    assert.deepEqual(h.endpoints.drainedCalls, ['drain/old']);
  });

  it('drain: answers what still arrives with Connection: close, finishes requests in flight, then stops listening', async () => {
    const h = await setup({ leaving: {} }, { keepAliveTimeoutMs: 300 });
    const r = await gatedReplica('r');
    await h.endpoints.set('leaving', [endpoint('r', r.address)]);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const slowAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const viaAgent = (path = '/', through = agent) =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: h.port, path, headers: { host: 'leaving.localhost' }, agent: through }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      assert.deepEqual(await viaAgent(), { status: 200, connection: 'keep-alive' });
      const slowArrived = once(r.server, 'request');
      const slow = viaAgent('/slow', slowAgent);
      await slowArrived;
      const started = performance.now();
      // Draining from here on: drain() turns answers to Connection: close before it returns its promise.
      const drained = h.activator.drain(5000);
      assert.deepEqual(await viaAgent(), { status: 200, connection: 'close' }, 'the kept-alive connection is answered and told to close');
      r.finishSlow();
      assert.deepEqual(await slow, { status: 200, connection: 'close' }, 'the request in flight when the drain began is answered, and told to close too');
      await drained;
      const tookMs = performance.now() - started;
      // The wait is the keep-alive timeout (300 ms) and half a second; the deadline is 5 s.
      assert.ok(tookMs >= 750 && tookMs < 2000, `waited out the keep-alive timeout, not the deadline (${tookMs.toFixed(0)} ms)`);
      await assert.rejects(call(h.port, 'leaving.localhost'), /ECONNREFUSED/, 'no longer listening');
    } finally {
      agent.destroy();
      slowAgent.destroy();
    }
  });

  it('a replica that stops draining takes requests again (the pod of a new revision, seen before that revision serves)', async () => {
    const h = await setup({ switching: {} });
    const [old, next] = [await echoReplica('old'), await echoReplica('new')];
    await h.endpoints.set('switching', [endpoint('old', old.address), endpoint('new', next.address, { draining: true })]);
    assert.equal((await call(h.port, 'switching.localhost')).headers['x-replica'], 'old');
    await h.endpoints.set('switching', [endpoint('old', old.address, { draining: true }), endpoint('new', next.address)]);
    const answers = await Promise.all(Array.from({ length: 5 }, () => call(h.port, 'switching.localhost', '/', { signal: AbortSignal.timeout(2000) })));
    assert.deepEqual(answers.map((a) => a.headers['x-replica']), ['new', 'new', 'new', 'new', 'new']);
  });

  it('an upstream that fails mid-response breaks the response, one that fails before gives 502', async () => {
    const h = await setup({ broken: {} });
    const r = await replica((req, res) => {
      if (req.url === '/reset') req.socket.destroy();
      else {
        res.writeHead(200);
        // Cut once the head and part of the body are on the wire.
        res.write('partial', () => req.socket.destroy());
      }
    });
    servers.push(r.server);
    await h.endpoints.set('broken', [endpoint('b', r.address)]);
    const failed = await call(h.port, 'broken.localhost', '/reset', { method: 'POST', body: 'x' });
    assert.equal(failed.status, 502);
    assert.match(failed.body, /broken failed to answer/);
    await assert.rejects(call(h.port, 'broken.localhost', '/midway'));
  });
});

describe('activator streaming', eventWaitBound, () => {
  it('passes a WebSocket upgrade through and echoes both ways', async () => {
    // One at a time: a plain request gets through only once the tunnel has given its place back.
    const h = await setup({ ws: { autoscale: { containerConcurrency: 1 } } });
    const r = await replica((_req, res) => res.end());
    servers.push(r.server);
    let appSide: Duplex | undefined;
    r.server.on('upgrade', (req, socket: Duplex) => {
      appSide = socket;
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-seen-host: ${req.headers.host}\r\n\r\n`);
      socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk])));
    });
    await h.endpoints.set('ws', [endpoint('w', r.address)]);
    const socket = connect(h.port, '127.0.0.1');
    socket.write('GET /chat HTTP/1.1\r\nhost: ws.localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    const [head] = (await once(socket, 'data')) as [Buffer];
    assert.match(head.toString(), /^HTTP\/1\.1 101 Switching Protocols/);
    assert.match(head.toString(), /x-seen-host: ws\.localhost/);
    socket.write('hello');
    const [echo] = (await once(socket, 'data')) as [Buffer];
    assert.equal(echo.toString(), 'echo:hello');
    assert.ok(appSide);
    const tunnelClosed = once(appSide, 'end');
    socket.destroy();
    // The activator gives the tunnel's place back, then closes its connection to the app.
    await tunnelClosed;
    const after = await call(h.port, 'ws.localhost', '/', { signal: AbortSignal.timeout(10_000) });
    assert.equal(after.status, 200);
  });

  it("delivers a Server-Sent Events stream's first event before the response ends", async () => {
    const h = await setup({ sse: {} });
    // The app ends its stream once the client has the first event, or after 10 s: had the
    // activator held the stream back until its end, the first event would come only after that.
    let ended = false;
    let endStream = () => {};
    const r = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      // A bound, so that a failing activator fails the test rather than hanging it; the assertion below says which came first.
      const fallback = setTimeout(() => endStream(), 10_000);
      endStream = () => {
        if (ended) return;
        ended = true;
        clearTimeout(fallback);
        res.end('data: last\n\n');
      };
    });
    servers.push(r.server);
    await h.endpoints.set('sse', [endpoint('e', r.address)]);
    const { endedAtFirst, text } = await new Promise<{ endedAtFirst: boolean | undefined; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: h.port, headers: { host: 'sse.localhost' } }, (res) => {
        let endedAtFirst: boolean | undefined;
        let text = '';
        res.on('data', (chunk: Buffer) => {
          if (endedAtFirst === undefined) {
            endedAtFirst = ended;
            endStream();
          }
          text += chunk.toString();
        });
        res.on('end', () => resolve({ endedAtFirst, text }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(text, 'data: first\n\ndata: last\n\n');
    assert.equal(endedAtFirst, false, 'the first event came while the app was still streaming');
  });

  it('streams a 100 MB upload and a 100 MB download with bounded memory', async (t: TestContext) => {
    const h = await setup({ bulk: {} });
    const size = 100 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const r = await replica((req, res) => {
      if (req.method === 'POST') {
        let received = 0;
        req.on('data', (c: Buffer) => (received += c.length));
        req.on('end', () => res.end(String(received)));
        return;
      }
      res.writeHead(200, { 'content-length': String(size) });
      const body = Readable.from(
        (function* () {
          for (let sent = 0; sent < size; sent += chunk.length) yield chunk;
        })(),
      );
      body.pipe(res);
    });
    servers.push(r.server);
    await h.endpoints.set('bulk', [endpoint('b', r.address)]);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    // Samples memory while the bodies stream: a measurement, not a wait.
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const uploaded = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: h.port, method: 'POST', headers: { host: 'bulk.localhost', 'content-length': String(size) } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      Readable.from(
        (function* () {
          for (let sent = 0; sent < size; sent += chunk.length) yield chunk;
        })(),
      ).pipe(req);
    });
    assert.equal(uploaded, String(size));
    const downloaded = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: h.port, headers: { host: 'bulk.localhost' } }, (res) => {
        let received = 0;
        res.on('data', (c: Buffer) => (received += c.length));
        res.on('end', () => resolve(received));
      });
      req.on('error', reject);
      req.end();
    });
    clearInterval(sampler);
    assert.equal(downloaded, size);
    const growth = (peak - before) / 2 ** 20;
    t.diagnostic(`rss grew by at most ${growth.toFixed(0)} MiB while 200 MB went through`);
    assert.ok(growth < 80, `memory grew by ${growth.toFixed(0)} MiB: the body was buffered`);
  });
});
