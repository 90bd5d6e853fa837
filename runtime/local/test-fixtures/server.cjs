// A small HTTP app for the runtime's tests; behaviour is chosen by environment variables.
const http = require('node:http');
const { spawn } = require('node:child_process');

const env = process.env;
console.log(`starting ${env.DORMANT_REPLICA} version=${env.VERSION}`);
if (env.CRASH === '1') {
  console.error('boom: DATABASE_URL is not set');
  process.exit(1);
}
if (env.FORK_CHILD === '1') {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  console.log(`grandchild ${child.pid}`);
}
const bootMs = Number(env.BOOT_MS ?? 0);
const unhealthyMs = Number(env.UNHEALTHY_MS ?? 0);
const started = Date.now();

const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://app');
  if (url.pathname === '/healthz') {
    const healthy = Date.now() - started >= unhealthyMs;
    response.writeHead(healthy ? 200 : 503).end(healthy ? 'ok' : 'warming up');
    return;
  }
  if (url.pathname === '/env') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...env, cwd: process.cwd() }));
    return;
  }
  const delay = url.pathname === '/slow' ? Number(url.searchParams.get('ms') ?? 1000) : 0;
  setTimeout(() => response.writeHead(200).end(`version=${env.VERSION} replica=${env.DORMANT_REPLICA}`), delay);
});
process.on('SIGTERM', () => {
  console.log('SIGTERM: closing');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
setTimeout(
  () =>
    server.listen(Number(env.PORT), '127.0.0.1', () => {
      // For a test that starts it by hand and waits for it to listen.
      if (env.ANNOUNCE_LISTENING === '1') console.log('listening');
    }),
  bootMs,
);
