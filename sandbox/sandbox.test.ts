import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { allocateAppId, appIdRange, appIdStart, parseAppIds } from './app-ids.js';
import type { HostSandbox } from './host-sandbox.js';
import { sandboxProblem } from './host-sandbox.js';
import { fstabField, type SandboxSpec, sandboxCommand, sandboxEnvArgs, sandboxEnvInput, sandboxEnvScript, sandboxFstab, sandboxRootEnv, shellWord } from './sandbox-command.js';
import { prepareTenantRun, tenantEnv } from './tenant-run.js';

const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
  uid: 1_500_000_001,
  gid: 1_500_000_001,
  appFolder: { release: '/state/releases/web/web-00001', upper: '/state/replicas/r1/app/upper', work: '/state/replicas/r1/app/work', at: '/state/releases/web/web-00001' },
  writable: ['/state/replicas/r1/home'],
  hidden: ['/state', '/root', '/home'],
  cwd: '/state/releases/web/web-00001',
  command: ['node', 'server.js'],
  tools: { setpriv: '/usr/bin/setpriv', unshare: '/usr/bin/unshare', mount: '/usr/bin/mount' },
  ...over,
});

/** Each fstab line's source and target. */
const mountsOf = (fstab: string): string[] =>
  fstab
    .trim()
    .split('\n')
    .map((line) => line.split(' ').slice(0, 2).join(' '));

describe('sandboxFstab', () => {
  it('mounts the app and its home before hiding their sources, then binds them back and hides where they were made', () => {
    assert.deepEqual(mountsOf(sandboxFstab(spec())), [
      'dormant-keep /dev/shm',
      'overlay /dev/shm/.dormant-sandbox/app',
      '/state/replicas/r1/home /dev/shm/.dormant-sandbox/w0',
      'dormant-tmp /tmp',
      'dormant-var-tmp /var/tmp',
      'dormant-hidden /state',
      'dormant-hidden /root',
      'dormant-hidden /home',
      '/dev/shm/.dormant-sandbox/app /state/releases/web/web-00001',
      '/dev/shm/.dormant-sandbox/w0 /state/replicas/r1/home',
      'dormant-shm /dev/shm',
    ]);
  });

  it('the overlay keeps the release below, the replica upper layer above', () => {
    const overlay = sandboxFstab(spec()).split('\n')[1] ?? '';
    assert.match(overlay, /lowerdir=\/state\/releases\/web\/web-00001,upperdir=\/state\/replicas\/r1\/app\/upper,workdir=\/state\/replicas\/r1\/app\/work,X-mount\.mkdir/);
  });

  it('a build has no overlay: its release and cache are writable binds, put back after the state folder is hidden', () => {
    const { appFolder: _overlay, ...rest } = spec();
    const build: SandboxSpec = { ...rest, writable: ['/state/releases/web/web-00002', '/state/cache/apps/web'] };
    assert.deepEqual(mountsOf(sandboxFstab(build)), [
      'dormant-keep /dev/shm',
      '/state/releases/web/web-00002 /dev/shm/.dormant-sandbox/w0',
      '/state/cache/apps/web /dev/shm/.dormant-sandbox/w1',
      'dormant-tmp /tmp',
      'dormant-var-tmp /var/tmp',
      'dormant-hidden /state',
      'dormant-hidden /root',
      'dormant-hidden /home',
      '/dev/shm/.dormant-sandbox/w0 /state/releases/web/web-00002',
      '/dev/shm/.dormant-sandbox/w1 /state/cache/apps/web',
      'dormant-shm /dev/shm',
    ]);
  });

  it('a hidden folder under the private /tmp is hidden already: no mount for it (it is gone from view)', () => {
    const fstab = sandboxFstab(spec({ hidden: ['/tmp/dormant-test/state', '/var/tmp/x', '/root'] }));
    assert.doesNotMatch(fstab, /dormant-hidden \/tmp/);
    assert.doesNotMatch(fstab, /dormant-hidden \/var\/tmp/);
    assert.match(fstab, /dormant-hidden \/root /);
  });

  it('spaces and backslashes in paths are escaped as fstab reads them; commas and colons as overlay reads them', () => {
    const fstab = sandboxFstab(spec({ writable: ['/my state/home\\x'], appFolder: { release: '/a,b:c', upper: '/u', work: '/w', at: '/a,b:c' } }));
    assert.match(fstab, /^\/my\\040state\/home\\134x \/dev\/shm\/\.dormant-sandbox\/w0 none bind/m);
    // Overlay's own escapes (a backslash before the comma and colon), then fstab's (that backslash as \134).
    assert.match(fstab, /lowerdir=\/a\\134,b\\134:c,/);
    const newline = sandboxFstab(spec({ appFolder: { release: '/r\n/dev/sda /etc ext4 rw', upper: '/u', work: '/w', at: '/r' } }));
    assert.equal(newline.split('\n').filter((l) => l.startsWith('/dev/sda')).length, 0, 'a newline in a path never starts a line of its own');
    assert.equal(fstabField('a b\tc\nd\\'), 'a\\040b\\011c\\012d\\134');
  });
});

describe('sandboxCommand', () => {
  it('dies with Dormant, gets its own PID, mount, IPC and UTS namespaces and /proc, and starts the command as the app uid without privileges', () => {
    const argv = sandboxCommand(spec(), '/state/replicas/r1/sandbox.fstab');
    assert.deepEqual(argv.slice(0, 4), ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--']);
    for (const flag of ['--pid', '--mount', '--ipc', '--uts', '--fork', '--kill-child', '--mount-proc']) assert.ok(argv.includes(flag), flag);
    const script = argv[argv.indexOf('-c') + 1] ?? '';
    assert.match(script, /'\/usr\/bin\/mount' -T '\/state\/replicas\/r1\/sandbox.fstab' -a/);
    assert.match(script, /--reuid=1500000001 --regid=1500000001 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- \/bin\/sh -c '.*' dormant-app "\$@" 0<&9 9<&- & wait \$!/);
    // The tenant's variables are read from fd 3 only after root is dropped.
    assert.match(script, /eval "\$\(\/bin\/cat <&3\)"; exec 3<&-; exec "\$@"/);
    assert.deepEqual(argv.slice(-3), ['dormant-sandbox', 'node', 'server.js'], 'the command is passed as arguments, never spliced into the script');
  });

  it('quotes what it puts in the script', () => {
    assert.equal(shellWord("it's"), `'it'"'"'s'`);
    const script = sandboxCommand(spec({ cwd: "/state/it's" }), '/f').find((a) => a.includes('set -e')) ?? '';
    assert.match(script, /cd '\/state\/it'"'"'s'/);
  });
});

describe('a sandbox over an image (bubblewrap)', () => {
  const imageSpec = spec({
    appFolder: { release: '/state/images/trees/box/abc/root/app', upper: '/state/replicas/r1/app/upper', work: '/state/replicas/r1/app/work', at: '/app' },
    cwd: '/app',
    image: { root: '/state/images/trees/box/abc/root', uid: 1000, gid: 1000, writableAt: ['/home/node'], bwrap: '/usr/bin/bwrap' },
  });
  it('keeps the tree (read-only), the WORKDIR overlay and the home where bubblewrap, as the app uid, can reach them; hides the host paths; binds nothing back on the host', () => {
    const lines = sandboxFstab(imageSpec).trim().split('\n');
    assert.deepEqual(mountsOf(sandboxFstab(imageSpec)), [
      'dormant-keep /dev/shm',
      '/state/images/trees/box/abc/root /dev/shm/.dormant-sandbox/root',
      'overlay /dev/shm/.dormant-sandbox/app',
      '/state/replicas/r1/home /dev/shm/.dormant-sandbox/w0',
      'dormant-tmp /tmp',
      'dormant-var-tmp /var/tmp',
      'dormant-hidden /state',
      'dormant-hidden /root',
      'dormant-hidden /home',
    ]);
    assert.match(lines[0] ?? '', /mode=0755/);
    assert.match(lines[1] ?? '', / none bind,ro,X-mount\.mkdir /);
    assert.match(lines[2] ?? '', /lowerdir=\/state\/images\/trees\/box\/abc\/root\/app,/);
  });
  it('drops to the app uid, then bubblewrap maps the image user to it and makes the tree the root, with the environment from fd 3 and nothing of the host', () => {
    const script = sandboxCommand(imageSpec, '/f').find((a) => a.includes('set -e')) ?? '';
    assert.doesNotMatch(script, /^cd /m, 'the root part does not enter the image path on the host');
    assert.match(
      script,
      /--no-new-privs -- \/usr\/bin\/bwrap --args 3 --unshare-user --uid 1000 --gid 1000 --unshare-pid --die-with-parent --ro-bind \/dev\/shm\/\.dormant-sandbox\/root \/ --proc \/proc --dev \/dev --tmpfs \/tmp --bind \/dev\/shm\/\.dormant-sandbox\/app '\/app' --bind \/dev\/shm\/\.dormant-sandbox\/w0 '\/home\/node' --chdir '\/app' -- "\$@" 0<&9 9<&- & wait \$!/,
    );
  });
  it('gives the environment as bubblewrap arguments: cleared, then one --setenv each; a name it could not take is left out', () => {
    assert.equal(sandboxEnvArgs({ PORT: '8080', 'NOT OK': 'x', GREETING: "it's $HOME" }), "--clearenv\x00--setenv\x00PORT\x008080\x00--setenv\x00GREETING\x00it's $HOME\x00");
    assert.equal(sandboxEnvInput(imageSpec, { A: '1' }), sandboxEnvArgs({ A: '1' }));
    assert.equal(sandboxEnvInput(spec(), { A: '1' }), sandboxEnvScript({ A: '1' }));
  });
});

describe('a build over the stack, with a Node runtime (bubblewrap)', () => {
  // A build writes its release in place: no overlay.
  const { appFolder: _overlay, ...withoutOverlay } = spec();
  const buildSpec: SandboxSpec = {
    ...withoutOverlay,
    writable: ['/state/releases/web/web-00002', '/state/cache/apps/web/cache', '/state/cache/apps/web/home'],
    cwd: '/app',
    image: {
      root: '/state/images/stacks/abc/root',
      uid: 1000,
      gid: 1000,
      writableAt: ['/app', '/tmp/dormant-cache', '/tmp/dormant-home'],
      readOnlyAt: [{ from: '/root/.cache/dormant/runtimes/node/22.12.0', at: '/opt/node' }],
      bwrap: '/usr/bin/bwrap',
    },
  };
  it('keeps the runtime read-only beside the tree before the host paths are hidden, and binds each writable folder where the build sees it', () => {
    const fstab = sandboxFstab(buildSpec);
    assert.deepEqual(mountsOf(fstab).slice(0, 6), [
      'dormant-keep /dev/shm',
      '/state/images/stacks/abc/root /dev/shm/.dormant-sandbox/root',
      '/root/.cache/dormant/runtimes/node/22.12.0 /dev/shm/.dormant-sandbox/r0',
      '/state/releases/web/web-00002 /dev/shm/.dormant-sandbox/w0',
      '/state/cache/apps/web/cache /dev/shm/.dormant-sandbox/w1',
      '/state/cache/apps/web/home /dev/shm/.dormant-sandbox/w2',
    ]);
    assert.match(fstab.split('\n')[2] ?? '', / none bind,ro,X-mount\.mkdir /);
    const script = sandboxCommand(buildSpec, '/f').find((a) => a.includes('set -e')) ?? '';
    assert.match(
      script,
      /--tmpfs \/tmp --ro-bind \/dev\/shm\/\.dormant-sandbox\/r0 '\/opt\/node' --bind \/dev\/shm\/\.dormant-sandbox\/w0 '\/app' --bind \/dev\/shm\/\.dormant-sandbox\/w1 '\/tmp\/dormant-cache' --bind \/dev\/shm\/\.dormant-sandbox\/w2 '\/tmp\/dormant-home' --chdir '\/app'/,
    );
  });
});

describe('a warm (gated) sandbox', () => {
  it('is made to the last step: the root part does not wait; the app uid reads its environment, then waits for a line on fd 4 before the command', () => {
    const script = sandboxCommand(spec({ gated: true }), '/f').find((a) => a.includes('set -e')) ?? '';
    assert.doesNotMatch(script, /^read /m, 'the root shell goes straight on to setpriv');
    assert.match(script, /eval "\$\(\/bin\/cat <&3\)"; exec 3<&-; read -r _ <&4 \|\| exit 0; exec 4<&-; exec "\$@"/);
  });
  it('over an image, bubblewrap makes everything, then blocks on fd 4 before the exec', () => {
    const script = sandboxCommand(spec({ gated: true, cwd: '/app', image: { root: '/t', uid: 0, gid: 0, writableAt: [], bwrap: '/usr/bin/bwrap' } }), '/f').find((a) => a.includes('set -e')) ?? '';
    assert.match(script, /--die-with-parent --block-fd 4 --ro-bind/);
  });
});

describe('sandboxEnvScript', () => {
  it('exports each variable quoted for the shell; a name the shell could not take is left out', () => {
    assert.equal(sandboxEnvScript({ PORT: '8080', SECRET: "it's $(rm -rf /)", 'BAD-NAME': 'x', UNSET: undefined }), `export PORT='8080'\nexport SECRET='it'"'"'s $(rm -rf /)'\n`);
  });
  it("the sandbox's root part starts with a fixed PATH and nothing else", () => assert.deepEqual(Object.keys(sandboxRootEnv), ['PATH']));
});

describe('tenantEnv', () => {
  it("passes the host's locale, proxy, CA and registry settings and nothing else of Dormant's; the run's own variables win", () => {
    const host = { PATH: '/usr/bin', LANG: 'C.UTF-8', HTTPS_PROXY: 'http://proxy:3128', NODE_EXTRA_CA_CERTS: '/etc/ca.pem', DORMANT_ADMIN_TOKEN: 'secret', AWS_SECRET_ACCESS_KEY: 'x', HOME: '/root' };
    assert.deepEqual(tenantEnv(host, { HOME: '/state/cache/apps/web/home', PATH: '/app/bin:/usr/bin' }), {
      PATH: '/app/bin:/usr/bin',
      LANG: 'C.UTF-8',
      HTTPS_PROXY: 'http://proxy:3128',
      NODE_EXTRA_CA_CERTS: '/etc/ca.pem',
      HOME: '/state/cache/apps/web/home',
    });
  });
});

describe('allocateAppId', () => {
  const range = { first: 100, count: 3 };
  it('an app keeps its id; a new one gets the lowest free id', () => {
    assert.equal(allocateAppId({ a: 100, b: 102 }, 'a', range), 100);
    assert.equal(allocateAppId({ a: 100, b: 102 }, 'c', range), 101);
  });
  it("from a state folder's own start, wrapping to the range's first", () => {
    assert.equal(allocateAppId({}, 'a', range, 'app-ids.json', 2), 102);
    assert.equal(allocateAppId({ a: 102 }, 'b', range, 'app-ids.json', 2), 100);
  });
  it('two state folders start apart, each in a block of 1,000 of the range', () => {
    const starts = ['/var/lib/dormant', '/tmp/dormant-push-a/state', '/tmp/dormant-push-b/state'].map(appIdStart);
    assert.equal(new Set(starts).size, 3, String(starts));
    for (const start of starts) assert.ok(start % 1000 === 0 && start >= 0 && start < appIdRange.count, String(start));
    assert.equal(appIdStart('/var/lib/dormant/'), appIdStart('/var/lib/dormant'), 'the same folder, however written');
  });
  it('a full range is refused with what to do', () => {
    assert.throws(() => allocateAppId({ a: 100, b: 101, c: 102 }, 'd', range, '/state/app-ids.json'), /all 3 app uids are taken: an app keeps its uid after it is deleted; remove the deleted apps' entries from \/state\/app-ids.json/);
  });
});

describe('sandboxProblem', () => {
  const tools = { setpriv: '/usr/bin/setpriv', unshare: '/usr/bin/unshare', mount: '/usr/bin/mount' };
  it('Linux, root and util-linux: no problem', () => assert.equal(sandboxProblem({ platform: 'linux', euid: 0, tools }), undefined));
  it('not root: says why it matters', () => assert.match(sandboxProblem({ platform: 'linux', euid: 1000, tools }) ?? '', /does not run as root, so it cannot give each app a uid of its own/));
  it('hard links to files one cannot write allowed: refused, with the sysctl', () =>
    assert.match(sandboxProblem({ platform: 'linux', euid: 0, tools, protectedHardlinks: '0\n' }) ?? '', /fs.protected_hardlinks is not 1 \(sysctl -w fs.protected_hardlinks=1\)/));
  it('not Linux', () => assert.match(sandboxProblem({ platform: 'darwin', euid: 0, tools }) ?? '', /darwin, not Linux/));
  it('a tool missing: what to install', () => assert.match(sandboxProblem({ platform: 'linux', euid: 0, tools: { ...tools, unshare: undefined } }) ?? '', /apt-get install util-linux/));
});

describe('parseAppIds', () => {
  it('reads a map of app names to uids', () => assert.deepEqual(parseAppIds('{"web": 1500000000}'), { web: 1_500_000_000 }));
  for (const bad of ['', '{', '[]', 'null', '{"web": "1500000000"}', '{"web": -1}', '{"web": 1.5}', '{"web": 0}']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseAppIds(bad), undefined));
  }
});

describe('prepareTenantRun (on this host: it makes folders and an fstab)', () => {
  it("refuses a writable folder that is a link to one of the host's, and changes nothing there", async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'dormant-tenant-run-'));
    try {
      const target = join(scratch, 'hosts-own');
      await mkdir(target);
      const before = await stat(target);
      await symlink(target, join(scratch, 'home'));
      // What prepareTenantRun uses of a host sandbox: the app's uid, the tools, what is hidden; no cgroups.
      const host = { ids: { idOf: () => 1_500_999_999 }, tools: spec().tools, hidden: [], cgroups: undefined, limitsProblem: 'none here' } as unknown as HostSandbox;
      await assert.rejects(
        prepareTenantRun(host, { app: 'web', folder: join(scratch, 'run'), release: { path: join(scratch, 'release'), writes: 'overlay' }, writable: [join(scratch, 'home')], cwd: scratch }),
        /SANDBOX_UNAVAILABLE|is not a folder \(a symbolic link\?\)/,
      );
      assert.equal((await stat(target)).uid, before.uid, 'the target keeps its owner');
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
