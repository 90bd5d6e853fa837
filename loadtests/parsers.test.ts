// The benchmark's parsers and table, on captured tool output (the benchmarks themselves run with npm run bench).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTable } from './report.js';
import { percentile, summarize } from './vegeta.js';
import { parseWrk } from './wrk.js';

const wrkOutput = `Running 2s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.80ms  512.34us   9.12ms   90.12%
    Req/Sec    27.50k     1.20k   29.10k    85.00%
  Latency Distribution
     50%  850.00us
     75%    1.90ms
     90%    2.20ms
     99%    1.02s
  54712 requests in 2.00s, 6.21MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  27342.18
Transfer/sec:      3.10MB
`;

describe('benchmark parsers', () => {
  it('reads requests/s, p50 and p99 in their units, and every kind of error from wrk --latency', () => {
    assert.deepEqual(parseWrk(wrkOutput), { rps: 27342.18, p50Ms: 0.85, p99Ms: 1020, errors: 9 });
  });

  it('takes nearest-rank percentiles and counts non-2xx/3xx answers and transport errors as failed', () => {
    assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
    assert.equal(percentile([5, 1, 4, 2, 3], 99), 5);
    const hit = (code: number, error = '') => ({ atMs: 0, latencyMs: code / 100, code, error, body: 'b', coldStartMs: undefined });
    const summary = summarize([hit(200), hit(302), hit(503), hit(0, 'connection refused')]);
    assert.equal(summary.requests, 4);
    assert.equal(summary.failed, 2);
    assert.deepEqual(summary.failures, ['503 b', '0 connection refused']);
  });

  it('prints each figure beside its reference and their ratio', () => {
    const table = formatTable([
      { figure: 'throughput', value: 15000, unit: 'req/s', reference: { name: 'nginx', value: 30000 } },
      { figure: 'failed', value: 0, unit: 'of 100' },
    ]);
    assert.match(table, /^FIGURE\s+VALUE\s+REFERENCE \(same run\)\s+RATIO\nthroughput\s+15000 req\/s\s+30000 \(nginx\)\s+0\.50x\nfailed\s+0 of 100$/);
  });
});
