// The load generators and the reference proxy: vegeta built from its Go module by
// hack/vegeta.sh, wrk and nginx from Debian. Installed when missing, never committed.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface BenchTools {
  readonly vegeta: string;
  readonly wrk: string;
  readonly nginx: string;
}

function which(program: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

export class BenchSetupError extends Error {}

/** wrk and nginx from Debian's packages (apt-get as root), vegeta from hack/vegeta.sh. */
export function ensureTools(log: (line: string) => void): BenchTools {
  const missing = [
    ['wrk', 'wrk'],
    ['nginx', 'nginx-light'],
  ].filter(([program]) => which(program ?? '') === undefined && !(program === 'nginx' && which('/usr/sbin/nginx')));
  if (missing.length > 0) {
    const packages = missing.map(([, pkg]) => pkg ?? '');
    if (process.getuid?.() !== 0) throw new BenchSetupError(`install ${packages.join(' and ')} first: sudo apt-get install ${packages.join(' ')}`);
    log(`installing ${packages.join(', ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['install', '-yq', '--no-install-recommends', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env });
  }
  const script = fileURLToPath(new URL('../hack/vegeta.sh', import.meta.url));
  const built = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (built.status !== 0) throw new BenchSetupError('hack/vegeta.sh could not build vegeta (see above)');
  return { vegeta: built.stdout.trim(), wrk: which('wrk') ?? 'wrk', nginx: which('nginx') ?? '/usr/sbin/nginx' };
}
