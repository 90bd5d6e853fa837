// The app the Runtime contract (runtime/runtime-contract.ts) runs: from a release folder
// locally, from an image on Kubernetes. Plain Node, no dependencies; behaviour by environment:
//   VERSION      what / answers as
//   BOOT_MS      waits this long before it listens
//   HOLD_READY=1 its /healthz answers 503 until something GETs /open
//   LISTEN_HOST  the address it listens on (all, when unset: a pod's IP)
// GET /            {"version","instance","startedAt","listenedAt"} (instance: one per process)
// GET /healthz     200, or 503 while held
// GET /refused?atLeast=N  answers once /healthz has answered 503 N times (a long poll)
// GET /open        lets /healthz answer 200
// GET /hold        answers only once something GETs /release (or 503 "stopping" on SIGTERM)
// GET /release     answers the held requests, then {"released": N}
// GET /crash       answers, then exits with code 3
const http = require('node:http');
const { randomUUID } = require('node:crypto');

const env = process.env;
const startedAt = Date.now();
const instance = randomUUID();
let listenedAt;
let readinessHeld = env.HOLD_READY === '1';
let refused = 0;
const refusalWaiters = new Set();
const held = new Set();

console.log(`starting ${instance} version=${env.VERSION}`);

const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://app');
  switch (url.pathname) {
    case '/healthz':
      if (!readinessHeld) return response.writeHead(200).end('ok');
      refused++;
      for (const wake of refusalWaiters) wake();
      return response.writeHead(503).end('held');
    case '/refused': {
      const atLeast = Number(url.searchParams.get('atLeast') ?? 1);
      const answer = () => {
        if (refused < atLeast) return;
        refusalWaiters.delete(answer);
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ refused }));
      };
      refusalWaiters.add(answer);
      request.on('close', () => refusalWaiters.delete(answer));
      return answer();
    }
    case '/open':
      readinessHeld = false;
      return response.writeHead(200).end('open');
    case '/hold':
      held.add(response);
      request.on('close', () => held.delete(response));
      return;
    case '/release': {
      const released = held.size;
      for (const waiting of held) waiting.writeHead(200).end('released');
      held.clear();
      return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ released }));
    }
    case '/crash':
      console.error('crashing on request');
      return response.writeHead(200).end('crashing', () => process.exit(3));
    default:
      return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: env.VERSION, instance, startedAt, listenedAt }));
  }
});

process.on('SIGTERM', () => {
  console.log('SIGTERM: closing');
  // What it holds ends now, so a test sees that the stop came while a request was in flight.
  for (const waiting of held) waiting.writeHead(503).end('stopping');
  held.clear();
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});

setTimeout(() => {
  // Taken before listen: no connection can be accepted before this time.
  listenedAt = Date.now();
  server.listen(Number(env.PORT ?? 8080), env.LISTEN_HOST || undefined);
}, Number(env.BOOT_MS ?? 0));
