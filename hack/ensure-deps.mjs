// Runs `npm ci` when node_modules is missing or older than package-lock.json, so that
// `npm start` and `npm test` are each one command on a fresh clone.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};
const installed = mtime(join(root, 'node_modules', '.package-lock.json'));
if (installed < 0 || installed < mtime(join(root, 'package-lock.json'))) {
  console.error('dormant: installing dependencies (npm ci)...');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('dormant: npm ci failed; fix the error above and run the command again');
    process.exit(result.status ?? 1);
  }
}
