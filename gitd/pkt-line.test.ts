import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGitCommand } from './git-command.js';
import { flushPkt, parseUpdateRequest, PktLineError, pktLine, readPktSection, sideBand, writeRefAdvertisement, writeReportStatus, zeroOid } from './pkt-line.js';

const a = 'a'.repeat(40);
const b = 'b'.repeat(40);

describe('pkt-line codec', () => {
  it('frames payloads with their byte length, counting multi-byte characters as bytes', () => {
    assert.equal(pktLine('hello\n').toString(), '000ahello\n');
    assert.equal(pktLine('é').toString(), '0006é');
    assert.equal(flushPkt.toString(), '0000');
  });

  it('an empty repository advertises capabilities^{} with the zero id', () => {
    const text = writeRefAdvertisement([], ['report-status', 'side-band-64k']).toString();
    assert.equal(text, `0059${zeroOid} capabilities^{}\0report-status side-band-64k\n0000`);
  });

  it('advertises refs with capabilities on the first line only', () => {
    const text = writeRefAdvertisement([{ name: 'refs/heads/main', oid: a }, { name: 'refs/heads/dev', oid: b }], ['atomic']).toString();
    assert.match(text, new RegExp(`^....${a} refs/heads/main\0atomic\n....${b} refs/heads/dev\n0000$`));
  });

  it('reads update commands and capabilities up to the flush, leaving the pack', () => {
    // Captured from git 2.39 pushing a new branch: the first command carries the capabilities.
    const wire = Buffer.concat([
      pktLine(`${zeroOid} ${a} refs/heads/main\0 report-status side-band-64k agent=git/2.39.5`),
      pktLine(`${b} ${a} refs/heads/dev`),
      flushPkt,
      Buffer.from('PACK\0\0\0\x02'),
    ]);
    assert.equal(readPktSection(wire.subarray(0, 20)), undefined, 'needs more bytes');
    const section = readPktSection(wire);
    assert.ok(section);
    assert.equal(section.rest.toString('latin1'), 'PACK\0\0\0\x02');
    const request = parseUpdateRequest(section.lines);
    assert.deepEqual(request.updates, [
      { oldOid: zeroOid, newOid: a, ref: 'refs/heads/main' },
      { oldOid: b, newOid: a, ref: 'refs/heads/dev' },
    ]);
    assert.deepEqual([...request.capabilities], ['report-status', 'side-band-64k', 'agent=git/2.39.5']);
  });

  it('rejects bytes that are not pkt-lines, and commands that are not updates', () => {
    assert.throws(() => readPktSection(Buffer.from('GET / HTTP/1.1\r\n')), PktLineError);
    assert.throws(() => readPktSection(Buffer.from('0002')), /length 2 is not allowed/);
    assert.throws(() => parseUpdateRequest(['hello']), /not an update command/);
    assert.throws(() => parseUpdateRequest([`${a} ${b} main`]), /not an update command/);
    assert.throws(() => parseUpdateRequest([`shallow ${a}`]), /shallow pushes are not supported/);
  });

  it('reports unpack and per-ref results, then a flush', () => {
    const text = writeReportStatus(undefined, [
      { ref: 'refs/heads/main', error: undefined },
      { ref: 'refs/heads/dev', error: 'non-fast-forward\nsecond line' },
    ]).toString();
    assert.equal(text, '000eunpack ok\n0017ok refs/heads/main\n0033ng refs/heads/dev non-fast-forward second line\n0000');
  });

  it('keeps an unpack error and a reason on one line whatever control characters they hold', () => {
    const text = writeReportStatus('index failed:\nline two\r\0', [{ ref: 'refs/heads/main', error: 'bad\tpack\n' }]).toString();
    assert.equal(text, '0023unpack index failed: line two \n0021ng refs/heads/main bad pack \n0000');
  });

  it('splits side-band data into pkt-lines of at most 65520 bytes with the band first', () => {
    const framed = sideBand(1, Buffer.alloc(70_000, 'x'));
    assert.equal(framed.subarray(0, 5).toString('latin1'), 'fff0\x01');
    assert.equal(framed.length, 70_000 + 2 * 5);
    assert.equal(sideBand(2, 'hi\n').toString(), '0008\x02hi\n');
  });
});

describe('git command over ssh', () => {
  const rows: readonly [string, string][] = [
    ["git-receive-pack 'hello'", 'hello'],
    ["git-receive-pack '/hello.git'", 'hello'],
    ["git-receive-pack '/hello'", 'hello'],
    ['git-receive-pack hello.git', 'hello'],
  ];
  for (const [command, app] of rows) {
    it(`${command} pushes to ${app}`, () => assert.deepEqual(parseGitCommand(command), { ok: true, service: 'git-receive-pack', app }));
  }

  it('refuses shells, other commands and fetches with a message', () => {
    const message = (command: string) => {
      const parsed = parseGitCommand(command);
      return parsed.ok ? 'accepted' : `${parsed.error.code}: ${parsed.error.message}`;
    };
    assert.match(message('bash'), /^GITD_BAD_COMMAND: Dormant does not run "bash": it has no shell and accepts git push only/);
    assert.match(message("git-upload-pack '/hello.git'"), /^GITD_NOT_SUPPORTED: git-upload-pack \(fetch and clone\) is not supported yet/);
    assert.match(message("git-receive-pack 'Hello_World'"), /^GITD_BAD_APP_NAME: "Hello_World" cannot be an app name: .*lower-case letters/);
    assert.match(message(`git-receive-pack '${'a'.repeat(41)}'`), /longer than the 40 allowed/);
    assert.match(message('git-receive-pack'), /^GITD_BAD_COMMAND: .*needs one repository path/);
    assert.match(message("git-receive-pack 'a'; rm -rf /"), /^GITD_BAD_COMMAND: .*needs one repository path/);
  });
});
