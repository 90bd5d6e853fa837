import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Endpoint } from '../runtime.js';
import { EndpointsHub } from './endpoints-hub.js';

const endpoint = (id: string, ready = true): Endpoint => ({ id, address: `127.0.0.1:${1000 + id.length}`, ready, draining: false });

describe('EndpointsHub', () => {
  it('gives a subscriber the current endpoints, then only the newest of the changes it has not read', async () => {
    const hub = new EndpointsHub();
    const reader = hub.subscribe('web', [endpoint('a', false)])[Symbol.asyncIterator]();
    assert.deepEqual((await reader.next()).value, [endpoint('a', false)]);
    hub.publish('web', [endpoint('a')]);
    hub.publish('web', [endpoint('a'), endpoint('bb')]);
    hub.publish('other', [endpoint('x')]);
    assert.deepEqual((await reader.next()).value, [endpoint('a'), endpoint('bb')]);
    hub.close();
    assert.equal((await reader.next()).done, true);
  });

  it('says when the last subscriber of an app leaves, and not before', () => {
    const unwatched: string[] = [];
    const hub = new EndpointsHub((app) => unwatched.push(app));
    const first = new AbortController();
    const second = new AbortController();
    hub.subscribe('web', [], first.signal);
    hub.subscribe('web', [], second.signal);
    assert.equal(hub.watched('web'), true);
    first.abort();
    assert.deepEqual(unwatched, []);
    second.abort();
    assert.deepEqual(unwatched, ['web']);
    assert.equal(hub.watched('web'), false);
  });

  it('ends at once a subscription whose signal is already aborted, without counting it', async () => {
    const hub = new EndpointsHub(() => assert.fail('nobody subscribed, so nobody left'));
    const reader = hub.subscribe('web', [endpoint('a')], AbortSignal.abort())[Symbol.asyncIterator]();
    assert.equal((await reader.next()).done, true);
    assert.equal(hub.watched('web'), false);
  });
});
