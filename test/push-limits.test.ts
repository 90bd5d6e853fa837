// What one push may cost Dormant: objects and pushes bounded by their inflated size (counted
// while inflating, whatever the headers say), refs per push and their names bounded, packs
// that are cut short or garbage answered with what is wrong, and a failed first push leaving
// no repository and no App behind. Real `dormant up`, real git and OpenSSH clients.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createDeflate, deflateSync } from 'node:zlib';
import { insertOneByteDelta, objectHeader, ofsDistance } from '../gitd/test-support.js';
import { askingWhile, type DormantUp, deployBystander, nodeApp, runProgram, sshCommand, startDormant, WorkingCopy } from './git-support.js';

const MiB = 1024 * 1024;
const zeroOid = '0'.repeat(40);

/** The high-water mark of a process's resident memory, in MiB (VmHWM in /proc/PID/status). */
async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
  assert.ok(kb > 0, 'VmHWM is readable');
  return kb / 1024;
}

/**
 * Writes a one-blob pack to `file`: the header declares `declaredBytes`, the zlib stream holds
 * `zeroBytes` zeros, deflated as a stream (never in memory whole). Resolves with the blob's oid
 * (right only when the two sizes agree).
 */
async function writeZerosPack(file: string, declaredBytes: number, zeroBytes: number): Promise<string> {
  const out = createWriteStream(file);
  const packHash = createHash('sha1');
  const write = async (chunk: Buffer) => {
    packHash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  await write(Buffer.from('PACK\0\0\0\x02\0\0\0\x01', 'latin1'));
  await write(objectHeader(3, declaredBytes));
  const blobHash = createHash('sha1').update(`blob ${zeroBytes}\0`);
  const deflate = createDeflate({ level: 1 });
  const written = (async () => {
    for await (const chunk of deflate) await write(chunk as Buffer);
  })();
  const zeros = Buffer.alloc(MiB);
  for (let left = zeroBytes; left > 0; left -= MiB) {
    const chunk = zeros.subarray(0, Math.min(MiB, left));
    blobHash.update(chunk);
    if (!deflate.write(chunk)) await new Promise<void>((resolve) => deflate.once('drain', () => resolve()));
  }
  deflate.end();
  await written;
  out.end(packHash.digest());
  await finished(out);
  return blobHash.digest('hex');
}

/** A pack of `blobMiB` MiB of zeros and `deltas` ofs-deltas, each on the one before, each inserting a byte: every object is `blobMiB` MiB. */
async function writeDeltaChainPack(file: string, blobMiB: number, deltas: number): Promise<void> {
  const size = blobMiB * MiB;
  const parts = [Buffer.from('PACK\0\0\0\x02\0\0\0\0', 'latin1'), objectHeader(3, size), deflateSync(Buffer.alloc(size))];
  parts[0]?.writeUInt32BE(1 + deltas, 8);
  let previous = 12;
  let offset = parts.reduce((sum, part) => sum + part.length, 0);
  const delta = insertOneByteDelta(size);
  for (let i = 0; i < deltas; i++) {
    const object = Buffer.concat([objectHeader(6, delta.length), ofsDistance(offset - previous), deflateSync(delta)]);
    parts.push(object);
    previous = offset;
    offset += object.length;
  }
  const body = Buffer.concat(parts);
  await writeFile(file, Buffer.concat([body, createHash('sha1').update(body).digest()]));
}

/** Sends bytes on an SSH channel to git-receive-pack for an app, as a client that is not git would. */
function rawReceivePack(d: DormantUp, app: string, input: Buffer) {
  return runProgram('sh', ['-c', `${sshCommand(d.adminKey)} -p ${d.sshPort} git@127.0.0.1 "git-receive-pack '${app}'"`], { input });
}

/** The update commands of a push creating refs/heads/main at `oid`, framed as pkt-lines. */
function createMainCommand(oid: string): Buffer {
  const command = `${zeroOid} ${oid} refs/heads/main\0report-status\n`;
  return Buffer.from(`${(command.length + 4).toString(16).padStart(4, '0')}${command}0000`);
}

async function appNames(d: DormantUp): Promise<string[]> {
  return (JSON.parse((await d.dormant('apps', '-o', 'json')).stdout) as { name: string }[]).map((a) => a.name);
}

/** Nothing of an app is left: no repository folder, no App, no release folder. */
async function assertNoTrace(d: DormantUp, app: string): Promise<void> {
  assert.equal(existsSync(join(d.stateDir, 'repos', `${app}.git`)), false, `repos/${app}.git is left behind`);
  assert.equal((await appNames(d)).includes(app), false, `the App ${app} is left behind`);
  assert.equal(existsSync(join(d.stateDir, 'releases', app)), false, `releases/${app} is left behind`);
}

let d: DormantUp;
before(async () => {
  d = await startDormant();
  // An app that must keep answering whatever the pushes next to it send.
  await deployBystander(d, 'steady');
});
after(async () => {
  await d?.stop();
});

async function steadyAnswers(): Promise<void> {
  const response = await d.get('steady');
  assert.equal(response.status, 200, response.body);
  assert.equal(response.body, 'steady\n');
}

describe('a push is bounded by what its objects inflate to', () => {
  it('a small pack holding a 1 GiB blob of zeros is refused by its size; Dormant stays under 512 MiB and another app answers during the push', async (t: TestContext) => {
    const zerosMiB = Number(process.env.DORMANT_TEST_ZEROS_MIB ?? 1024);
    const copy = await WorkingCopy.create(d.work, 'zeros', d.adminKey);
    await copy.commit(nodeApp('zeros'));
    // The blob goes into the client's repository as a pack of its own, made here (git would hash and deflate 1 GiB slowly).
    const packFile = join(copy.dir, '.git', 'objects', 'pack', 'pack-zeros.pack');
    const blob = await writeZerosPack(packFile, zerosMiB * MiB, zerosMiB * MiB);
    const indexed = await copy.git('index-pack', packFile);
    assert.equal(indexed.code, 0, indexed.stderr);
    assert.equal((await copy.git('update-index', '--add', '--cacheinfo', `100644,${blob},zeros.bin`)).code, 0);
    assert.equal((await copy.git('commit', '-q', '-m', 'a blob of zeros')).code, 0);
    await steadyAnswers();
    const rssBefore = await peakRssMiB(d.pid);

    const started = performance.now();
    const { result: pushed, statuses } = await askingWhile(d, 'steady', copy.push(d.remote('zeros')));
    const pushMs = performance.now() - started;
    const rssPeak = await peakRssMiB(d.pid);
    t.diagnostic(`${zerosMiB} MiB of zeros (a pack of ${((await stat(packFile)).size / MiB).toFixed(1)} MiB): push ${pushMs.toFixed(0)} ms; dormant up VmHWM ${rssBefore.toFixed(0)} MiB before, ${rssPeak.toFixed(0)} MiB after; steady answered ${statuses.filter((s) => s === 200).length}/${statuses.length} during the push`);
    assert.notEqual(pushed.code, 0);
    assert.match(
      pushed.stderr,
      /remote: error \[GITD_OBJECT_TOO_LARGE\]: object \d+ of \d+ in the pack \(a blob at byte \d+\) inflates to 1024 MiB, over the 100 MiB limit for one object; nothing was stored\. .*--max-object-mb/,
    );
    assert.ok(rssPeak < 512, `dormant up peaked at ${rssPeak.toFixed(0)} MiB`);
    assert.ok(statuses.length >= 1 && statuses.every((s) => s === 200), `steady answered ${statuses.join(',')} during the push`);
    await assertNoTrace(d, 'zeros');
    await steadyAnswers();
  });

  it('100 MiB of zeros and 19 tiny deltas each making 100 MiB are refused for what indexing would rebuild; Dormant stays under 512 MiB and another app answers', async (t: TestContext) => {
    const copy = await WorkingCopy.create(d.work, 'chain', d.adminKey);
    await copy.commit(nodeApp('chain'));
    // Into the client's repository as a pack of its own; git push sends its deltas as they are.
    const packFile = join(copy.dir, '.git', 'objects', 'pack', 'pack-chain.pack');
    await writeDeltaChainPack(packFile, 100, 19);
    const indexed = await copy.git('index-pack', packFile);
    assert.equal(indexed.code, 0, indexed.stderr);
    const oids = (await runProgram('git', ['show-index'], { cwd: copy.dir, input: await readFile(packFile.replace(/\.pack$/, '.idx')) })).stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '');
    assert.equal(oids.length, 20);
    for (const [i, oid] of oids.entries()) assert.equal((await copy.git('update-index', '--add', '--cacheinfo', `100644,${oid},zeros-${i}.bin`)).code, 0);
    assert.equal((await copy.git('commit', '-q', '-m', 'twenty versions of 100 MiB')).code, 0);
    await steadyAnswers();

    const started = performance.now();
    const { result: pushed, statuses } = await askingWhile(d, 'steady', copy.push(d.remote('chain')));
    const rssPeak = await peakRssMiB(d.pid);
    t.diagnostic(`a pack of ${((await stat(packFile)).size / 1024).toFixed(0)} KiB: push ${(performance.now() - started).toFixed(0)} ms; dormant up VmHWM ${rssPeak.toFixed(0)} MiB; steady answered ${statuses.filter((s) => s === 200).length}/${statuses.length} during the push`);
    assert.notEqual(pushed.code, 0);
    assert.match(
      pushed.stderr,
      /remote: error \[GITD_DELTA_CHAIN_TOO_LARGE\]: indexing this push would build over 2048 MiB of objects \(passed at object \d+ of \d+, a ofs-delta at byte \d+: delta \d+ of a chain over objects larger than 8 MiB, each of which is rebuilt from the start of the chain, \d+ MiB for this one alone\); nothing was stored\. Push the history of large files in parts .*--max-push-mb/,
    );
    assert.ok(rssPeak < 512, `dormant up peaked at ${rssPeak.toFixed(0)} MiB`);
    assert.ok(statuses.length >= 1 && statuses.every((s) => s === 200), `steady answered ${statuses.join(',')} during the push`);
    await assertNoTrace(d, 'chain');
    await steadyAnswers();
  });

  it('a blob whose header says 50 MiB while it inflates to 300 MiB is refused while it inflates, not after', async () => {
    const packFile = join(d.work, 'liar.pack');
    await writeZerosPack(packFile, 50 * MiB, 300 * MiB);
    const sent = await rawReceivePack(d, 'liar', Buffer.concat([createMainCommand('1'.repeat(40)), await readFile(packFile)]));
    assert.match(sent.stderr, /error \[GITD_BAD_PACK\]: object 1 of 1 \(a blob at byte 12\) inflates to more than the 52428800 bytes its header declares; nothing was stored/);
    assert.match(sent.stdout, /unpack object 1 of 1/);
    assert.ok((await peakRssMiB(d.pid)) < 512);
    await assertNoTrace(d, 'liar');
    await steadyAnswers();
  });
});

describe('limits of one object, one push and objects per push, set by flags', () => {
  let small: DormantUp;
  before(async () => {
    small = await startDormant(['--max-object-mb', '1', '--max-push-mb', '3', '--max-objects-per-push', '12']);
  });
  after(async () => {
    await small?.stop();
  });

  it('an object over --max-object-mb is refused, naming it, its size and the flag', async () => {
    const copy = await WorkingCopy.create(small.work, 'one-big', small.adminKey);
    await copy.commit({ ...nodeApp('big'), 'big.bin': randomBytes(0.75 * MiB).toString('hex') });
    const pushed = await copy.push(small.remote('one-big'));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /remote: error \[GITD_OBJECT_TOO_LARGE\]: object \d+ of \d+ in the pack \(a blob at byte \d+\) inflates to \d\.\d MiB, over the 1 MiB limit for one object; .*--max-object-mb/);
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(unpacker error\)/);
    assert.equal(existsSync(join(small.stateDir, 'repos', 'one-big.git')), false);
  });

  it('objects that together inflate to over --max-push-mb are refused, naming the flag', async () => {
    const copy = await WorkingCopy.create(small.work, 'many', small.adminKey);
    const blobs = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`part-${i}.bin`, randomBytes(0.45 * MiB).toString('hex')]));
    await copy.commit({ ...nodeApp('many'), ...blobs });
    const pushed = await copy.push(small.remote('many'));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /remote: error \[GITD_PUSH_TOO_LARGE\]: the objects of this push inflate to over 3 MiB \(passed at object \d+ of \d+\); .*--max-push-mb/);
    assert.equal(existsSync(join(small.stateDir, 'repos', 'many.git')), false);
  });

  it('a push of more objects than --max-objects-per-push is refused from the pack header, naming the count and the flag', async () => {
    const copy = await WorkingCopy.create(small.work, 'many-files', small.adminKey);
    const files = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`file-${i}.txt`, `file ${i}\n`]));
    await copy.commit({ ...nodeApp('many-files'), ...files });
    const pushed = await copy.push(small.remote('many-files'));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /remote: error \[GITD_TOO_MANY_OBJECTS\]: this push sends 24 objects, over the limit of 12; nothing was stored\. Push the history in parts .*--max-objects-per-push/);
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(unpacker error\)/);
    await assertNoTrace(small, 'many-files');
    // Twelve objects go through.
    const fewer = await WorkingCopy.create(small.work, 'few-files', small.adminKey);
    await fewer.commit({ ...nodeApp('few-files'), ...Object.fromEntries(Object.entries(files).slice(0, 8)) });
    const accepted = await fewer.push(small.remote('few-files'));
    assert.equal(accepted.code, 0, accepted.stderr);
  });
});

describe('refs per push and ref names', () => {
  it('a push of 1,001 refs is refused as a whole; nothing is stored', async () => {
    const copy = await WorkingCopy.create(d.work, 'tags', d.adminKey);
    await copy.commit(nodeApp('tags'));
    const head = (await copy.git('rev-parse', 'HEAD')).stdout.trim();
    const creates = Array.from({ length: 1000 }, (_, i) => `create refs/tags/t${i} ${head}\n`).join('');
    const made = await runProgram('git', ['update-ref', '--stdin'], { cwd: copy.dir, input: creates });
    assert.equal(made.code, 0, made.stderr);
    const pushed = await copy.push(d.remote('tags'), 'main', 'refs/tags/*');
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /remote: error \[GITD_TOO_MANY_REFS\]: this push updates 1001 refs, over the limit of 1000; nothing was stored\. .*--max-refs-per-push/);
    await assertNoTrace(d, 'tags');
    // The same refs in groups go through.
    assert.equal((await copy.push(d.remote('tags'), 'main', 'refs/tags/t1*')).code, 0);
  });

  it('a ref name over 1,024 bytes is refused with its length', async () => {
    const copy = await WorkingCopy.create(d.work, 'longref', d.adminKey);
    await copy.commit(nodeApp('longref'));
    const long = `refs/heads/${Array.from({ length: 6 }, (_, i) => String(i).repeat(200)).join('/')}`;
    const pushed = await copy.push(d.remote('longref'), `main:${long}`);
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /remote: error \[GITD_REF_NAME_TOO_LONG\]: the ref refs\/heads\/0+\.\.\.5+ is too long: 1216 bytes, over the limit of 1024/);
    await assertNoTrace(d, 'longref');
  });
});

describe('bad packs are answered with what is wrong and leave nothing', () => {
  it('a pack cut short says how many objects arrived; no repository, no App', async () => {
    const copy = await WorkingCopy.create(d.work, 'cut', d.adminKey);
    const commit = await copy.commit({ ...nodeApp('cut'), 'data.txt': randomBytes(64 * 1024).toString('hex') });
    const packed = spawnSync('git', ['pack-objects', '--stdout', '--revs'], { cwd: copy.dir, input: 'HEAD\n' });
    assert.equal(packed.status, 0, packed.stderr.toString());
    const pack = packed.stdout;
    const sent = await rawReceivePack(d, 'cut', Buffer.concat([createMainCommand(commit), pack.subarray(0, Math.floor(pack.length * 0.6))]));
    assert.doesNotMatch(sent.stderr, /failed internally/);
    assert.match(sent.stderr, /error \[GITD_BAD_PACK\]: the pack ends after \d of \d objects \(it was cut short on the way\); nothing was stored/);
    assert.match(sent.stdout, /unpack the pack ends after/);
    await assertNoTrace(d, 'cut');
    await steadyAnswers();
  });

  it('garbage as a first push leaves no repository and no App', async () => {
    const garbage = Buffer.concat([Buffer.from('PACK\0\0\0\x02\0\0\0\x03', 'latin1'), objectHeader(3, 100), randomBytes(300)]);
    const sent = await rawReceivePack(d, 'garbage', Buffer.concat([createMainCommand('2'.repeat(40)), garbage]));
    assert.match(sent.stderr, /error \[GITD_BAD_PACK\]: object 1 of 3 \(a blob at byte 12\) is not valid zlib data/);
    const notPack = await rawReceivePack(d, 'garbage', Buffer.concat([createMainCommand('2'.repeat(40)), deflateSync(randomBytes(100))]));
    assert.match(notPack.stderr, /error \[GITD_BAD_PACK\]: the data after the commands is not a git pack/);
    await assertNoTrace(d, 'garbage');
  });

  it('a first push whose build fails leaves no repository and no App; the name can be pushed again', async () => {
    const copy = await WorkingCopy.create(d.work, 'firstfail', d.adminKey);
    await copy.commit({ 'package.json': JSON.stringify({ name: 'ff', scripts: { build: 'exit 3', start: 'node server.js' } }) });
    const pushed = await copy.push(d.remote('firstfail'));
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(build failed: npm run build exited 3\)/);
    await assertNoTrace(d, 'firstfail');
    await copy.commit(nodeApp('fixed'));
    assert.equal((await copy.push(d.remote('firstfail'))).code, 0);
    assert.equal((await d.get('firstfail')).body, 'fixed\n');
  });
});
