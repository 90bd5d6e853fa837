import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cgroupFiles, ownCgroupFolders, statTicks } from './host-cgroups.js';
import { cpuMillis, memoryBytes, replicaLimits } from './limits.js';

describe('quantities', () => {
  for (const [text, bytes] of [
    ['256Mi', 256 * 1024 ** 2],
    ['1Gi', 1024 ** 3],
    ['500M', 500e6],
    ['128974848', 128974848],
    ['64Ki', 65536],
  ] as const) {
    it(`${text} is ${bytes} bytes`, () => assert.equal(memoryBytes(text), bytes));
  }
  for (const [text, millis] of [
    ['250m', 250],
    ['1', 1000],
    ['1.5', 1500],
    ['0.1', 100],
  ] as const) {
    it(`${text} CPU is ${millis} millicores`, () => assert.equal(cpuMillis(text), millis));
  }
  for (const bad of ['', '1.5Gi', '-1', 'lots', '1e3']) it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(memoryBytes(bad) ?? cpuMillis(bad), undefined));
});

describe('replicaLimits', () => {
  const rows = [
    { name: 'nothing said: 512Mi, no CPU ceiling, the weight of one CPU, 1024 processes', resources: undefined, want: { memoryBytes: 512 * 1024 ** 2, cpuShares: 1024, pids: 1024 } },
    { name: 'a memory limit', resources: { limits: { memory: '64Mi' } }, want: { memoryBytes: 64 * 1024 ** 2, cpuShares: 1024, pids: 1024 } },
    { name: 'a memory request alone is the limit', resources: { requests: { memory: '1Gi' } }, want: { memoryBytes: 1024 ** 3, cpuShares: 1024, pids: 1024 } },
    { name: 'the limit wins over the request', resources: { requests: { memory: '1Gi' }, limits: { memory: '2Gi' } }, want: { memoryBytes: 2 * 1024 ** 3, cpuShares: 1024, pids: 1024 } },
    {
      name: 'a CPU limit is a CFS quota per 100 ms; a CPU request is shares, as the kubelet computes them',
      resources: { requests: { cpu: '250m' }, limits: { cpu: '1.5' } },
      want: { memoryBytes: 512 * 1024 ** 2, cpuQuotaMicros: 150_000, cpuShares: 256, pids: 1024 },
    },
    { name: 'a tiny CPU limit gets the kernel\'s smallest quota; a tiny request 2 shares', resources: { requests: { cpu: '1m' }, limits: { cpu: '1m' } }, want: { memoryBytes: 512 * 1024 ** 2, cpuQuotaMicros: 1000, cpuShares: 2, pids: 1024 } },
  ];
  for (const row of rows) it(row.name, () => assert.deepEqual(replicaLimits(row.resources), row.want));
  it('huge quantities are clamped to what the kernel takes', () => {
    assert.deepEqual(replicaLimits({ requests: { cpu: '99999999' }, limits: { memory: '9999999999999Ti', cpu: '99999999' } }), { memoryBytes: 2 ** 50, cpuQuotaMicros: 100_000_000, cpuShares: 262_144, pids: 1024 });
  });
});

describe('ownCgroupFolders', () => {
  const mounts = [
    'tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0',
    'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0',
    'cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0',
    'cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0',
    'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0',
  ].join('\n');
  const self = ['12:pids:/', '4:memory:/process_api/abc', '2:cpu,cpuacct:/', '0::/'].join('\n');
  it("joins each controller's mount with this process's cgroup in it", () => {
    assert.deepEqual(ownCgroupFolders(mounts, self), { memory: '/sys/fs/cgroup/memory/process_api/abc', cpu: '/sys/fs/cgroup/cpu,cpuacct', pids: '/sys/fs/cgroup/pids' });
  });
  it('a cgroup v2 host says it is not supported yet', () => {
    assert.match(String(ownCgroupFolders('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0', '0::/user.slice')), /cgroup v1 memory controller is not mounted \(a cgroup v2 host is not supported yet\)/);
  });
});

describe('cgroupFiles', () => {
  it('writes the quota only when there is a CPU limit', () => {
    assert.deepEqual(cgroupFiles({ memoryBytes: 1, cpuShares: 2, pids: 3 }), {
      memory: [
        ['memory.limit_in_bytes', '1'],
        ['memory.memsw.limit_in_bytes', '1'],
      ],
      cpu: [['cpu.shares', '2']],
      pids: [['pids.max', '3']],
    });
    assert.deepEqual(cgroupFiles({ memoryBytes: 1, cpuShares: 2, cpuQuotaMicros: 50_000, pids: 3 }).cpu, [
      ['cpu.shares', '2'],
      ['cpu.cfs_quota_us', '50000'],
    ]);
  });
});

describe('statTicks', () => {
  it('sums utime, stime, cutime and cstime, after a command name with spaces and parentheses', () => {
    assert.equal(statTicks('4242 (node (a) b) S 1 4242 4242 0 -1 4194560 500 0 0 0 120 30 7 3 20 0 11 0 100 1000 50'), 160);
    assert.equal(statTicks('garbage'), undefined);
  });
});
