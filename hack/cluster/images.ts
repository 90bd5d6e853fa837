/**
 * The test cluster's images, made with builder/'s image writer and pushed to the cluster's
 * registry (nothing can be pulled from the internet here):
 *  - dormant/pause: the static pause binary (hack/cluster/pause.c) from scratch, the
 *    pod sandbox image containerd pulls;
 *  - dormant/cluster-hello: a small HTTP server on the bootstrapped node:20-slim base, the
 *    smoke test's workload.
 * Usage: node --import tsx hack/cluster/images.ts REGISTRY PAUSE_BINARY OUT_ENV_FILE
 * Writes PAUSE_IMAGE=... (by tag, the sandbox image must be named in containerd's config
 * before it exists) and HELLO_IMAGE=... (by digest) to OUT_ENV_FILE.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureInRegistry, layerImage, RegistryClient } from '../../builder/index.js';

const [registryHost, pauseBinary, outFile] = process.argv.slice(2);
if (registryHost === undefined || pauseBinary === undefined || outFile === undefined) {
  console.error('usage: images.ts REGISTRY PAUSE_BINARY OUT_ENV_FILE');
  process.exit(2);
}
const registry = new RegistryClient(registryHost);
const now = new Date(0);
const work = await mkdtemp(join(tmpdir(), 'dormant-cluster-images-'));
try {
  const pauseDir = join(work, 'pause');
  await mkdir(pauseDir);
  await copyFile(pauseBinary, join(pauseDir, 'pause'));
  const pauseTag = '1';
  await layerImage({ registry, repository: 'dormant/pause', tag: pauseTag, layerDir: pauseDir, command: ['/app/pause'], now });

  await ensureInRegistry({ registry, localImage: 'docker.io/library/node:20-slim', repository: 'library/node', tag: '20-slim', onLine: (line) => console.error(line) });
  const helloDir = join(work, 'hello');
  await mkdir(helloDir);
  await writeFile(
    join(helloDir, 'server.js'),
    [
      "const http = require('node:http');",
      "const os = require('node:os');",
      'const port = Number(process.env.PORT ?? 8080);',
      "http.createServer((request, response) => response.end('hello from ' + os.hostname() + '\\n')).listen(port, () => console.log('listening on ' + port));",
      "process.on('SIGTERM', () => process.exit(0));",
      '',
    ].join('\n'),
  );
  const hello = await layerImage({
    registry,
    base: { repository: 'library/node', tag: '20-slim' },
    repository: 'dormant/cluster-hello',
    tag: 'smoke',
    layerDir: helloDir,
    command: ['node', 'server.js'],
    env: { PORT: '8080' },
    now,
  });
  await writeFile(outFile, `PAUSE_IMAGE=${registryHost}/dormant/pause:${pauseTag}\nHELLO_IMAGE=${hello.reference}\n`);
} finally {
  await rm(work, { recursive: true, force: true });
}
