// What every scenario runs against: a real `dormant up` with the bench app pushed to it
// over git and SSH, the same app started by hand (the direct reference), and nginx in front
// of that one (the proxy reference). Everything on loopback, stopped by PID.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DormantUp, freePort, startDormant, WorkingCopy, waitForPort } from '../test/git-support.js';

export { waitForPort };

/** The app under test: answers with its version after ?sleep= ms. */
export const benchAppFiles = (version: string): Record<string, string> => ({
  'package.json': JSON.stringify({ name: 'bench', version: '1.0.0', scripts: { start: 'node server.js' } }),
  'server.js': [
    "const http = require('node:http');",
    'http.createServer((req, res) => {',
    "  const sleep = Number(new URL(req.url, 'http://x').searchParams.get('sleep') || 0);",
    `  const answer = () => res.end('${version}\\n');`,
    '  if (sleep > 0) setTimeout(answer, sleep); else answer();',
    '}).listen(Number(process.env.PORT));',
    '',
  ].join('\n'),
});

export const benchApp = 'bench';

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

export class BenchEnvironment {
  readonly dormant: DormantUp;
  readonly copy: WorkingCopy;
  readonly directPort: number;
  readonly nginxPort: number;
  readonly #children: ChildProcess[];
  #version = 1;

  private constructor(dormant: DormantUp, copy: WorkingCopy, directPort: number, nginxPort: number, children: ChildProcess[]) {
    this.dormant = dormant;
    this.copy = copy;
    this.directPort = directPort;
    this.nginxPort = nginxPort;
    this.#children = children;
  }

  static async start(nginx: string, log: (line: string) => void): Promise<BenchEnvironment> {
    const dormant = await startDormant([], { metrics: true });
    const children: ChildProcess[] = [];
    try {
      const copy = await WorkingCopy.create(dormant.work, benchApp, dormant.adminKey);
      await copy.commit(benchAppFiles('v1'), 'v1');
      const pushed = await copy.push(dormant.remote(benchApp));
      if (pushed.code !== 0) throw new Error(`pushing the bench app failed:\n${pushed.stderr}`);
      log(`dormant up (pid ${dormant.pid}) serves ${benchApp}.localhost:${dormant.httpPort}`);

      // The same app by hand: the direct reference, and nginx's upstream.
      const directPort = await freePort();
      const direct = spawn(process.execPath, ['server.js'], { cwd: copy.dir, env: { PATH: process.env.PATH, PORT: String(directPort) }, stdio: 'ignore' });
      children.push(direct);
      await waitForPort(directPort);

      const nginxPort = await freePort();
      const nginxDir = join(dormant.work, 'nginx');
      await mkdir(join(nginxDir, 'logs'), { recursive: true });
      await writeFile(
        join(nginxDir, 'nginx.conf'),
        [
          'worker_processes 1;',
          'daemon off;',
          'master_process off;',
          `pid ${join(nginxDir, 'nginx.pid')};`,
          `error_log ${join(nginxDir, 'logs', 'error.log')} warn;`,
          'events { worker_connections 8192; }',
          'http {',
          '  access_log off;',
          `  client_body_temp_path ${nginxDir}/body; proxy_temp_path ${nginxDir}/proxy;`,
          `  fastcgi_temp_path ${nginxDir}/fastcgi; uwsgi_temp_path ${nginxDir}/uwsgi; scgi_temp_path ${nginxDir}/scgi;`,
          `  upstream app { server 127.0.0.1:${directPort}; keepalive 128; }`,
          `  server { listen 127.0.0.1:${nginxPort}; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
          '}',
          '',
        ].join('\n'),
      );
      const proxy = spawn(nginx, ['-c', join(nginxDir, 'nginx.conf'), '-p', nginxDir], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(proxy);
      await waitForPort(nginxPort);
      log(`direct app on 127.0.0.1:${directPort}, nginx (one worker, keep-alive upstream) on 127.0.0.1:${nginxPort}`);
      return new BenchEnvironment(dormant, copy, directPort, nginxPort, children);
    } catch (error) {
      for (const child of children) await stopChild(child);
      await dormant.stop();
      throw error;
    }
  }

  get activatorUrl(): string {
    return `http://127.0.0.1:${this.dormant.httpPort}/`;
  }

  get host(): string {
    return `${benchApp}.localhost`;
  }

  /** `dormant policy set bench ...`. */
  async policy(...assignments: string[]): Promise<void> {
    const result = await this.dormant.dormant('policy', 'set', benchApp, ...assignments);
    if (result.code !== 0) throw new Error(`policy set failed: ${result.stderr}`);
  }

  /** Pushes the next version; resolves with its name and when the push returned (ms since the epoch). */
  async pushNextVersion(): Promise<{ version: string; returnedAtMs: number; seconds: number }> {
    this.#version++;
    const version = `v${this.#version}`;
    await this.copy.commit(benchAppFiles(version), version);
    const started = performance.now();
    const pushed = await this.copy.push(this.dormant.remote(benchApp));
    if (pushed.code !== 0) throw new Error(`push of ${version} failed:\n${pushed.stderr}`);
    return { version, returnedAtMs: Date.now(), seconds: (performance.now() - started) / 1000 };
  }

  /** A metric's value from dormant up's /metrics (sum over matching series). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const response = await fetch(`http://127.0.0.1:${this.dormant.metricsPort}/metrics`);
    const text = await response.text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  async readyReplicas(): Promise<number> {
    return this.metric('dormant_replicas', { app: benchApp, phase: 'ready' });
  }

  /** Until the app (the bench app by default) has no replica at all. */
  async untilAtZero(app = benchApp, timeoutMs = 120_000): Promise<void> {
    const started = performance.now();
    while ((await this.metric('dormant_replicas', { app })) > 0) {
      if (performance.now() - started > timeoutMs) throw new Error(`${app} did not scale to zero within ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Resident memory of dormant up (the activator's process), in MiB. */
  async rssMb(): Promise<number> {
    const status = await readFile(`/proc/${this.dormant.pid}/status`, 'utf8').catch(() => '');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  }

  async stop(): Promise<void> {
    for (const child of this.#children) await stopChild(child);
    await this.dormant.stop();
  }
}
