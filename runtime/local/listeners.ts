/**
 * Which TCP ports a user's sockets listen on, from the kernel's tables (/proc/net/tcp and
 * tcp6): a replica runs as its app's own user, so the ports that user listens on and that
 * no replica was given are where an app that ignores $PORT listens. Pure.
 */

/** The ports listened on by uid in one /proc/net/tcp or tcp6 text. */
export function listeningPorts(table: string, uid: number): number[] {
  const ports: number[] = [];
  for (const line of table.split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== '0A' || Number(fields[7]) !== uid) continue;
    const port = Number.parseInt(fields[1]?.split(':')[1] ?? '', 16);
    if (Number.isInteger(port) && port > 0 && !ports.includes(port)) ports.push(port);
  }
  return ports;
}

/** The ports among listened that no replica of the app was given: where it listens instead of $PORT. */
export function strayPorts(listened: readonly number[], given: ReadonlySet<number>): number[] {
  return listened.filter((port) => !given.has(port));
}
