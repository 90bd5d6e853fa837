// Forwards TCP connections from one address to another: the test cluster's apiserver
// listens on loopback only, and pods reach it through the `kubernetes` Service, whose
// endpoint is the node's bridge address; this carries those connections to loopback.
// Usage: node tcp-forward.mjs LISTEN_HOST:PORT TARGET_HOST:PORT
import { connect, createServer } from 'node:net';

const split = (text) => {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at), port: Number(text.slice(at + 1)) };
};
const [listen, target] = process.argv.slice(2).map(split);
if (!listen?.port || !target?.port) {
  console.error('usage: node tcp-forward.mjs LISTEN_HOST:PORT TARGET_HOST:PORT');
  process.exit(2);
}
const server = createServer((client) => {
  const upstream = connect(target.port, target.host);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
server.listen(listen.port, listen.host, () => console.log(`forwarding ${listen.host}:${listen.port} to ${target.host}:${target.port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
