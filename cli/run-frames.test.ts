import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrame, FrameDecoder, maxFramePayload, runArgv, terminalSizeOf } from './run-frames.js';

describe('run frames', () => {
  it('decode what was encoded, in any chunks', () => {
    const bytes = Buffer.concat([encodeFrame('stdout', 'hello'), encodeFrame('stderr', Buffer.from([0, 1, 2])), encodeFrame('stdinEnd'), encodeFrame('resize', '132x40'), encodeFrame('exit', '{"code":7}')]);
    const decoder = new FrameDecoder();
    const frames = [];
    for (let at = 0; at < bytes.length; at += 3) frames.push(...decoder.push(bytes.subarray(at, at + 3)));
    assert.deepEqual(
      frames.map((f) => [f.kind, f.payload.toString('hex')]),
      [
        ['stdout', Buffer.from('hello').toString('hex')],
        ['stderr', '000102'],
        ['stdinEnd', ''],
        ['resize', Buffer.from('132x40').toString('hex')],
        ['exit', Buffer.from('{"code":7}').toString('hex')],
      ],
    );
  });

  it('refuses an unknown kind and an oversized frame', () => {
    assert.throws(() => new FrameDecoder().push(Buffer.from([9, 0, 0, 0, 0])), /unknown frame kind 9/);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(maxFramePayload + 1, 1);
    assert.throws(() => new FrameDecoder().push(head), /over 1048576/);
  });

  it('one word is a shell line, several are argv', () => {
    assert.deepEqual(runArgv(['echo $HOME && ls']), ['/bin/sh', '-c', 'echo $HOME && ls']);
    assert.deepEqual(runArgv(['python', 'manage.py', 'migrate']), ['python', 'manage.py', 'migrate']);
  });
});

describe('terminalSizeOf', () => {
  it('reads COLSxROWS, and nothing else', () => {
    assert.deepEqual(terminalSizeOf('120x40'), { columns: 120, rows: 40 });
    for (const bad of [undefined, '', '0x24', '80x', 'x24', '80x24x1', '99999x24', ['80x24'], '80x24; rm -rf /']) assert.equal(terminalSizeOf(bad), undefined, String(bad));
  });
});
