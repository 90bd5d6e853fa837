import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitingPage } from './pages.js';
import { wantsWaitingPage } from './request-path.js';

describe('the waiting page', () => {
  it('answers a browser’s page load only: a GET asking for HTML that is not the page’s own wait', () => {
    assert.equal(wantsWaitingPage('GET', 'text/html,application/xhtml+xml,*/*;q=0.8', 'navigate', undefined), true);
    assert.equal(wantsWaitingPage('GET', 'text/html,application/xhtml+xml', undefined, undefined), false, 'no Sec-Fetch-Mode: not known to be a browser');
    assert.equal(wantsWaitingPage('GET', 'text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2', 'cors', undefined), false);
    assert.equal(wantsWaitingPage('GET', 'application/json', 'navigate', undefined), false);
    assert.equal(wantsWaitingPage('GET', undefined, 'navigate', undefined), false);
    assert.equal(wantsWaitingPage('POST', 'text/html', 'navigate', undefined), false);
    assert.equal(wantsWaitingPage('GET', 'text/html', 'navigate', '1'), false);
  });

  it('names the app, and waits for it with a request held as an API client’s', () => {
    const page = waitingPage('shop');
    assert.match(page, /<strong>shop<\/strong> is starting\./);
    assert.match(page, /'x-dormant-waiting': '1'/);
    assert.match(page, /<noscript><meta http-equiv="refresh" content="2"><\/noscript>/);
  });
});
