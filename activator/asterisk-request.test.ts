// OPTIONS * goes over a connection of its own (undici sends no asterisk-form target): it must
// still end when the replica never answers. A real server that accepts and stays silent.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { it } from 'node:test';
import type { Dispatcher } from 'undici';
import { dispatchAsterisk } from './asterisk-request.js';

it('an OPTIONS * to a replica that never answers fails after the idle timeout, as undici would', { timeout: 10_000 }, async (t) => {
  const sockets: Socket[] = [];
  let received = '';
  const silent = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const { port } = silent.address() as { port: number };
  const failure = await new Promise<Error & { code?: string }>((resolve, reject) => {
    const handler: Dispatcher.DispatchHandler = {
      onResponseStart: () => reject(new Error('a silent replica cannot answer')),
      onResponseError: (_controller, error) => resolve(error),
    };
    dispatchAsterisk(`127.0.0.1:${port}`, { method: 'OPTIONS', headers: ['host', 'app.localhost'], body: null }, handler, 300);
  });
  assert.equal(failure.code, 'UND_ERR_HEADERS_TIMEOUT');
  assert.match(received, /^OPTIONS \* HTTP\/1\.1\r\n/);
});
