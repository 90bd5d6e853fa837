import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { deltaResultBytes, formatBytes, PackScanRefused, parseObjectHeader, scanPack } from './pack-scan.js';

const MiB = 1024 * 1024;
const roomy = { maxObjectBytes: 100 * MiB, maxPushBytes: 2048 * MiB };

/** A pack written by hand: each object's header says `declared` (its real size unless given), then its data deflated. */
function craftPack(objects: readonly { type: number; data: Buffer; declared?: number; prefix?: Buffer }[]): Buffer {
  const parts: Buffer[] = [Buffer.from('PACK'), Buffer.from([0, 0, 0, 2]), Buffer.alloc(4)];
  parts[2]?.writeUInt32BE(objects.length);
  for (const object of objects) {
    let size = object.declared ?? object.data.length;
    const header = [(object.type << 4) | (size & 15)];
    size = Math.floor(size / 16);
    while (size > 0) {
      header[header.length - 1] = (header[header.length - 1] ?? 0) | 0x80;
      header.push(size & 0x7f);
      size = Math.floor(size / 128);
    }
    parts.push(Buffer.from(header), object.prefix ?? Buffer.alloc(0), deflateSync(object.data));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

let dir: string;
let realPack: Buffer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pack-scan-'));
  // A real pack from git, with deltas: two versions of one large text file.
  const repo = join(dir, 'repo');
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } });
  execFileSync('git', ['init', '-q', repo]);
  const text = Array.from({ length: 5000 }, (_, i) => `line ${i} of a file that changes a little\n`).join('');
  await writeFile(join(repo, 'a.txt'), text);
  git('add', '-A');
  git('commit', '-q', '-m', 'one');
  await writeFile(join(repo, 'a.txt'), `${text}one more line\n`);
  git('commit', '-q', '-am', 'two');
  realPack = execFileSync('git', ['-C', repo, 'pack-objects', '--stdout', '--revs'], { input: 'HEAD\n' });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function scan(pack: Buffer, limits = roomy) {
  const file = join(dir, `p-${Math.random().toString(36).slice(2)}.pack`);
  await writeFile(file, pack);
  return scanPack(file, limits);
}

async function refused(pack: Buffer, limits = roomy): Promise<PackScanRefused> {
  const error = await scan(pack, limits).then(
    () => assert.fail('the pack was accepted'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof PackScanRefused, String(error));
  return error;
}

describe('scanPack', () => {
  it('accepts a pack git made, deltas included, and counts its objects', async () => {
    const summary = await scan(realPack);
    assert.equal(summary.objects, 6);
    assert.ok(summary.inflatedBytes > 2 * 200_000, `inflated ${summary.inflatedBytes}`);
  });

  it('refuses a blob whose header declares more than the object limit, without inflating it', async () => {
    const error = await refused(craftPack([{ type: 3, data: Buffer.from('tiny'), declared: 1024 * MiB }]));
    assert.equal(error.error.code, 'GITD_OBJECT_TOO_LARGE');
    assert.match(error.error.message, /^object 1 of 1 in the pack \(a blob at byte 12\) inflates to 1024 MiB, over the 100 MiB limit for one object; .*--max-object-mb/);
  });

  it('refuses a blob whose header lies small while it inflates far more, counted as it inflates', async () => {
    const error = await refused(craftPack([{ type: 3, data: Buffer.alloc(3 * MiB), declared: 1000 }]), { maxObjectBytes: 1 * MiB, maxPushBytes: 10 * MiB });
    assert.equal(error.error.code, 'GITD_BAD_PACK');
    assert.match(error.message, /object 1 of 1 \(a blob at byte 12\) inflates to more than the 1000 bytes its header declares/);
  });

  it('refuses a header that lies small for a large object, streamed', async () => {
    const error = await refused(craftPack([{ type: 3, data: Buffer.alloc(5 * MiB), declared: 2 * MiB }]), { maxObjectBytes: 4 * MiB, maxPushBytes: 10 * MiB });
    assert.match(error.message, /inflates to more than the 2097152 bytes its header declares/);
  });

  it('refuses a delta whose declared result is over the object limit', async () => {
    // An ofs-delta: base offset 1 byte, then delta data: base size 4, result size 200 MiB.
    const delta = Buffer.from([4, 0x80, 0x80, 0x80, 0x64, 0x01]);
    const error = await refused(
      craftPack([
        { type: 3, data: Buffer.from('base') },
        { type: 6, data: delta, prefix: Buffer.from([20]) },
      ]),
    );
    assert.equal(error.error.code, 'GITD_OBJECT_TOO_LARGE');
    assert.match(error.error.message, /object 2 of 2 in the pack \(a ofs-delta at byte 25\) inflates to 200 MiB/);
  });

  it('refuses objects that together inflate to more than the push limit', async () => {
    const blob = () => ({ type: 3, data: Buffer.alloc(MiB, 1) });
    const error = await refused(craftPack([blob(), blob(), blob()]), { maxObjectBytes: 2 * MiB, maxPushBytes: 2.5 * MiB });
    assert.equal(error.error.code, 'GITD_PUSH_TOO_LARGE');
    assert.match(error.error.message, /inflate to over 2.5 MiB \(passed at object 3 of 3\); .*--max-push-mb/);
  });

  it('follows a zlib stream far longer than its data (empty stored blocks) to the next object', async () => {
    const data = Buffer.from('hello');
    const adler = (() => {
      let a = 1;
      let b = 0;
      for (const byte of data) {
        a = (a + byte) % 65521;
        b = (b + a) % 65521;
      }
      const out = Buffer.alloc(4);
      out.writeUInt32BE(((b << 16) | a) >>> 0);
      return out;
    })();
    const empty = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
    const last = Buffer.concat([Buffer.from([0x01, 5, 0, 0xfa, 0xff]), data]);
    const padded = Buffer.concat([Buffer.from([0x78, 0x01]), ...new Array<Buffer>(2000).fill(empty), last, adler]);
    const body = Buffer.concat([Buffer.from('PACK\0\0\0\x02\0\0\0\x02', 'latin1'), Buffer.from([0x35]), padded, Buffer.from([0x33]), deflateSync(Buffer.from('abc'))]);
    assert.deepEqual(await scan(withChecksum(body)), { objects: 2, inflatedBytes: 8 });
  });

  const cutShortCases = [
    { name: 'a real pack cut in its middle', cut: (p: Buffer) => p.subarray(0, Math.floor(p.length / 2)), reason: /^the pack ends after \d of 6 objects|is not valid zlib data|cut short/ },
    { name: 'a real pack without its checksum', cut: (p: Buffer) => p.subarray(0, p.length - 20), reason: /cut short|ends/ },
    { name: 'a real pack with its last byte changed', cut: (p: Buffer) => Buffer.concat([p.subarray(0, -1), Buffer.from([(p.at(-1) ?? 0) ^ 1])]), reason: /checksum does not match/ },
    { name: 'the header of a pack only', cut: (p: Buffer) => p.subarray(0, 12), reason: /cut short: 12 bytes/ },
    { name: 'not a pack', cut: () => Buffer.from('GET / HTTP/1.1\r\n\r\n garbage garbage garbage'), reason: /^the data after the commands is not a git pack$/ },
    { name: 'a pack header over random bytes', cut: () => craftGarbage(), reason: /object 1 of 1 .*(is not valid zlib data|type)/ },
    { name: 'junk after the objects', cut: (p: Buffer) => withChecksum(Buffer.concat([p.subarray(0, -20), Buffer.from('junk')])), reason: /4 bytes of junk after its 6 objects/ },
  ];
  for (const c of cutShortCases) {
    it(`names what is wrong: ${c.name}`, async () => {
      const error = await refused(c.cut(realPack));
      assert.equal(error.error.code, 'GITD_BAD_PACK');
      assert.match(error.message, c.reason);
    });
  }
});

function withChecksum(body: Buffer): Buffer {
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

function craftGarbage(): Buffer {
  // Type blob, size 100, then bytes that are not a zlib stream.
  return withChecksum(Buffer.concat([Buffer.from('PACK\0\0\0\x02\0\0\0\x01', 'latin1'), Buffer.from([0xb4, 0x06]), Buffer.alloc(200, 0xff)]));
}

describe('pack object headers', () => {
  const cases = [
    { name: 'a 5-byte blob', bytes: [0x35], expect: { type: 3, declaredBytes: 5, headerBytes: 1 } },
    { name: 'a 1 GiB blob', bytes: [0xb0, 0x80, 0x80, 0x80, 0x20], expect: { type: 3, declaredBytes: 1024 * MiB, headerBytes: 5 } },
    { name: 'an ofs-delta with a 2-byte offset', bytes: [0x6a, 0x81, 0x01], expect: { type: 6, declaredBytes: 10, headerBytes: 3 } },
    { name: 'a ref-delta with its 20-byte base', bytes: [0x7a, ...new Array<number>(20).fill(1)], expect: { type: 7, declaredBytes: 10, headerBytes: 21 } },
    { name: 'a ref-delta cut inside its base', bytes: [0x7a, 1, 2], expect: undefined },
    { name: 'a size header cut short', bytes: [0xb0, 0x80], expect: undefined },
    { name: 'type 5, which no object has', bytes: [0x55], expect: { problem: 'has type 5, which no git object has' } },
    { name: 'type 0', bytes: [0x05], expect: { problem: 'has type 0, which no git object has' } },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(parseObjectHeader(Buffer.from(c.bytes)), c.expect));
  }
  it('reads the result size of a delta after its base size', () => {
    assert.equal(deltaResultBytes(Buffer.from([4, 0x80, 0x80, 0x80, 0x64, 0x01])), 200 * MiB);
    assert.equal(deltaResultBytes(Buffer.from([0x80])), undefined);
  });
  it('says sizes as people read them', () => {
    assert.deepEqual([formatBytes(512), formatBytes(1.5 * MiB), formatBytes(1024 * MiB)], ['512 bytes', '1.5 MiB', '1024 MiB']);
  });
});
