import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ImageTrees, imageCommand, mountablePath, normalizedPath, parseImageInspect, pathInTree, resolveImageUser } from './image-trees.js';

const passwd = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nnode:x:1000:1000::/home/node:/bin/bash\n';
const group = 'root:x:0:\nstaff:x:50:\nnode:x:1000:\n';

describe('resolveImageUser', () => {
  it('no USER is root, at /root', () => assert.deepEqual(resolveImageUser('', passwd, group), { uid: 0, gid: 0, home: '/root' }));
  it('a name, by its passwd entry', () => assert.deepEqual(resolveImageUser('node', passwd, group), { uid: 1000, gid: 1000, home: '/home/node' }));
  it('a number in passwd takes its group and home', () => assert.deepEqual(resolveImageUser('1000', passwd, group), { uid: 1000, gid: 1000, home: '/home/node' }));
  it('a number not in passwd: group 0, home /', () => assert.deepEqual(resolveImageUser('4242', passwd, group), { uid: 4242, gid: 0, home: '/' }));
  it('name:group and uid:gid', () => {
    assert.deepEqual(resolveImageUser('node:staff', passwd, group), { uid: 1000, gid: 50, home: '/home/node' });
    assert.deepEqual(resolveImageUser('1000:7', passwd, group), { uid: 1000, gid: 7, home: '/home/node' });
  });
  it('a name or group the image does not have: why', () => {
    assert.equal(resolveImageUser('app', passwd, group), 'its USER app is not in its /etc/passwd');
    assert.equal(resolveImageUser('node:wheel', passwd, group), 'its USER group wheel is not in its /etc/group');
  });
  it('an image without /etc/passwd still runs as root', () => assert.deepEqual(resolveImageUser('', undefined, undefined), { uid: 0, gid: 0, home: '/root' }));
});

describe('parseImageInspect and imageCommand', () => {
  const inspect = (config: Record<string, unknown>) => JSON.stringify([{ Id: 'a'.repeat(64), Config: config }]);
  it('reads ENTRYPOINT, CMD, ENV, WORKDIR and USER; the command is ENTRYPOINT then CMD', () => {
    const { id, config } = parseImageInspect(inspect({ Entrypoint: ['docker-entrypoint.sh'], Cmd: ['node', 'server.js'], Env: ['PATH=/usr/bin:/bin', 'EMPTY=', 'EQ=a=b'], WorkingDir: '/app', User: 'node' }));
    assert.equal(id, 'a'.repeat(64));
    assert.deepEqual(config, { entrypoint: ['docker-entrypoint.sh'], cmd: ['node', 'server.js'], env: { PATH: '/usr/bin:/bin', EMPTY: '', EQ: 'a=b' }, workdir: '/app', user: 'node' });
    assert.deepEqual(imageCommand(config), ['docker-entrypoint.sh', 'node', 'server.js']);
  });
  it('an image that names nothing: WORKDIR /, root, no command', () => {
    const { config } = parseImageInspect(inspect({}));
    assert.deepEqual(config, { entrypoint: [], cmd: [], env: {}, workdir: '/', user: '' });
    assert.deepEqual(imageCommand(config), []);
  });
  it('no image id: refused', () => assert.throws(() => parseImageInspect('[{"Id": "nope"}]'), /no image id/));
});

describe('pathInTree (on this host: it reads folders)', () => {
  it('real folders and files only; a link on the way, or .., is a link (Dormant never follows one as root)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dormant-tree-'));
    try {
      await mkdir(join(root, 'app', 'data'), { recursive: true });
      await writeFile(join(root, 'app', 'server.js'), '');
      await symlink('/', join(root, 'host'));
      await symlink('/etc', join(root, 'app', 'etc'));
      assert.equal(pathInTree(root, '/app'), 'folder');
      assert.equal(pathInTree(root, '/app/data/'), 'folder');
      assert.equal(pathInTree(root, '/app/server.js'), 'file');
      assert.equal(pathInTree(root, '/app/server.js/x'), 'other');
      assert.equal(pathInTree(root, '/missing/x'), 'missing');
      assert.equal(pathInTree(root, '/host/root'), 'link');
      assert.equal(pathInTree(root, '/app/etc/passwd'), 'link');
      assert.equal(pathInTree(root, '/app/../../etc'), 'link');
      assert.equal(pathInTree(root, '/'), 'folder');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('the paths an image names', () => {
  it('are normalized: a WORKDIR of //app/./x/ is /app/x, and a home //home/node/ is /home/node', () => {
    assert.equal(normalizedPath('//app/./x/'), '/app/x');
    assert.equal(normalizedPath('/'), '/');
    const { config } = parseImageInspect(JSON.stringify([{ Id: 'b'.repeat(64), Config: { WorkingDir: '/srv/../app/' } }]));
    assert.equal(config.workdir, '/app');
    assert.deepEqual(resolveImageUser('node', 'node:x:1000:1000::/home//node/:/bin/sh\n', ''), { uid: 1000, gid: 1000, home: '/home/node' });
  });
  it('a WORKDIR with a newline, space, tab, backslash, comma or colon is not mounted (it would go into the fstab)', () => {
    for (const bad of ['/a\n/dev/sda /etc ext4 rw', '/a b', '/a\tb', '/a\\b', '/a,b', '/a:b', 'relative']) assert.equal(mountablePath(bad), false, JSON.stringify(bad));
    for (const good of ['/', '/app', '/home/node/app', '/srv/my-app_2.0@x']) assert.equal(mountablePath(good), true, good);
  });
});

describe('ImageTrees limits', () => {
  it('an image larger than the limit is refused with its size, before anything is unpacked (real podman, the bootstrapped node:20-slim)', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-trees-'));
    try {
      const trees = new ImageTrees(stateDir, { maxImageBytes: 1024 * 1024 });
      trees.prepare();
      await assert.rejects(trees.ensure('big', 'docker.io/library/node:20-slim', { uid: 1_500_000_999, gid: 1_500_000_999 }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'BUILD_IMAGE_UNRUNNABLE');
        assert.match(error.message, /it is 0\.\d{3} GiB, more than the 0\.001 GiB an image may have here; make it smaller/);
        return true;
      });
      assert.deepEqual(readdirSync(join(stateDir, 'images', 'trees')), [], 'nothing unpacked');
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
