// Every HTTP server Dormant runs turns an error thrown while answering into an error answer
// and a log line; the process, and every app it serves, keeps running. The faults are
// injected through the narrow interfaces each server is given (an endpoint source, a stats
// receiver, a trace callback), because no request can make today's handlers throw on
// purpose: that is what the fuzz test (http-fuzz.test.ts) looks for.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Activator } from '../activator/index.js';
import { call, endpoint, ManualEndpoints, RecordingSink, replica } from '../activator/test-support.js';
import { type LoadReport, serveStats } from '../autoscaler/index.js';
import { startAdminServer } from '../cli/admin-server.js';
import { apiVersion } from '../crds/index.js';
import { LocalStore } from '../runtime/index.js';

/** A pino logger whose lines the test reads. */
function capturedLog(): { log: pino.Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { log, lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const portOf = (server: Server) => (server.address() as { port: number }).port;
const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** The runtime stand-in of the fault: asking whether "broken" is deployed throws. */
class ThrowingEndpoints extends ManualEndpoints {
  override deployed(app: string): boolean {
    if (app === 'broken') throw new TypeError('injected: the runtime failed to say whether broken is deployed');
    return super.deployed(app);
  }
}

describe('the activator', () => {
  it('answers a request whose handling throws with 500 HTTP_HANDLER_FAILED and a log line; other apps keep serving', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-guard-'));
    const store = await LocalStore.open({ stateDir });
    for (const name of ['broken', 'echo']) await store.create({ apiVersion, kind: 'App', metadata: { name }, spec: {} });
    const endpoints = new ThrowingEndpoints();
    const app = await replica((req, res) => res.end(`echo ${req.url}`));
    endpoints.set('echo', [endpoint('e1', app.address)]);
    const { log, lines } = capturedLog();
    const activator = new Activator({ store, endpoints, stats: new RecordingSink(), log, registry: new Registry(), domain: 'localhost', port: 0 });
    const port = await activator.start();
    after(async () => {
      await activator.close();
      await closeServer(app.server);
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    });

    const failed = await call(port, 'broken.localhost', '/x');
    assert.equal(failed.status, 500);
    assert.equal(failed.headers['x-dormant-error'], 'HTTP_HANDLER_FAILED');
    assert.match(failed.body, /^error \[HTTP_HANDLER_FAILED\]: Dormant's activator failed while answering this request; it logged the failure and keeps running/);
    const logged = lines().find((line) => line.msg === 'request handler failed');
    assert.ok(logged, 'a log line');
    assert.equal(logged.component, 'activator');
    assert.equal(logged.url, '/x');
    assert.match(String((logged.err as { message?: string }).message), /injected/);

    const served = await call(port, 'echo.localhost', '/after');
    assert.equal(served.status, 200);
    assert.equal(served.body, 'echo /after');
  });
});

describe("the autoscaler's stats server", () => {
  it('answers a malformed percent-escape in /poke/APP with 400, a receiver that throws with 500 and a log line, and keeps taking reports', async () => {
    const reports: LoadReport[] = [];
    const pokes: string[] = [];
    const rounds: LoadReport[][] = [];
    const receiver = {
      round: (stats: readonly LoadReport[]) => rounds.push([...stats]),
      report: (stats: readonly LoadReport[]) => {
        if (stats.some((s) => s.app === 'boom')) throw new RangeError('injected: the scaling loop failed on boom');
        reports.push(...stats);
      },
      poke: (app: string) => pokes.push(app),
    };
    const { log, lines } = capturedLog();
    const server = await serveStats({ receiver, host: '127.0.0.1', port: 0, log });
    after(() => closeServer(server));
    const port = portOf(server);

    const badPoke = await call(port, '127.0.0.1', '/poke/%E0%A4%A', { method: 'POST' });
    assert.equal(badPoke.status, 400);
    assert.match(badPoke.body, /not valid percent-encoding/);

    const report = (app: string) => JSON.stringify([{ app, averageConcurrency: 1, requests: 2, windowMs: 1000 }]);
    const failed = await call(port, '127.0.0.1', '/stats', { method: 'POST', body: report('boom'), headers: { 'content-type': 'application/json' } });
    assert.equal(failed.status, 500);
    assert.equal(failed.headers['x-dormant-error'], 'HTTP_HANDLER_FAILED');
    assert.match(failed.body, /Dormant's autoscaler stats server failed while answering this request/);
    const logged = lines().find((line) => line.msg === 'request handler failed');
    assert.equal(logged?.url, '/stats');

    const ok = await call(port, '127.0.0.1', '/stats', { method: 'POST', body: report('fine'), headers: { 'content-type': 'application/json' } });
    assert.equal(ok.status, 204);
    assert.deepEqual(reports.map((r) => r.app), ['fine']);
    // A round, empty ones too (every app idle), goes to the receiver's round.
    assert.equal((await call(port, '127.0.0.1', '/stats/round', { method: 'POST', body: '[]', headers: { 'content-type': 'application/json' } })).status, 204);
    assert.deepEqual(rounds, [[]]);
    assert.equal((await call(port, '127.0.0.1', '/poke/fine', { method: 'POST' })).status, 204);
    assert.deepEqual(pokes, ['fine']);
  });
});

describe("dormant up's metrics server", () => {
  it('answers an admin request whose handler throws with 500 HTTP_HANDLER_FAILED and a log line; /healthz keeps answering', async () => {
    const { log, lines } = capturedLog();
    const server = await startAdminServer({
      registry: new Registry(),
      host: '127.0.0.1',
      port: 0,
      ready: () => true,
      token: 'secret',
      tokenFile: '/nowhere/admin-token',
      trace: () => {
        throw new Error('injected: tracing failed');
      },
      log,
    });
    after(() => closeServer(server));
    const port = portOf(server);
    const failed = await call(port, '127.0.0.1', '/trace/hello', { headers: { authorization: 'Bearer secret' } });
    assert.equal(failed.status, 500);
    assert.equal(failed.headers['x-dormant-error'], 'HTTP_HANDLER_FAILED');
    assert.match(failed.body, /Dormant's metrics server failed while answering this request/);
    assert.equal(lines().find((line) => line.msg === 'request handler failed')?.url, '/trace/hello');
    assert.equal((await call(port, '127.0.0.1', '/healthz')).status, 200);
  });
});
