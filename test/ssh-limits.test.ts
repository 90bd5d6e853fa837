// SSH login limits of a real `dormant up`, probed with raw TCP sockets and the real
// OpenSSH and git clients: LoginGraceTime, MaxStartups, MaxAuthTries.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, nodeApp, runProgram, sshKey, startDormant, WorkingCopy } from './git-support.js';

/** A raw connection to the SSH port, with what it received and when it closed. */
interface Probe {
  readonly socket: Socket;
  readonly openedMs: number;
  readonly received: () => string;
  readonly closed: Promise<number>;
  readonly isClosed: () => boolean;
}

async function probe(port: number): Promise<Probe> {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  let closedAt: number | undefined;
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      closedAt = performance.now();
      resolve(closedAt);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, openedMs: performance.now(), received: () => data, closed, isClosed: () => closedAt !== undefined };
}

describe('login limits (grace 2 s, MaxStartups 3, MaxAuthTries 2)', () => {
  let d: DormantUp;
  before(async () => {
    d = await startDormant(['--ssh-login-grace', '2s', '--ssh-max-startups', '3', '--ssh-max-auth-tries', '2']);
  });
  after(async () => {
    await d?.stop();
  });

  it('a connection that sends nothing is closed by the grace time', { timeout: 30_000 }, async () => {
    const silent = await probe(d.sshPort);
    const closedAt = await silent.closed;
    assert.ok(closedAt - silent.openedMs >= 1_900, `closed after ${closedAt - silent.openedMs} ms, before the grace time`);
    // The server speaks first (its version line); a client that never answered gets nothing more.
    assert.equal(silent.received(), 'SSH-2.0-dormant-gitd\r\n');
  });

  it('a connection that sends only its version line is closed by the grace time, saying why', { timeout: 30_000 }, async () => {
    const banner = await probe(d.sshPort);
    banner.socket.write('SSH-2.0-OpenSSH_9.2p1 probe\r\n');
    const closedAt = await banner.closed;
    assert.ok(closedAt - banner.openedMs >= 1_900, `closed after ${closedAt - banner.openedMs} ms, before the grace time`);
    assert.match(banner.received(), /^SSH-2\.0-dormant-gitd\r\n/);
    assert.match(banner.received(), /Login grace time exceeded: no login within 2 s \(--ssh-login-grace\)/);
  });

  it('beyond MaxStartups a new connection is told so and closed at once; the others still log in', { timeout: 30_000 }, async () => {
    const waiting = await Promise.all([probe(d.sshPort), probe(d.sshPort), probe(d.sshPort)]);
    const extra = await probe(d.sshPort);
    await extra.closed;
    assert.match(extra.received(), /^Exceeded MaxStartups: too many SSH connections are waiting to log in to Dormant; try again shortly\r\n$/);
    assert.equal(waiting.filter((p) => p.isClosed()).length, 0, 'the three waiting connections stay until their grace time');
    await Promise.all(waiting.map((p) => p.closed));
    // Once they are gone, a real push logs in and deploys.
    const copy = await WorkingCopy.create(d.work, 'after-startups', d.adminKey);
    await copy.commit(nodeApp('ok'));
    const pushed = await copy.push(d.remote('after-startups'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Deployed after-startups-00001/);
    const logs = d.logs();
    assert.match(logs, /"msg":"ssh connections closed before login"/);
  });

  it('after MaxAuthTries refused keys the connection is closed with a message; the right key still pushes', { timeout: 30_000 }, async () => {
    const keys = [await sshKey(d.work, 'stranger1'), await sshKey(d.work, 'stranger2'), await sshKey(d.work, 'stranger3')];
    const args = ['-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-p', String(d.sshPort)];
    const tried = await runProgram('ssh', [...keys.flatMap((k) => ['-i', k]), ...args, 'git@127.0.0.1', 'git-receive-pack', "'/tries'"]);
    assert.notEqual(tried.code, 0);
    assert.match(tried.stderr, /Too many authentication failures: Dormant refused 2 \(--ssh-max-auth-tries 2\); offer only the key Dormant knows/);
    // One unknown key is refused the ordinary way, and the admin key after it gets in.
    const copy = await WorkingCopy.create(d.work, 'tries', d.adminKey);
    await copy.commit(nodeApp('tries'));
    const pushed = await copy.push(d.remote('tries'));
    assert.equal(pushed.code, 0, pushed.stderr);
  });
});

describe('idle unauthenticated connections (MaxStartups 20: every connection beyond 20 waiting is refused)', () => {
  let d: DormantUp;
  const idle: Probe[] = [];
  before(async () => {
    // A hard cap instead of the default 10:30:100, so that a push that found no room would
    // fail every time rather than by chance (the random early drop is table-tested).
    d = await startDormant(['--ssh-max-startups', '20']);
  });
  after(async () => {
    for (const p of idle) p.socket.destroy();
    await d?.stop();
  });

  it('200 idle connections do not stop a real git push from deploying', { timeout: 120_000 }, async () => {
    for (let i = 0; i < 200; i++) {
      const p = await probe(d.sshPort);
      // Half say nothing, half send their version line and then nothing.
      if (i % 2 === 1) p.socket.write('SSH-2.0-idle\r\n');
      idle.push(p);
    }
    // Part of what is tested: longer than the 2 s after which an idle waiting connection may make room for a new one.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const open = idle.filter((p) => !p.isClosed());
    const dropped = idle.filter((p) => p.received().startsWith('Exceeded MaxStartups'));
    assert.equal(open.length, 20, 'the cap is full');
    assert.ok(dropped.length >= 150, `${dropped.length} connections beyond the cap were refused`);
    const copy = await WorkingCopy.create(d.work, 'crowded', d.adminKey);
    await copy.commit(nodeApp('crowded'));
    const pushed = await copy.push(d.remote('crowded'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Deployed crowded-00001/);
    const served = await d.get('crowded');
    assert.equal(served.body.trim(), 'crowded');
    // The push took the place of an idle connection.
    assert.equal(idle.filter((p) => !p.isClosed()).length, 19);
  });
});

describe('connections that trickle bytes and never log in (MaxStartups 20)', () => {
  let d: DormantUp;
  const tricklers: Probe[] = [];
  let trickle: NodeJS.Timeout | undefined;
  before(async () => {
    d = await startDormant(['--ssh-max-startups', '20']);
  });
  after(async () => {
    clearInterval(trickle);
    for (const p of tricklers) p.socket.destroy();
    await d?.stop();
  });

  it('20 connections sending a byte of their version line every 0.5 s do not keep a real git push out', { timeout: 120_000 }, async () => {
    for (let i = 0; i < 20; i++) {
      const p = await probe(d.sshPort);
      p.socket.write('SSH-2.0-');
      tricklers.push(p);
    }
    // Never silent for 2 s, never done with the version line: busy, but not logging in.
    trickle = setInterval(() => {
      for (const p of tricklers) if (!p.isClosed()) p.socket.write('x');
    }, 500);
    // Part of what is tested: longer than the 2 s of silence after which a waiting connection may go.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(tricklers.filter((p) => !p.isClosed()).length, 20, 'every trickler still waits');
    const copy = await WorkingCopy.create(d.work, 'trickled', d.adminKey);
    await copy.commit(nodeApp('trickled'));
    const pushed = await copy.push(d.remote('trickled'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Deployed trickled-00001/);
    // The push took the place of the connection that had waited longest.
    assert.equal(tricklers[0]?.isClosed(), true);
    assert.equal(tricklers.filter((p) => !p.isClosed()).length, 19);
  });
});
