// dormant apply and dormant diff through the real CLI entry, against a real local store in a
// temporary state folder: what they refuse, what they say they remove, what diff shows.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runCli, tempStateDir, withStore } from './test-support.js';

const appDoc = (name: string, spec: string) => `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: ${name}}\nspec:\n${spec}`;

/** Billion laughs: nine levels of nine aliases each, 9^9 strings once expanded. */
const aliasBomb = [
  'apiVersion: dormant.dev/v1alpha1',
  'kind: App',
  'metadata: {name: bomb}',
  'spec:',
  '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((level, i) => {
    const previous = 'abcdefghi'[i];
    return `  ${level}: &${level} [${Array.from({ length: 9 }, () => `*${previous}`).join(',')}]`;
  }),
  '',
].join('\n');

/** A state folder with one applied App, and its stored form to compare against afterwards. */
async function withApp(): Promise<{ stateDir: string; before: unknown }> {
  const stateDir = await tempStateDir();
  const created = await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('kept', '  run: {env: {A: "1"}}\n') });
  assert.equal(created.code, 0, created.stderr);
  return { stateDir, before: await withStore(stateDir, (store) => store.get('App', 'kept')) };
}

async function assertUnchanged(stateDir: string, before: unknown): Promise<void> {
  await withStore(stateDir, async (store) => {
    assert.deepEqual(await store.get('App', 'kept'), before, 'the existing App is as it was');
    assert.deepEqual((await store.list('App')).map((a) => a.metadata.name), ['kept'], 'no other App was made');
    assert.deepEqual(await store.list('Revision'), [], 'no Revision was made');
  });
}

describe('dormant apply refuses what it must not read whole', () => {
  it('a YAML alias bomb is refused with CLI_YAML_ALIASES, in bounded memory, and an earlier document is not applied', async (t: TestContext) => {
    const { stateDir, before } = await withApp();
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const result = await runCli(stateDir, ['apply', '-f', '-'], { stdin: `${appDoc('kept', '  run: {env: {A: "2"}}\n')}---\n${aliasBomb}` });
    t.diagnostic(`refused in ${Math.round(performance.now() - started)} ms, rss grew ${Math.round((process.memoryUsage().rss - rssBefore) / 2 ** 20)} MiB`);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      'error [CLI_YAML_ALIASES]: standard input document 2 expands its YAML aliases (*name) more than 100 times, which is how an alias bomb eats memory, nothing was applied; write the values out, or raise the limit with --max-yaml-aliases (or DORMANT_MAX_YAML_ALIASES)\n',
    );
    assert.doesNotMatch(result.stderr, /unexpected failure/);
    assert.equal(result.stdout, '');
    await assertUnchanged(stateDir, before);
  });

  it('--max-yaml-aliases 0 refuses any alias; a few aliases pass by default', async () => {
    const { stateDir, before } = await withApp();
    const withAlias = appDoc('kept', '  run: {env: &e {A: "1"}}\n  build: {args: *e}\n');
    const refused = await runCli(stateDir, ['apply', '-f', '-', '--max-yaml-aliases', '0'], { stdin: withAlias });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error \[CLI_YAML_ALIASES\]: standard input document 1 expands its YAML aliases \(\*name\) more than 0 times/);
    await assertUnchanged(stateDir, before);
    const badFlag = await runCli(stateDir, ['apply', '-f', '-', '--max-yaml-aliases', 'many'], { stdin: withAlias });
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--max-yaml-aliases must be a whole number from 0 to 100000, got "many"/);
    const applied = await runCli(stateDir, ['apply', '-f', '-'], { stdin: withAlias });
    assert.equal(applied.code, 0, applied.stderr);
    await withStore(stateDir, async (store) => assert.deepEqual((await store.get('App', 'kept')).spec.build.args, { A: '1' }));
  });

  it('a file over 1 MiB is refused with CLI_INPUT_TOO_LARGE; --max-file-mb and DORMANT_MAX_FILE_MB move the cap', async () => {
    const { stateDir, before } = await withApp();
    const file = join(stateDir, 'big.yaml');
    // A valid manifest made large by a comment: only the size is wrong with it.
    await writeFile(file, `# ${'x'.repeat(1024 * 1024)}\n${appDoc('kept', '  run: {env: {A: "3"}}\n')}`);
    const refused = await runCli(stateDir, ['apply', '-f', file]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `error [CLI_INPUT_TOO_LARGE]: ${file} is over the 1 MiB limit of one manifest file, nothing was applied; split it into several files, or raise the limit with --max-file-mb (or DORMANT_MAX_FILE_MB)\n`,
    );
    const fromStdin = await runCli(stateDir, ['apply', '-f', '-'], { stdin: `# ${'y'.repeat(2 * 1024 * 1024)}\n` });
    assert.match(fromStdin.stderr, /^error \[CLI_INPUT_TOO_LARGE\]: standard input is over the 1 MiB limit/);
    const endless = await runCli(stateDir, ['apply', '-f', '/dev/zero']);
    assert.match(endless.stderr, /^error \[CLI_INPUT_TOO_LARGE\]: \/dev\/zero is over the 1 MiB limit/);
    const small = await runCli(stateDir, ['apply', '-f', '-'], { stdin: `# ${'z'.repeat(600 * 1024)}\n`, env: { DORMANT_MAX_FILE_MB: '0.5' } });
    assert.match(small.stderr, /^error \[CLI_INPUT_TOO_LARGE\]: standard input is over the 524288 bytes limit/);
    await assertUnchanged(stateDir, before);
    const raised = await runCli(stateDir, ['apply', '-f', file, '--max-file-mb', '2']);
    assert.equal(raised.code, 0, raised.stderr);
    assert.equal(raised.stdout, 'app.dormant.dev/kept configured\n');
  });

  it('a Revision is refused with CLI_APPLY_REVISION before any object of the file is applied', async () => {
    const { stateDir, before } = await withApp();
    const revision = `apiVersion: dormant.dev/v1alpha1\nkind: Revision\nmetadata: {name: kept-00001}\nspec: {app: kept, commit: "${'a'.repeat(40)}", releaseDir: /etc, run: {command: [sh, -c, id]}}\n`;
    const result = await runCli(stateDir, ['apply', '-f', '-'], { stdin: `${appDoc('other', '  run: {}\n')}---\n${revision}` });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      'error [CLI_APPLY_REVISION]: standard input document 2 is a Revision (kept-00001): Revisions are made by git push, never applied, nothing was applied; push the commit to deploy it, and apply only App and AutoscalePolicy objects\n',
    );
    await assertUnchanged(stateDir, before);
  });
});

describe('dormant policy simulate --policy FILE reads manifests as apply does', () => {
  it('an alias bomb given as a policy file is refused with CLI_YAML_ALIASES, not a crash; a plain one still works', async () => {
    const dir = await tempStateDir();
    await writeFile(join(dir, 'trace.csv'), 'seconds,concurrency\n0,1\n1,2\n2,0\n');
    await writeFile(join(dir, 'bomb.yaml'), aliasBomb.replace('kind: App', 'kind: AutoscalePolicy'));
    const bomb = await runCli(dir, ['policy', 'simulate', '--trace', 'trace.csv', '--policy', 'bomb.yaml']);
    assert.equal(bomb.code, 1);
    assert.match(bomb.stderr, /^error \[CLI_YAML_ALIASES\]: .*bomb\.yaml document 1 expands its YAML aliases/);
    await writeFile(join(dir, 'calm.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: AutoscalePolicy\nmetadata: {name: calm}\nspec: {target: 10}\n');
    const calm = await runCli(dir, ['policy', 'simulate', '--trace', 'trace.csv', '--policy', 'calm.yaml']);
    assert.equal(calm.code, 0, calm.stderr);
    assert.match(calm.stdout, /calm/);
  });
});

describe('dormant apply names what the three-way merge removes', () => {
  it('a second file that sets only the hosts: apply says env goes, and it goes (kubectl semantics kept)', async () => {
    const stateDir = await tempStateDir();
    const file = join(stateDir, 'app.yaml');
    await writeFile(file, appDoc('web', '  run: {env: {A: "1"}, drainTimeout: 30s}\n  routes: {hosts: [web.example.com]}\n  autoscale: {target: 5}\n'));
    assert.equal((await runCli(stateDir, ['apply', '-f', file])).stdout, 'app.dormant.dev/web created\n');
    assert.equal((await runCli(stateDir, ['policy', 'set', 'web', 'minScale=1'])).code, 0);
    await writeFile(file, appDoc('web', '  routes: {hosts: [web2.example.com]}\n'));
    const result = await runCli(stateDir, ['apply', '-f', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      [
        'app.dormant.dev/web: removing spec.run.env: set by the last apply, absent from this file',
        'app.dormant.dev/web: removing spec.autoscale.target: set by the last apply, absent from this file',
        'app.dormant.dev/web: removing spec.autoscale.minScale: set another way, but it goes with spec.autoscale, which the last apply set and this file omits',
        'app.dormant.dev/web configured',
        '',
      ].join('\n'),
      'drainTimeout is not named: its default brings the same value back',
    );
    await withStore(stateDir, async (store) => {
      const app = await store.get('App', 'web');
      assert.deepEqual(app.spec.run.env, {});
      assert.deepEqual(app.spec.autoscale, {});
      assert.deepEqual(app.spec.routes.hosts, ['web2.example.com']);
      assert.equal(app.spec.run.drainTimeout, '30s');
    });
  });

  it('a key dropped from a map and a field set to null are named too; a failed apply names nothing', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('api', '  run: {env: {A: "1", B: "2"}, readinessPath: /healthz}\n') });
    const result = await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('api', '  run: {env: {A: "1"}, readinessPath: null}\n') });
    assert.equal(
      result.stdout,
      'app.dormant.dev/api: removing spec.run.env.B: set by the last apply, absent from this file\napp.dormant.dev/api: removing spec.run.readinessPath: set to null in this file\napp.dormant.dev/api configured\n',
    );
    const invalid = await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('api', '  run: {port: -1}\n') });
    assert.equal(invalid.code, 1);
    assert.equal(invalid.stdout, '', 'nothing was removed, so nothing is said');
    assert.match(invalid.stderr, /error \[STORE_INVALID\]: App "api" is invalid/);
  });
});

describe('dormant diff -f', () => {
  it('shows a new object as all added, exits 1, and creates nothing', async () => {
    const stateDir = await tempStateDir();
    const result = await runCli(stateDir, ['diff', '-f', '-'], { stdin: appDoc('fresh', '  routes: {hosts: [fresh.example.com]}\n') });
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 3), ['diff -u app.dormant.dev/fresh', '--- /dev/null', '+++ app.dormant.dev/fresh (after apply)']);
    assert.match(lines[3] ?? '', /^@@ -0,0 \+1,\d+ @@$/);
    assert.ok(lines.slice(4).every((line) => line.startsWith('+')), 'every line is added');
    assert.ok(lines.includes('+      - fresh.example.com'));
    assert.ok(lines.includes('+kind: App'));
    await withStore(stateDir, async (store) => assert.deepEqual(await store.list('App'), []));
  });

  it('shows what apply would change as - and + lines, exits 1, and changes nothing; after apply it exits 0 and prints nothing', async () => {
    const stateDir = await tempStateDir();
    const file = join(stateDir, 'app.yaml');
    await writeFile(file, appDoc('web', '  run: {env: {A: "1"}}\n  routes: {hosts: [web.example.com]}\n'));
    await runCli(stateDir, ['apply', '-f', file]);
    const unchanged = await runCli(stateDir, ['diff', '-f', file]);
    assert.deepEqual(unchanged, { code: 0, stdout: '', stderr: '' });
    await writeFile(file, appDoc('web', '  routes: {hosts: [web2.example.com]}\n'));
    const before = await withStore(stateDir, (store) => store.get('App', 'web'));
    const result = await runCli(stateDir, ['diff', '-f', file]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /^diff -u app\.dormant\.dev\/web\n--- app\.dormant\.dev\/web \(live\)\n\+\+\+ app\.dormant\.dev\/web \(after apply\)\n@@ /);
    const changed = result.stdout.split('\n').filter((line) => /^[-+] /.test(line));
    assert.deepEqual(changed, [
      `-    dormant.dev/last-applied: '{"run":{"env":{"A":"1"}},"routes":{"hosts":["web.example.com"]}}'`,
      `+    dormant.dev/last-applied: '{"routes":{"hosts":["web2.example.com"]}}'`,
      '-      - web.example.com',
      '+      - web2.example.com',
      '-    env:',
      '-      A: "1"',
      '+    env: {}',
    ]);
    assert.deepEqual(await withStore(stateDir, (store) => store.get('App', 'web')), before, 'diff changed nothing');
    assert.equal((await runCli(stateDir, ['apply', '-f', file])).code, 0);
    assert.deepEqual(await runCli(stateDir, ['diff', '-f', file]), { code: 0, stdout: '', stderr: '' });
  });

  it('exits 2 on an error (kubectl diff: above 1), with the same refusals as apply', async () => {
    const stateDir = await tempStateDir();
    const missing = await runCli(stateDir, ['diff', '-f', join(stateDir, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /error \[CLI_READ_INPUT\]: cannot read .*nope\.yaml: no such file or folder/);
    const invalid = await runCli(stateDir, ['diff', '-f', '-'], { stdin: appDoc('bad', '  run: {port: -1}\n') });
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /error \[STORE_INVALID\]: App "bad" is invalid:\n {2}- spec\.run\.port: -1 is below the minimum/);
    const bomb = await runCli(stateDir, ['diff', '-f', '-'], { stdin: aliasBomb });
    assert.equal(bomb.code, 2);
    assert.match(bomb.stderr, /error \[CLI_YAML_ALIASES\]/);
    const revision = await runCli(stateDir, ['diff', '-f', '-'], { stdin: `apiVersion: dormant.dev/v1alpha1\nkind: Revision\nmetadata: {name: x-00001}\nspec: {}\n` });
    assert.equal(revision.code, 2);
    assert.match(revision.stderr, /error \[CLI_APPLY_REVISION\]/);
    const usage = await runCli(stateDir, ['diff']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /diff needs -f FILE/);
  });
});
