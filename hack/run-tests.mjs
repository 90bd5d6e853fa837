// Finds every *.test.ts outside node_modules and runs them with Node's test runner, then
// the cluster tests (test/cluster/*.cluster.ts) through hack/cluster/test.sh, which brings
// the single-node Kubernetes cluster up and down around them. Node 20's --test takes no
// recursive globs, hence this file. Extra arguments filter both, so `npm test -- crds`
// runs only test files whose path contains "crds".
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const skip = new Set(['node_modules', 'dist', '.dormant', '.git']);
const found = [];
const clusterFound = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('.test.ts')) found.push(relative(root, path));
    else if (entry.name.endsWith('.cluster.ts')) clusterFound.push(relative(root, path));
  }
};
walk(root);
const filters = process.argv.slice(2);
const matches = (f) => filters.length === 0 || filters.some((x) => f.includes(x));
const files = found.sort().filter(matches);
const clusterFiles = clusterFound.sort().filter(matches);
if (files.length === 0 && clusterFiles.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
let status = 0;
if (files.length > 0) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], { cwd: root, stdio: 'inherit' });
  status = result.status ?? 1;
}
if (clusterFiles.length > 0) {
  if (process.getuid?.() !== 0) {
    console.error(`\ncluster tests skipped (${clusterFiles.join(', ')}): the test cluster runs containerd and a kubelet, which need root; run them with sudo npm run test:cluster`);
  } else {
    console.error(`\ncluster tests: ${clusterFiles.join(', ')} (hack/cluster/test.sh)`);
    const result = spawnSync('bash', [join(root, 'hack', 'cluster', 'test.sh'), ...clusterFiles], { cwd: root, stdio: 'inherit' });
    status ||= result.status ?? 1;
  }
}
process.exit(status);
