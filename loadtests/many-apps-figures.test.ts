// The many-apps measurement's parsers, on captured /proc and strace output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countStoreSyscalls, cpuTicksOf, rssMibOf, summarizePushes } from './many-apps-figures.js';

// /proc/PID/stat of a node process whose name holds a space and a parenthesis.
const statLine = '14019 (node (x) y) S 13905 14019 13905 0 -1 4194560 52094 1203 0 0 1234 567 89 10 20 0 11 0 1702353 1290280960 37131 18446744073709551615';

// strace -f -e trace=openat,rename,renameat,renameat2 of dormant up, cut down.
const straceLog = [
  '12981 openat(AT_FDCWD, "/tmp/d/state/objects/apps/default/app-00001.json", O_RDONLY|O_CLOEXEC) = 27',
  '12984 openat(AT_FDCWD, "/tmp/d/state/objects/apps/default/app-00002.json", O_RDONLY|O_CLOEXEC <unfinished ...>',
  '12984 <... openat resumed>)             = 30',
  '12981 openat(AT_FDCWD, "/tmp/d/state/objects/revisions/default/app-00001-00001.json", O_RDONLY|O_CLOEXEC) = 28',
  '12981 openat(AT_FDCWD, "/tmp/d/state/objects/resource-version", O_RDONLY|O_CLOEXEC) = 29',
  '12985 openat(AT_FDCWD, "/tmp/d/state/objects/apps/default/.app-00003.json.tmp-14019-ab12cd34", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600) = 31',
  '12985 rename("/tmp/d/state/objects/apps/default/.app-00003.json.tmp-14019-ab12cd34", "/tmp/d/state/objects/apps/default/app-00003.json" <unfinished ...>',
  '12986 renameat2(AT_FDCWD, "/tmp/d/state/objects/.resource-version.tmp-14019-0011aabb", AT_FDCWD, "/tmp/d/state/objects/resource-version", 0) = 0',
  '12986 rename("/tmp/d/state/objects/revisions/default/.r.json.tmp-1-aa", "/tmp/d/state/objects/revisions/default/r.json") = 0',
  '12981 openat(AT_FDCWD, "/tmp/d/state/objects/apps/default", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = 32',
].join('\n');

describe('many-apps figures', () => {
  it('takes utime and stime after the last parenthesis of the command name, and the reaped children only when asked', () => {
    assert.equal(cpuTicksOf(statLine, false), 1234 + 567);
    assert.equal(cpuTicksOf(statLine, true), 1234 + 567 + 89 + 10);
  });

  it('reads VmRSS in MiB', () => {
    assert.equal(rssMibOf('Name:\tnode\nVmRSS:\t  148480 kB\nRssAnon:\t 100 kB\n'), 145);
  });

  it('counts object reads, counter opens and atomic writes by kind; temp files and folders are not reads', () => {
    assert.deepEqual(countStoreSyscalls(straceLog), { appOpens: 2, revisionOpens: 1, counterOpens: 1, appWrites: 1, revisionWrites: 1 });
  });

  it('gives the push times at 1, 10, 100, 500 and N, the slope per 100 apps, and the failures', () => {
    const summary = summarizePushes(Array.from({ length: 1000 }, (_, i) => (i === 41 ? undefined : 0.2 + i * 0.0004)));
    assert.deepEqual(summary.at.map((m) => m.index), [1, 10, 100, 500, 1000]);
    assert.equal(summary.at[0]?.seconds, 0.2);
    assert.ok(Math.abs(summary.slopePer100 - 0.04) < 1e-9, String(summary.slopePer100));
    assert.equal(summary.failed, 1);
    // Push 42 failed: 49 pushes in the first block, the 25th of them is the median.
    assert.equal(summary.firstBlock.size, 50);
    assert.ok(Math.abs(summary.firstBlock.median - (0.2 + 24 * 0.0004)) < 1e-9);
    assert.equal(summary.lastBlock.size, 50);
    assert.ok(Math.abs(summary.lastBlock.median - (0.2 + 974.5 * 0.0004)) < 1e-9);
    assert.deepEqual(summarizePushes([0.3, 0.9, 0.5]).firstBlock, { size: 1, median: 0.3 });
    assert.deepEqual(summarizePushes([0.5, 0.7]).at, [{ index: 1, seconds: 0.5 }, { index: 2, seconds: 0.7 }]);
  });
});
