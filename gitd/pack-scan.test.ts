import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { deltaResultBytes, formatBytes, PackScanRefused, parseObjectHeader, scanPack } from './pack-scan.js';
import { deltaData, insertOneByteDelta, objectHeader, ofsDistance } from './test-support.js';

const MiB = 1024 * 1024;
const roomy = { maxObjectBytes: 100 * MiB, maxPushBytes: 2048 * MiB, maxObjects: 200_000, maxDeltaDepth: 50 };

/**
 * A pack written by hand: each object's header says `declared` (its real size unless given), then its data deflated.
 * `base`: an ofs-delta's base, as the index of an earlier object.
 */
function craftPack(objects: readonly { type: number; data: Buffer; declared?: number; prefix?: Buffer; base?: number }[], count = objects.length): Buffer {
  const parts: Buffer[] = [Buffer.from('PACK'), Buffer.from([0, 0, 0, 2]), Buffer.alloc(4)];
  parts[2]?.writeUInt32BE(count);
  const offsets: number[] = [];
  let offset = 12;
  for (const object of objects) {
    offsets.push(offset);
    const prefix = object.base === undefined ? (object.prefix ?? Buffer.alloc(0)) : ofsDistance(offset - (offsets[object.base] ?? 0));
    const header = objectHeader(object.type, object.declared ?? object.data.length);
    const data = deflateSync(object.data, { level: 1 });
    parts.push(header, prefix, data);
    offset += header.length + prefix.length + data.length;
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
    const error = await refused(craftPack([{ type: 3, data: Buffer.alloc(3 * MiB), declared: 1000 }]), { ...roomy, maxObjectBytes: 1 * MiB, maxPushBytes: 10 * MiB });
    assert.equal(error.error.code, 'GITD_BAD_PACK');
    assert.match(error.message, /object 1 of 1 \(a blob at byte 12\) inflates to more than the 1000 bytes its header declares/);
  });

  it('refuses a header that lies small for a large object, streamed', async () => {
    const error = await refused(craftPack([{ type: 3, data: Buffer.alloc(5 * MiB), declared: 2 * MiB }]), { ...roomy, maxObjectBytes: 4 * MiB, maxPushBytes: 10 * MiB });
    assert.match(error.message, /inflates to more than the 2097152 bytes its header declares/);
  });

  it('refuses a delta whose declared result is over the object limit', async () => {
    // An ofs-delta: base offset 1 byte, then delta data: base size 4, result size 200 MiB.
    const delta = Buffer.from([4, 0x80, 0x80, 0x80, 0x64, 0x01]);
    const error = await refused(
      craftPack([
        { type: 3, data: Buffer.from('base') },
        { type: 6, data: delta, base: 0 },
      ]),
    );
    assert.equal(error.error.code, 'GITD_OBJECT_TOO_LARGE');
    assert.match(error.error.message, /object 2 of 2 in the pack \(a ofs-delta at byte 25\) inflates to 200 MiB/);
  });

  it('refuses objects that together inflate to more than the push limit', async () => {
    const blob = () => ({ type: 3, data: Buffer.alloc(MiB, 1) });
    const error = await refused(craftPack([blob(), blob(), blob()]), { ...roomy, maxObjectBytes: 2 * MiB, maxPushBytes: 2.5 * MiB });
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
    assert.deepEqual(await scan(withChecksum(body)), { objects: 2, inflatedBytes: 8, indexBytes: 8, deepestDelta: 0 });
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

describe('scanPack: objects per push, delta chains and what indexing them costs', () => {
  it('refuses a pack whose header counts more objects than the limit, before reading any of them', async () => {
    // The header says 1,000,001 objects; what follows is garbage, never read.
    const error = await refused(craftGarbageWithCount(1_000_001), { ...roomy, maxObjects: 1_000_000 });
    assert.equal(error.error.code, 'GITD_TOO_MANY_OBJECTS');
    assert.equal(error.error.httpStatus, 413);
    assert.match(error.error.message, /^this push sends 1000001 objects, over the limit of 1000000; nothing was stored\. Push the history in parts .*--max-objects-per-push$/);
    const atLimit = craftPack([{ type: 3, data: Buffer.from('a') }, { type: 3, data: Buffer.from('b') }]);
    assert.equal((await scan(atLimit, { ...roomy, maxObjects: 2 })).objects, 2);
  });

  it('refuses a chain of ofs-deltas deeper than the limit, naming the delta and the depth', async () => {
    const base = Buffer.from('0123456789');
    const step = deltaData(10, 10, [0x90, 10]); // copy 10 bytes from 0
    const chain = [{ type: 3, data: base }, ...Array.from({ length: 4 }, (_, i) => ({ type: 6, data: step, base: i }))];
    assert.equal((await scan(craftPack(chain), { ...roomy, maxDeltaDepth: 4 })).deepestDelta, 4);
    const error = await refused(craftPack(chain), { ...roomy, maxDeltaDepth: 3 });
    assert.equal(error.error.code, 'GITD_DELTA_TOO_DEEP');
    assert.match(error.error.message, /^object 5 of 5 in the pack \(a ofs-delta at byte \d+\) makes a chain of 4 deltas, over the limit of 3 \(git's default pack\.depth is 50\); nothing was stored\. .*--max-delta-depth$/);
  });

  it('refuses an ofs-delta whose base offset is not where an object starts', async () => {
    const error = await refused(craftPack([{ type: 3, data: Buffer.from('base') }, { type: 6, data: deltaData(4, 4, [0x90, 4]), prefix: Buffer.from([3]) }]));
    assert.equal(error.error.code, 'GITD_BAD_PACK');
    assert.match(error.message, /^object 2 of 2 \(a ofs-delta at byte \d+\) names its base at byte \d+, where no object before it starts$/);
  });

  it('refuses 100 MiB of zeros and 19 tiny deltas each making 100 MiB: their chain is rebuilt for each, far over the push limit', async () => {
    // Each object inflates to 100 MiB (2,000 MiB in all, under 2,048); indexPack would build 100 + 200 + ... MiB.
    const size = 100 * MiB;
    const objects = [{ type: 3, data: Buffer.alloc(size) }, ...Array.from({ length: 19 }, (_, i) => ({ type: 6, data: insertOneByteDelta(size), base: i }))];
    const error = await refused(craftPack(objects));
    assert.equal(error.error.code, 'GITD_DELTA_CHAIN_TOO_LARGE');
    assert.match(
      error.error.message,
      /^indexing this push would build over 2048 MiB of objects \(passed at object 6 of 20, a ofs-delta at byte \d+: delta 5 of a chain over objects larger than 8 MiB, each of which is rebuilt from the start of the chain, 600 MiB for this one alone\); nothing was stored\. Push the history of large files in parts .*--max-push-mb$/,
    );
    // Four of them (100 + 200 + 300 + 400 + 500 MiB) are within the limit.
    const summary = await scan(craftPack(objects.slice(0, 5)));
    assert.deepEqual(summary, { objects: 5, inflatedBytes: 5 * size, indexBytes: 15 * size, deepestDelta: 4 });
  });

  it('counts a delta on a base of up to 8 MiB as the object it makes: isomorphic-git keeps that base built', async () => {
    const size = 8 * MiB;
    const objects = [{ type: 3, data: Buffer.alloc(size) }, ...Array.from({ length: 10 }, (_, i) => ({ type: 6, data: insertOneByteDelta(size), base: i }))];
    assert.deepEqual(await scan(craftPack(objects)), { objects: 11, inflatedBytes: 11 * size, indexBytes: 11 * size, deepestDelta: 10 });
  });

  it('counts a ref-delta as its result plus its base, read once', async () => {
    const pack = craftPack([{ type: 7, data: deltaData(3 * MiB, 5, [5, 1, 2, 3, 4, 5]), prefix: Buffer.alloc(20, 7) }]);
    assert.deepEqual(await scan(pack), { objects: 1, inflatedBytes: 11, indexBytes: 11 + 3 * MiB, deepestDelta: 1 });
  });

  it('refuses ref-deltas chained by oid over objects larger than 8 MiB, taking each base as the earlier object of its size', async () => {
    // 10 MiB of zeros, then ref-deltas each on the one before by its oid (git would send ofs-deltas); each rebuilds the chain.
    const size = 10 * MiB;
    let content = Buffer.alloc(size);
    const objects: { type: number; data: Buffer; prefix?: Buffer }[] = [{ type: 3, data: content }];
    for (let i = 0; i < 5; i++) {
      objects.push({ type: 7, data: insertOneByteDelta(size), prefix: createHash('sha1').update(`blob ${size}\0`).update(content).digest() });
      content = Buffer.concat([Buffer.from('A'), content.subarray(0, size - 1)]);
    }
    const limits = { ...roomy, maxPushBytes: 100 * MiB };
    // 10 + 20 + 30 + 40 MiB: within the limit, and the chain's depth is seen.
    assert.deepEqual(await scan(craftPack(objects.slice(0, 4)), limits), { objects: 4, inflatedBytes: 4 * size, indexBytes: 10 * size, deepestDelta: 3 });
    const error = await refused(craftPack(objects), limits);
    assert.equal(error.error.code, 'GITD_DELTA_CHAIN_TOO_LARGE');
    assert.match(error.error.message, /passed at object 5 of 6, a ref-delta at byte \d+: delta 4 of a chain/);
    const tooDeep = await refused(craftPack(objects), { ...roomy, maxDeltaDepth: 4 });
    assert.equal(tooDeep.error.code, 'GITD_DELTA_TOO_DEEP');
    assert.match(tooDeep.error.message, /object 6 of 6 in the pack \(a ref-delta at byte \d+\) makes a chain of 5 deltas/);
  });

  it('accepts a real repository whose 3 MiB file changed 60 times, packed by git with its default depth', async () => {
    const repo = join(dir, 'history');
    const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
    execFileSync('git', ['init', '-q', repo]);
    const lines = Array.from({ length: 60_000 }, (_, i) => `"node_modules/package-${i}": { "version": "^${i % 13}.${i % 7}.${i % 5}" },\n`);
    for (let version = 0; version < 60; version++) {
      // Each version changes a few lines spread over the file and adds one, as a lockfile does.
      for (let change = 0; change < 5; change++) lines[(version * 7919 + change * 12_007) % lines.length] = `"node_modules/package-${version}-${change}": { "version": "^${version}.0.0" },\n`;
      lines.push(`"node_modules/added-${version}": { "version": "1.0.0" },\n`);
      await writeFile(join(repo, 'package-lock.json'), lines.join(''));
      execFileSync('git', ['-C', repo, 'add', '-A'], { env });
      execFileSync('git', ['-C', repo, 'commit', '-q', '-m', `version ${version}`], { env });
    }
    // As git push packs for a server that offers ofs-delta, as Dormant does.
    const pack = execFileSync('git', ['-C', repo, 'pack-objects', '--stdout', '--revs', '--delta-base-offset'], { input: 'HEAD\n', maxBuffer: 256 * MiB });
    const summary = await scan(pack);
    assert.equal(summary.objects, 180);
    assert.ok(summary.inflatedBytes > 60 * 3 * MiB, `inflated ${summary.inflatedBytes}`);
    assert.ok(summary.deepestDelta >= 10, `git made chains of ${summary.deepestDelta}`);
    // Every version's file is under 8 MiB: indexing builds each once.
    assert.equal(summary.indexBytes, summary.inflatedBytes);
  });

  it('lets other work run while it walks many small objects', async () => {
    // Junk after the objects: the scan refuses it right after the walk, before reading the pack again for its checksum.
    const pack = craftPack(Array.from({ length: 100_000 }, (_, i) => ({ type: 3, data: Buffer.from(`blob ${i}`) })));
    const file = join(dir, 'many.pack');
    await writeFile(file, withChecksum(Buffer.concat([pack.subarray(0, -20), Buffer.from('junk')])));
    let turns = 0;
    let scanning = true;
    const tick = () => {
      turns++;
      if (scanning) setImmediate(tick);
    };
    setImmediate(tick);
    const error = await scanPack(file, roomy).then(
      () => assert.fail('the pack was accepted'),
      (e: unknown) => e,
    );
    scanning = false;
    assert.match(String(error), /4 bytes of junk after its 100000 objects/);
    // The walk yields every 10 ms or so; without that, only its few file reads would let other work in.
    assert.ok(turns > 50, `other work ran ${turns} times during the walk`);
  });
});

function craftGarbageWithCount(count: number): Buffer {
  const header = Buffer.from('PACK\0\0\0\x02\0\0\0\0', 'latin1');
  header.writeUInt32BE(count, 8);
  return withChecksum(Buffer.concat([header, Buffer.alloc(200, 0xff)]));
}

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
    { name: 'an ofs-delta with a 2-byte offset', bytes: [0x6a, 0x81, 0x01], expect: { type: 6, declaredBytes: 10, headerBytes: 3, baseDistance: 257 } },
    { name: 'an ofs-delta 20 bytes after its base', bytes: [0x6a, 20], expect: { type: 6, declaredBytes: 10, headerBytes: 2, baseDistance: 20 } },
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
