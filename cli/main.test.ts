import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { Readable } from 'node:stream';
import { type App, apiVersion } from '../crds/index.js';
import { apply } from './commands/apply.js';
import { policySet } from './commands/policy.js';
import { LocalStore } from '../runtime/index.js';
import { commands } from './index.js';
import { runCli, tempStateDir, withStore } from './test-support.js';

/** A real OpenSSH key pair made by ssh-keygen. */
function sshKey(dir: string, name: string, comment: string) {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '';
  return { privatePath: path, publicPath: `${path}.pub`, fingerprint };
}

const revision = (app: string, n: number) => ({
  apiVersion,
  kind: 'Revision' as const,
  metadata: { name: `${app}-${String(n).padStart(5, '0')}`, labels: { 'dormant.dev/app': app } },
  spec: { app, commit: String(n).repeat(40).slice(0, 40), run: {} },
});

describe('dormant (command dispatch)', () => {
  it('help lists every command', async () => {
    const { code, stdout } = await runCli(await tempStateDir(), ['help']);
    assert.equal(code, 0);
    for (const command of commands) assert.ok(stdout.includes(`dormant ${command.name} `), `help lacks ${command.name}`);
    // Grouped by topic, as Heroku's help is, with the Heroku-style names after each.
    assert.match(stdout, /^Config:\n {2}dormant config +Show an app's config vars/m);
    assert.match(stdout, /^ {2}dormant config set +.*\(config:set\)$/m);
    assert.match(stdout, /^Releases:\n {2}dormant releases +/m);
  });

  it('an unknown command exits 2 with a guess', async () => {
    const result = await runCli(await tempStateDir(), ['revisons', 'x']);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'error [CLI_UNKNOWN_COMMAND]: unknown command "revisons" (did you mean revisions?); run dormant help to see every command\n');
  });

  it('a command in a folder no dormant up has used says so, naming the folder and what to set', async () => {
    const parent = await tempStateDir();
    const unused = join(parent, 'elsewhere', '.dormant');
    const listed = await runCli(unused, ['apps']);
    assert.match(listed.stderr, new RegExp(`warning: no dormant up has used the state folder ${unused.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; if yours runs from another folder, run this there, or set DORMANT_HOME \\(or --state-dir\\) to its state folder`));
    // Used (it exists now, or dormant up made it): no warning.
    const again = await runCli(unused, ['apps']);
    assert.doesNotMatch(again.stderr, /warning/);
  });

  it('an unknown subcommand and a bare group say what exists', async () => {
    const stateDir = await tempStateDir();
    assert.match((await runCli(stateDir, ['apps', 'crate', 'x'])).stderr, /unknown command "apps crate" \(did you mean apps create\?\)/);
    const bare = await runCli(stateDir, ['keys']);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /dormant keys needs one of: add, list, remove/);
  });

  it('a wrong flag or argument count is a usage error with the usage line', async () => {
    const stateDir = await tempStateDir();
    const badFlag = await runCli(stateDir, ['apps', '--colour']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /unknown flag --colour\nusage: dormant apps/);
    const typo = await runCli(stateDir, ['apps', '--outptu', 'json']);
    assert.match(typo.stderr, /unknown flag --outptu \(did you mean --output\?\)/);
    const missing = await runCli(stateDir, ['apps', 'create']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /dormant apps create needs 1 argument\nusage: dormant apps create NAME/);
    const format = await runCli(stateDir, ['apps', '-o', 'xml']);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--output "xml" is not supported; use json, yaml or table/);
  });

  it('--version, a group with --help, and apps list as another name for apps', async () => {
    const stateDir = await tempStateDir();
    assert.match((await runCli(stateDir, ['--version'])).stdout, /^dormant \d+\.\d+\.\d+\n$/);
    const help = await runCli(stateDir, ['policy', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /dormant policy get: [\s\S]*dormant policy set: /);
    await runCli(stateDir, ['apps', 'create', 'listed']);
    assert.match((await runCli(stateDir, ['apps', 'list'])).stdout, /^listed /m);
    assert.match((await runCli(stateDir, ['policy', 'shw', 'x'])).stderr, /unknown command "policy shw" \(did you mean policy set\?\)|did you mean policy get/);
  });

  it('a bad port from the environment names the variable', async () => {
    const result = await runCli(await tempStateDir(), ['up'], { env: { DORMANT_METRICS_PORT: 'ninety' } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /error \[CLI_BAD_PORT\]: DORMANT_METRICS_PORT must be a port number from 0 to 65535, got "ninety"/);
  });

  it('up checks the SSH login limits before anything starts', async () => {
    const stateDir = await tempStateDir();
    const ports = ['--metrics-port', '0', '--http-port', '0', '--ssh-port', '0'];
    const startups = await runCli(stateDir, ['up', '--ssh-max-startups', '10:30', ...ports]);
    assert.equal(startups.code, 2);
    assert.match(startups.stderr, /error \[CLI_USAGE\]: --ssh-max-startups takes start:rate:full \(such as 10:30:100\) or one number, got "10:30"/);
    const tries = await runCli(stateDir, ['up', ...ports], { env: { DORMANT_SSH_MAX_AUTH_TRIES: '0' } });
    assert.match(tries.stderr, /--ssh-max-auth-tries must be a whole number from 1 to 100, got "0"/);
    const grace = await runCli(stateDir, ['up', '--ssh-login-grace', 'soon', ...ports]);
    assert.match(grace.stderr, /--ssh-login-grace must be a duration up to 1h such as 30s, got "soon"/);
    assert.equal(existsSync(join(stateDir, 'up.json')), false, 'nothing was started');
  });

  it('a state folder that cannot be one is a plain error, not a crash', async () => {
    const result = await runCli(await tempStateDir(), ['apps'], { env: { DORMANT_HOME: '/dev/null' } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error \[CLI_IO\]: cannot mkdir \/dev\/null\/objects: a part of the path is not a folder; check that the state folder/);
  });

  it('up checks --registry, --build-timeout, --runtime and --component before anything starts', async () => {
    const stateDir = await tempStateDir();
    const registry = await runCli(stateDir, ['up', '--registry', 'http://127.0.0.1:5000', '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0']);
    assert.equal(registry.code, 2);
    assert.match(registry.stderr, /error \[CLI_USAGE\]: --registry takes host\[:port\] without a scheme, such as 127\.0\.0\.1:5000, got "http:\/\/127\.0\.0\.1:5000"/);
    const timeout = await runCli(stateDir, ['up', '--build-timeout', '30d', '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0']);
    assert.match(timeout.stderr, /--build-timeout must be a duration from 1s to 24d such as 20m, got "30d"/);
    const runtime = await runCli(stateDir, ['up', '--runtime', 'kubrenetes', '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0']);
    assert.match(runtime.stderr, /--runtime takes local or kubernetes, got "kubrenetes"/);
    const noRegistry = await runCli(stateDir, ['up', '--runtime', 'kubernetes', '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0']);
    assert.match(noRegistry.stderr, /the Kubernetes runtime runs images: give it a registry the cluster pulls from, such as --registry 127\.0\.0\.1:5000/);
    const split = await runCli(stateDir, ['up', '--component', 'activator', '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0']);
    assert.match(split.stderr, /components run apart only on Kubernetes/);
    const unknown = await runCli(stateDir, ['up', '--runtime', 'kubernetes', '--registry', '127.0.0.1:5000', '--component', 'activator,scaler', '--metrics-port', '0']);
    assert.match(unknown.stderr, /--component takes activator, autoscaler, gitd \(comma-separated\) or all, not scaler/);
    const certManagerLocally = await runCli(stateDir, ['up', '--cert-manager-issuer', 'letsencrypt', '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0']);
    assert.match(certManagerLocally.stderr, /--cert-manager-issuer works on Kubernetes only \(--runtime kubernetes\), where cert-manager runs; the local runtime orders certificates itself/);
    for (const issuer of ['Secret/x', 'Issuer/', 'ClusterIssuer/a/b', 'Bad_Name', 'x'.repeat(260), '/x']) {
      const malformed = await runCli(stateDir, ['up', '--runtime', 'kubernetes', '--registry', '127.0.0.1:5000', '--metrics-port', '0'], { env: { DORMANT_CERT_MANAGER_ISSUER: issuer } });
      assert.equal(malformed.code, 2, issuer);
      assert.match(malformed.stderr, /--cert-manager-issuer takes NAME \(a ClusterIssuer\), ClusterIssuer\/NAME or Issuer\/NAME \(an Issuer in Dormant's namespace\)/);
    }
    assert.equal(existsSync(join(stateDir, 'up.json')), false, 'nothing was started');
  });

  it('up checks --max-header-count (and DORMANT_MAX_HEADER_COUNT) before anything starts', async () => {
    const stateDir = await tempStateDir();
    for (const value of ['0', '1001', '2.5', 'many']) {
      const result = await runCli(stateDir, ['up', '--max-header-count', value, '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, new RegExp(`error \\[CLI_USAGE\\]: --max-header-count must be a whole number from 1 to 1000, got "${value}"`));
    }
    const fromEnv = await runCli(stateDir, ['up', '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0'], { env: { DORMANT_MAX_HEADER_COUNT: '0' } });
    assert.match(fromEnv.stderr, /--max-header-count must be a whole number from 1 to 1000, got "0"/);
    assert.equal(existsSync(join(stateDir, 'up.json')), false, 'nothing was started');
  });

  it('up checks --hook-timeout, --headers-timeout and --max-header-kb before anything starts', async () => {
    const stateDir = await tempStateDir();
    const cases: [string, string, RegExp][] = [
      ['--hook-timeout', 'soon', /--hook-timeout must be a duration from 1s to 24d such as 10m, got "soon"/],
      ['--hook-timeout', '0s', /--hook-timeout must be a duration from 1s to 24d such as 10m, got "0s"/],
      ['--headers-timeout', '11m', /--headers-timeout must be a duration up to 10m such as 30s, got "11m"/],
      ['--max-header-kb', '0', /--max-header-kb must be a whole number from 1 to 1024, got "0"/],
      ['--max-header-kb', '1.5', /--max-header-kb must be a whole number from 1 to 1024, got "1.5"/],
      ['--warm-sandboxes', '1001', /--warm-sandboxes must be a whole number from 0 to 1000, got "1001"/],
      ['--warm-sandboxes', 'lots', /--warm-sandboxes must be a whole number from 0 to 1000, got "lots"/],
    ];
    for (const [flag, value, message] of cases) {
      const result = await runCli(stateDir, ['up', flag, value, '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0']);
      assert.equal(result.code, 2, `${flag} ${value}`);
      assert.match(result.stderr, message);
    }
    const fromEnv = await runCli(stateDir, ['up', '--metrics-port', '0', '--http-port', '0', '--ssh-port', '0'], { env: { DORMANT_HOOK_TIMEOUT: 'never' } });
    assert.match(fromEnv.stderr, /--hook-timeout must be a duration from 1s to 24d such as 10m, got "never"/);
    assert.equal(existsSync(join(stateDir, 'up.json')), false, 'nothing was started');
  });

  it('--state-dir beats DORMANT_HOME', async () => {
    const home = await tempStateDir();
    const other = await tempStateDir();
    await runCli(home, ['apps', 'create', 'in-other', '--state-dir', other]);
    assert.deepEqual(JSON.parse((await runCli(home, ['apps', '-o', 'json'])).stdout), []);
    assert.equal(JSON.parse((await runCli(other, ['apps', '-o', 'json'])).stdout)[0].name, 'in-other');
  });
});

describe('dormant apps', () => {
  it('lists nothing, then the created app with its URL, as a table, JSON and YAML', async () => {
    const stateDir = await tempStateDir();
    assert.match((await runCli(stateDir, ['apps'])).stdout, /No apps yet/);
    const created = await runCli(stateDir, ['apps', 'create', 'hello']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /git remote add dormant ssh:\/\/git@localhost:2222\/hello && git push dormant main/);
    assert.match(created.stdout, /url: +http:\/\/hello\.localhost:8080/);
    const table = (await runCli(stateDir, ['apps'])).stdout.split('\n');
    assert.match(table[0] ?? '', /^NAME +URL +REVISION +RUNS AS +READY\/DESIRED +LAST REQUEST$/);
    assert.match(table[1] ?? '', /^hello +http:\/\/hello\.localhost:8080 +<none> +- +0\/0 +never$/);
    const json = JSON.parse((await runCli(stateDir, ['apps', '--output', 'json'])).stdout);
    assert.deepEqual(json, [{ name: 'hello', url: 'http://hello.localhost:8080', revision: null, runsAs: null, image: null, desiredReplicas: 0, readyReplicas: 0, lastRequestTime: null }]);
    assert.deepEqual(parse((await runCli(stateDir, ['apps', '-o', 'yaml'])).stdout), json);
  });

  it('shows status written by the components: ready revision, replicas, last request', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'busy']);
    await withStore(stateDir, async (store) => {
      const app = await store.get('App', 'busy');
      await store.updateStatus({ ...app, status: { readyRevision: 'busy-00003', desiredReplicas: 2, readyReplicas: 1, lastRequestTime: '2026-01-01T00:00:00Z' } });
    });
    const { stdout } = await runCli(stateDir, ['apps'], { now: new Date('2026-01-01T00:05:00Z') });
    assert.match(stdout, /busy +http:\/\/busy\.localhost:8080 +busy-00003 +- +1\/2 +5m ago/);
  });

  it('uses the domain and port a running dormant up would serve', async () => {
    const stateDir = await tempStateDir();
    const { stdout } = await runCli(stateDir, ['apps', 'create', 'web'], { env: { DORMANT_DOMAIN: 'apps.test', DORMANT_HTTP_PORT: '80', DORMANT_SSH_PORT: '2200' } });
    assert.match(stdout, /ssh:\/\/git@localhost:2200\/web/);
    assert.match(stdout, /url: +http:\/\/web\.apps\.test\n/);
  });

  it('create takes --branch; a bad name or a taken name changes nothing', async () => {
    const stateDir = await tempStateDir();
    const created = JSON.parse((await runCli(stateDir, ['apps', 'create', 'svc', '--branch', 'trunk', '-o', 'json'])).stdout);
    assert.equal(created.spec.git.branch, 'trunk');
    const bad = await runCli(stateDir, ['apps', 'create', 'My_App']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /metadata\.name: "My_App" is not a valid App name; use lower-case letters, digits and '-'/);
    const long = await runCli(stateDir, ['apps', 'create', 'x'.repeat(41)]);
    assert.match(long.stderr, /is 41 characters, longer than the 40 allowed for an App name/);
    const taken = await runCli(stateDir, ['apps', 'create', 'svc']);
    assert.equal(taken.code, 1);
    assert.equal(taken.stderr, 'error [STORE_ALREADY_EXISTS]: App "svc" already exists; pick another name, or delete the existing one first\n');
    const apps = JSON.parse((await runCli(stateDir, ['apps', '-o', 'json'])).stdout);
    assert.deepEqual(apps.map((a: { name: string }) => a.name), ['svc']);
    await withStore(stateDir, async (store) => assert.equal((await store.get('App', 'svc')).metadata.uid, created.metadata.uid));
  });

  it('delete removes the app, its revisions, repository and releases only', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'doomed']);
    await runCli(stateDir, ['apps', 'create', 'kept']);
    await withStore(stateDir, async (store) => {
      await store.create(revision('doomed', 1));
      await store.create(revision('doomed', 2));
      await store.create(revision('kept', 1));
    });
    for (const app of ['doomed', 'kept']) {
      await mkdir(join(stateDir, 'repos', `${app}.git`), { recursive: true });
      await mkdir(join(stateDir, 'releases', app, `${app}-00001`), { recursive: true });
    }
    const typo = await runCli(stateDir, ['apps', 'delete', 'doomed'], { stdin: 'kept\n' });
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /Type doomed to go on[\s\S]*error \[CLI_CONFIRM_MISMATCH\]: doomed was not deleted: the confirmation was "kept", not its name/);
    assert.equal((await runCli(stateDir, ['apps', 'delete', 'doomed', '--confirm', 'kept'])).code, 1);
    assert.match((await runCli(stateDir, ['apps', 'delete', 'doomed'])).stderr, /the confirmation was nothing/);
    await withStore(stateDir, async (store) => assert.equal((await store.list('Revision')).length, 3, 'nothing deleted'));
    const result = await runCli(stateDir, ['apps', 'delete', 'doomed'], { stdin: 'doomed\n' });
    assert.equal(result.stdout, 'app doomed deleted (2 revisions, its git repository, releases and build cache)\n');
    await withStore(stateDir, async (store) => {
      assert.deepEqual((await store.list('App')).map((a) => a.metadata.name), ['kept']);
      assert.deepEqual((await store.list('Revision')).map((r) => r.metadata.name), ['kept-00001']);
    });
    assert.deepEqual(await readdir(join(stateDir, 'repos')), ['kept.git']);
    assert.deepEqual(await readdir(join(stateDir, 'releases')), ['kept']);
  });

  it('delete of an unknown app fails and leaves the others', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'stays']);
    const result = await runCli(stateDir, ['apps', 'delete', 'ghost']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /App "ghost" does not exist; check the name \(`dormant apps` lists what exists\)/);
    assert.equal(JSON.parse((await runCli(stateDir, ['apps', '-o', 'json'])).stdout).length, 1);
  });
});

describe('dormant revisions', () => {
  it('lists newest first and marks the serving one', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'shop']);
    assert.match((await runCli(stateDir, ['revisions', 'shop'])).stdout, /shop has no revisions yet; git push to deploy it/);
    await withStore(stateDir, async (store) => {
      const first = await store.create(revision('shop', 1));
      await store.create(revision('shop', 2));
      // A later write to the older revision must not move it up the list.
      await store.updateStatus({ ...first, status: { phase: 'Ready', steps: [] } });
      const app = await store.get('App', 'shop');
      await store.updateStatus({ ...app, status: { readyRevision: 'shop-00001' } });
    });
    const lines = (await runCli(stateDir, ['revisions', 'shop'])).stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ +VERSION +NAME +CHANGE +BY +COMMIT +PHASE +AGE$/);
    assert.match(lines[1] ?? '', /^ +v2 +shop-00002 +Deploy 2222222 +2222222 +Pending +\d+s$/);
    assert.match(lines[2] ?? '', /^\* +v1 +shop-00001 +Deploy 1111111 +1111111 +Ready +\d+s$/);
    const json = JSON.parse((await runCli(stateDir, ['revisions', 'shop', '-o', 'json'])).stdout);
    assert.deepEqual(json.map((r: { metadata: { name: string } }) => r.metadata.name), ['shop-00002', 'shop-00001']);
  });

  it('of an unknown app is an error', async () => {
    const result = await runCli(await tempStateDir(), ['revisions', 'nope']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /App "nope" does not exist/);
  });
});

describe('dormant policy', () => {
  it('set and apply go through when the App status changes between their read and their write (retried on conflict)', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'busy']);
    const store = await LocalStore.open({ stateDir });
    // A real second write, as the runtime and the autoscaler make all the time, lands between
    // the command's read and its update, twice per command.
    let interfered = 0;
    const racing = new Proxy(store, {
      get(target, property) {
        if (property === 'update') {
          return async (object: App) => {
            if (interfered++ % 3 < 2) {
              const current = await target.get('App', object.metadata.name);
              await target.updateStatus({ ...current, status: { ...current.status, readyReplicas: interfered } });
            }
            return target.update(object);
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    let stdout = '';
    const context = (command: string[], stdin = '') => ({
      io: { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true }, stdin: Readable.from([stdin]), env: {}, cwd: stateDir, now: () => new Date(), stop: AbortSignal.abort() },
      args: command,
      flags: {},
      output: 'table' as const,
      stateDir,
      store: async () => racing,
    });
    try {
      await policySet.run(context(['busy', 'target=42']));
      await apply.run({ ...context([], 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: busy}\nspec: {run: {env: {A: "1"}}}\n'), flags: { filename: '-' } });
      assert.equal(interfered, 6, 'each command met two conflicts and then went through');
      const app = await store.get('App', 'busy');
      assert.equal(app.spec.autoscale.target, 42);
      assert.deepEqual(app.spec.run.env, { A: '1' });
      assert.match(stdout, /app\.dormant\.dev\/busy configured/);
    } finally {
      await store.close();
    }
  });

  it("get shows Knative's defaults and where each value comes from", async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'api']);
    const { stdout } = await runCli(stateDir, ['policy', 'get', 'api']);
    assert.match(stdout, /^SETTING +VALUE +FROM$/m);
    assert.match(stdout, /^target +100 +default$/m);
    assert.match(stdout, /^stableWindow +60s +default$/m);
    assert.match(stdout, /^maxScale +unlimited +default$/m);
    const json = JSON.parse((await runCli(stateDir, ['policy', 'get', 'api', '-o', 'json'])).stdout);
    assert.equal(json.spec.targetUtilization, 0.7);
    assert.equal(json.sources.queueDepth, 'default');
  });

  it('set validates, saves the overrides, and prints the resulting policy', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'api']);
    const result = await runCli(stateDir, ['policy', 'set', 'api', 'minScale=1', 'target=50', 'stableWindow=30s', 'metric=rps']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^minScale +1 +app$/m);
    assert.match(result.stdout, /^target +50 +app$/m);
    assert.match(result.stdout, /^metric +rps +app$/m);
    await withStore(stateDir, async (store) => {
      assert.deepEqual((await store.get('App', 'api')).spec.autoscale, { minScale: 1, target: 50, stableWindow: '30s', metric: 'rps' });
    });
    const removed = await runCli(stateDir, ['policy', 'set', 'api', 'minScale-', 'target=75']);
    assert.match(removed.stdout, /^minScale +0 +default$/m);
    await withStore(stateDir, async (store) => {
      assert.deepEqual((await store.get('App', 'api')).spec.autoscale, { target: 75, stableWindow: '30s', metric: 'rps' });
    });
  });

  const rejected: readonly { name: string; args: string[]; code: number; stderr: RegExp }[] = [
    {
      name: 'maxScale 0 below minScale 2',
      args: ['minScale=2', 'maxScale=0'],
      code: 1,
      stderr: /nothing was changed:\n {2}- spec\.autoscale\.maxScale: 0 is below the minimum 1[^\n]*\n {2}- spec\.autoscale\.maxScale: minScale must not exceed maxScale \(0 is less than minScale 2\); raise maxScale or lower minScale/,
    },
    { name: 'a number that is not one', args: ['target=lots'], code: 1, stderr: /spec\.autoscale\.target: expected a number of at least 0\.01, got "lots"/ },
    { name: 'a duration in words', args: ['stableWindow=a minute'], code: 1, stderr: /spec\.autoscale\.stableWindow: "a minute" is not valid; use a duration such as 500ms/ },
    { name: 'an unknown setting', args: ['maxscale=3'], code: 2, stderr: /"maxscale" is not a policy setting \(did you mean maxScale\?\)/ },
    { name: 'an argument without =', args: ['minScale'], code: 2, stderr: /"minScale" is not key=value or key-\nusage: dormant policy set/ },
    { name: 'a policyRef to nothing', args: ['policyRef=missing'], code: 1, stderr: /AutoscalePolicy "missing" does not exist; create it with dormant apply -f FILE/ },
  ];
  for (const row of rejected) {
    it(`set rejects ${row.name} and keeps the app as it was`, async () => {
      const stateDir = await tempStateDir();
      await runCli(stateDir, ['apps', 'create', 'api']);
      await runCli(stateDir, ['policy', 'set', 'api', 'minScale=1']);
      const before = await withStore(stateDir, (store) => store.get('App', 'api'));
      const result = await runCli(stateDir, ['policy', 'set', 'api', ...row.args]);
      assert.equal(result.code, row.code);
      assert.match(result.stderr, row.stderr);
      assert.deepEqual(await withStore(stateDir, (store) => store.get('App', 'api')), before);
    });
  }

  it('a referenced policy shows as the source, and a merged conflict is refused', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'api']);
    const file = join(stateDir, 'policy.yaml');
    await writeFile(file, 'apiVersion: dormant.dev/v1alpha1\nkind: AutoscalePolicy\nmetadata:\n  name: bursty\nspec:\n  maxScale: 3\n  target: 20\n');
    assert.equal((await runCli(stateDir, ['apply', '-f', file])).stdout, 'autoscalepolicy.dormant.dev/bursty created\n');
    const set = await runCli(stateDir, ['policy', 'set', 'api', 'policyRef=bursty', 'targetUtilization=0.5']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^target +20 +policy bursty$/m);
    assert.match(set.stdout, /^maxScale +3 +policy bursty$/m);
    assert.match(set.stdout, /^targetUtilization +0\.5 +app$/m);
    const conflict = await runCli(stateDir, ['policy', 'set', 'api', 'minScale=5']);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /maxScale: minScale must not exceed maxScale \(3 is less than minScale 5\); raise maxScale or lower minScale \(in the merged policy/);
  });

  it('get warns when the referenced policy is gone and shows the rest', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'api']);
    await withStore(stateDir, async (store) => {
      const app = await store.get('App', 'api');
      await store.update({ ...app, spec: { ...app.spec, autoscale: { policyRef: 'gone', target: 5 } } });
    });
    const result = await runCli(stateDir, ['policy', 'get', 'api']);
    assert.equal(result.code, 0);
    assert.match(result.stderr, /warning: AutoscalePolicy "gone" does not exist/);
    assert.match(result.stdout, /^target +5 +app$/m);
  });
});

describe('dormant keys', () => {
  it('add, list and remove real OpenSSH keys by the fingerprint ssh-keygen prints', async () => {
    const stateDir = await tempStateDir();
    const alice = sshKey(stateDir, 'alice', 'alice@laptop');
    const bob = sshKey(stateDir, 'bob', 'bob@desk');
    assert.match((await runCli(stateDir, ['keys', 'list'])).stdout, /No admin keys/);
    const added = await runCli(stateDir, ['keys', 'add', alice.publicPath]);
    assert.equal(added.stdout, `added ${alice.fingerprint} (ssh-ed25519, alice@laptop)\n`);
    const fromStdin = await runCli(stateDir, ['keys', 'add', '-'], { stdin: execFileSync('cat', [bob.publicPath], { encoding: 'utf8' }) });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    const listed = JSON.parse((await runCli(stateDir, ['keys', 'list', '-o', 'json'])).stdout);
    assert.deepEqual(listed, [
      { fingerprint: alice.fingerprint, type: 'ssh-ed25519', comment: 'alice@laptop' },
      { fingerprint: bob.fingerprint, type: 'ssh-ed25519', comment: 'bob@desk' },
    ]);
    assert.match((await runCli(stateDir, ['keys', 'list'])).stdout, new RegExp(`^${alice.fingerprint.replace(/[+/]/g, '\\$&')} +ssh-ed25519 +alice@laptop$`, 'm'));
    const removed = await runCli(stateDir, ['keys', 'remove', alice.fingerprint.replace('SHA256:', '')]);
    assert.equal(removed.stdout, `removed ${alice.fingerprint} (ssh-ed25519, alice@laptop)\n`);
    const left = JSON.parse((await runCli(stateDir, ['keys', 'list', '-o', 'json'])).stdout);
    assert.deepEqual(left.map((k: { comment: string }) => k.comment), ['bob@desk']);
    const admins = execFileSync('cat', [join(stateDir, 'admin-keys')], { encoding: 'utf8' });
    assert.ok(admins.includes(execFileSync('cut', ['-d', ' ', '-f', '2', bob.publicPath], { encoding: 'utf8' }).trim()), 'authorized_keys format');
  });

  const badInputs: readonly { name: string; args: (dir: string, key: ReturnType<typeof sshKey>) => Promise<string[]>; stdin?: string; stderr: RegExp }[] = [
    { name: 'a private key', args: async (_d, key) => ['add', key.privatePath], stderr: /holds a private key; never share it\. Pass the public half instead/ },
    { name: 'a missing file', args: async (d) => ['add', join(d, 'nope.pub')], stderr: /cannot read .*nope\.pub: no such file; check the path/ },
    {
      name: 'a mangled key on line 2',
      args: async (d, key) => {
        const file = join(d, 'mixed.pub');
        await writeFile(file, `${execFileSync('cat', [key.publicPath], { encoding: 'utf8' })}ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA broken\n`);
        return ['add', file];
      },
      stderr: /mixed\.pub line 2 is not an OpenSSH public key \(.*\); pass the \.pub file/,
    },
    { name: 'an empty stdin', args: async () => ['add', '-'], stdin: '\n', stderr: /standard input holds no public key/ },
    { name: 'a key already present', args: async (_d, key) => ['add', key.publicPath], stderr: /is already an admin key; nothing to do/ },
    { name: 'removing an unknown fingerprint', args: async () => ['remove', 'SHA256:nope'], stderr: /no admin key has fingerprint SHA256:nope; known: SHA256:/ },
  ];
  for (const row of badInputs) {
    it(`refuses ${row.name} and keeps the keys as they were`, async () => {
      const stateDir = await tempStateDir();
      const existing = sshKey(stateDir, 'existing', 'existing@host');
      await runCli(stateDir, ['keys', 'add', existing.publicPath]);
      const result = await runCli(stateDir, ['keys', ...(await row.args(stateDir, existing))], row.stdin === undefined ? {} : { stdin: row.stdin });
      assert.equal(result.code, 1);
      assert.match(result.stderr, row.stderr);
      const keys = JSON.parse((await runCli(stateDir, ['keys', 'list', '-o', 'json'])).stdout);
      assert.deepEqual(keys.map((k: { fingerprint: string }) => k.fingerprint), [existing.fingerprint]);
    });
  }
});

describe('dormant apply', () => {
  it('merges like kubectl apply: settings made with policy set survive, fields dropped from the file go', async () => {
    const stateDir = await tempStateDir();
    const file = join(stateDir, 'app.yaml');
    const manifest = (env: string) => `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: merged}\nspec:\n  run: {env: {${env}}}\n`;
    await writeFile(file, manifest('A: "1", B: "2"'));
    assert.equal((await runCli(stateDir, ['apply', '-f', file])).stdout, 'app.dormant.dev/merged created\n');
    assert.equal((await runCli(stateDir, ['policy', 'set', 'merged', 'target=50'])).code, 0);
    await writeFile(file, manifest('A: "1"'));
    assert.equal(
      (await runCli(stateDir, ['apply', '-f', file])).stdout,
      'app.dormant.dev/merged: removing spec.run.env.B: set by the last apply, absent from this file\napp.dormant.dev/merged configured\n',
    );
    await withStore(stateDir, async (store) => {
      const app = await store.get('App', 'merged');
      assert.equal(app.spec.autoscale.target, 50, 'set by policy set, not in the file: kept');
      assert.deepEqual(app.spec.run.env, { A: '1' }, 'applied before and dropped from the file: removed');
    });
    assert.equal((await runCli(stateDir, ['apply', '-f', file])).stdout, 'app.dormant.dev/merged unchanged\n');
  });

  it('creates, leaves unchanged, and configures objects from YAML documents', async () => {
    const stateDir = await tempStateDir();
    const file = join(stateDir, 'objects.yaml');
    const policyDoc = 'apiVersion: dormant.dev/v1alpha1\nkind: AutoscalePolicy\nmetadata: {name: steady}\nspec: {minScale: 1}\n';
    const appDoc = 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: site}\nspec: {autoscale: {policyRef: steady}}\n';
    await writeFile(file, `${policyDoc}---\n${appDoc}`);
    assert.equal((await runCli(stateDir, ['apply', '-f', file])).stdout, 'autoscalepolicy.dormant.dev/steady created\napp.dormant.dev/site created\n');
    assert.equal((await runCli(stateDir, ['apply', '-f', file])).stdout, 'autoscalepolicy.dormant.dev/steady unchanged\napp.dormant.dev/site unchanged\n');
    const changed = await runCli(stateDir, ['apply', '-f', '-'], { stdin: policyDoc.replace('minScale: 1', 'minScale: 2') });
    assert.equal(changed.stdout, 'autoscalepolicy.dormant.dev/steady configured\n');
    assert.match((await runCli(stateDir, ['policy', 'get', 'site'])).stdout, /^minScale +2 +policy steady$/m);
  });

  it('applies every manifest of a folder', async () => {
    const stateDir = await tempStateDir();
    const folder = join(stateDir, 'manifests');
    await mkdir(folder);
    await writeFile(join(folder, 'a.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: one}\n');
    await writeFile(join(folder, 'b.json'), JSON.stringify({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: 'two' } }));
    await writeFile(join(folder, 'notes.txt'), 'not a manifest');
    assert.equal((await runCli(stateDir, ['apply', '-f', folder])).stdout, 'app.dormant.dev/one created\napp.dormant.dev/two created\n');
  });

  it('an annotation change is applied, not reported unchanged', async () => {
    const stateDir = await tempStateDir();
    const doc = (value: string) => `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: noted, annotations: {note: ${value}}}\n`;
    await runCli(stateDir, ['apply', '-f', '-'], { stdin: doc('a') });
    assert.equal((await runCli(stateDir, ['apply', '-f', '-'], { stdin: doc('b') })).stdout, 'app.dormant.dev/noted configured\n');
    await withStore(stateDir, async (store) => assert.equal((await store.get('App', 'noted')).metadata.annotations?.note, 'b'));
  });

  it('an invalid document is refused with its problems and stores nothing', async () => {
    const stateDir = await tempStateDir();
    const result = await runCli(stateDir, ['apply', '-f', '-'], {
      stdin: 'apiVersion: dormant.dev/v1alpha1\nkind: AutoscalePolicy\nmetadata: {name: wrong}\nspec: {minScale: 4, maxScale: 2, tagret: 3}\n',
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /AutoscalePolicy "wrong" is invalid:\n {2}- spec\.tagret: is not a known field; did you mean target\?/);
    assert.match(result.stderr, /spec\.maxScale: minScale must not exceed maxScale \(2 is less than minScale 4\)/);
    const broken = await runCli(stateDir, ['apply', '-f', '-'], { stdin: 'kind: [unclosed\n' });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /error \[CLI_BAD_INPUT\]: standard input document 1 is not valid YAML: .*; fix the file/);
    await withStore(stateDir, async (store) => assert.deepEqual(await store.list('AutoscalePolicy'), []));
  });
});
