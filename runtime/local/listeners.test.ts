import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listeningPorts, strayPorts } from './listeners.js';

// As the kernel writes them: a listener on 0.0.0.0:5000 (1388) by uid 1003, one on 127.0.0.1:41234 (A0D2) by 1003, an established connection of 1003, a listener of uid 0.
const tcp = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1003        0 51234 1 0000000000000000 100 0 0 10 0',
  '   1: 0100007F:A0D2 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1003        0 51235 1 0000000000000000 100 0 0 10 0',
  '   2: 0100007F:A0D2 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1003        0 51236 1 0000000000000000 20 4 30 10 -1',
  '   3: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0',
].join('\n');
const tcp6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1003        0 61234 1 0000000000000000 100 0 0 10 0',
].join('\n');

describe('listeners', () => {
  it("the ports a user listens on, from tcp and tcp6, not others' nor connections", () => {
    assert.deepEqual(listeningPorts(tcp, 1003), [5000, 41170]);
    assert.deepEqual(listeningPorts(tcp6, 1003), [8080]);
    assert.deepEqual(listeningPorts(tcp, 1004), []);
    assert.deepEqual(listeningPorts('garbage\nmore garbage', 1003), []);
  });
  it('the stray ones: listened on, given to no replica', () => {
    assert.deepEqual(strayPorts([5000, 41170, 8080], new Set([41170])), [5000, 8080]);
  });
});
