import { type App, apiVersion } from '../../crds/index.js';
import { removeAppFiles } from '../../gitd/index.js';
import { isDormantError } from '../../errors/index.js';
import { certificateStoreOf } from './certs.js';
import type { Command } from '../command.js';
import { flagString } from '../command.js';
import { cliErrors } from '../errors.js';
import { firstLine } from '../io.js';
import { formatAge, formatTable, print } from '../output.js';
import { appUrl, currentSettings, gitRemote, readRuntimeRecord } from '../settings.js';

const readyReplicas = (app: App) => app.status?.readyReplicas ?? 0;

export const appsList: Command = {
  name: 'apps',
  aliases: ['apps list'],
  usage: 'dormant apps [--output json|yaml]',
  summary: 'List apps: URL, revision, processes, images (sandboxed), containers or pods, replicas, last request',
  args: 0,
  async run({ io, flags, output, store }) {
    const settings = await currentSettings(flags, io);
    const runtimeRecord = await readRuntimeRecord(settings.stateDir);
    const onKubernetes = runtimeRecord.runtime === 'kubernetes';
    // Said every time: a machine where tenants' code runs with Dormant's rights must not look like one where it does not.
    if (runtimeRecord.unsandboxed) io.stderr.write("WARNING: dormant up runs with --insecure-no-sandbox: replicas run unsandboxed, with Dormant's rights\n");
    const resources = await store();
    const apps = await resources.list('App');
    const rows = await Promise.all(
      apps.map(async (app) => {
        const serving = app.status?.readyRevision;
        const revision = serving === undefined ? undefined : await resources.find('Revision', serving, app.metadata.namespace);
        return {
          name: app.metadata.name,
          url: app.status?.url ?? appUrl(settings, app.metadata.name),
          revision: serving ?? null,
          runsAs: revision === undefined ? null : onKubernetes ? 'pods' : !revision.spec.image ? 'processes' : runtimeRecord.imagesInSandbox && revision.spec.run.port === undefined ? 'images' : 'containers',
          image: revision?.spec.image ?? null,
          desiredReplicas: app.status?.desiredReplicas ?? 0,
          readyReplicas: readyReplicas(app),
          lastRequestTime: app.status?.lastRequestTime ?? null,
        };
      }),
    );
    const now = io.now();
    print(io, output, rows, () =>
      rows.length === 0
        ? 'No apps yet. Create one with `dormant apps create NAME`.\n'
        : formatTable(
            ['NAME', 'URL', 'REVISION', 'RUNS AS', 'READY/DESIRED', 'LAST REQUEST'],
            rows.map((r) => [
              r.name,
              r.url,
              r.revision ?? '<none>',
              r.runsAs === 'containers' || r.runsAs === 'images' ? `${r.runsAs} (${r.image})` : (r.runsAs ?? '-'),
              `${r.readyReplicas}/${r.desiredReplicas}`,
              r.lastRequestTime ? `${formatAge(r.lastRequestTime, now)} ago` : 'never',
            ]),
          ),
    );
    return undefined;
  },
};

export const appsCreate: Command = {
  name: 'apps create',
  usage: 'dormant apps create NAME [--branch BRANCH]',
  summary: 'Create an app (pushing to a new name as an admin also does)',
  args: 1,
  options: { branch: { type: 'string' } },
  async run({ io, args, flags, output, store }) {
    const [name = ''] = args;
    const branch = flagString(flags, 'branch');
    const created = await (await store()).create({
      apiVersion,
      kind: 'App',
      metadata: { name },
      spec: branch === undefined ? {} : { git: { branch } },
    });
    const settings = await currentSettings(flags, io);
    print(io, output, created, () =>
      [
        `app ${name} created`,
        `  deploy:  git remote add dormant ${gitRemote(settings, name)} && git push dormant ${created.spec.git.branch}`,
        `  url:     ${appUrl(settings, name)}`,
        '',
      ].join('\n'),
    );
    return undefined;
  },
};

export const appsDelete: Command = {
  name: 'apps delete',
  usage: 'dormant apps delete NAME [--confirm NAME]   (without --confirm, asks to type the name)',
  summary: 'Delete an app, its revisions, its git repository and its releases',
  args: 1,
  options: { confirm: { type: 'string' } },
  async run({ io, args, flags, store, stateDir }) {
    const [name = ''] = args;
    const resources = await store();
    // Fails with STORE_NOT_FOUND before anything is removed.
    await resources.get('App', name);
    // As Heroku: the name typed again (or given with --confirm), so that a slip of history or a script with the wrong variable deletes nothing.
    let confirmed = flagString(flags, 'confirm');
    if (confirmed === undefined) {
      io.stderr.write(`This deletes ${name}, its releases, its git repository and its config, for good. Type ${name} to go on (or pass --confirm ${name}): `);
      confirmed = await firstLine(io.stdin);
    }
    if (confirmed !== name) throw cliErrors.confirmMismatch({ app: name, typed: confirmed === undefined ? 'nothing' : JSON.stringify(confirmed.slice(0, 64)) });
    const revisions = await resources.list('Revision', { namespace: 'default', labelSelector: { 'dormant.dev/app': name } });
    for (const revision of revisions) await resources.delete('Revision', revision.metadata.name, revision.metadata.namespace);
    await resources.delete('App', name);
    // Its git repository and releases go too, so that the name can be pushed to afresh.
    await removeAppFiles(stateDir, name);
    // Its certificates too (a new app of this name would not be served them anyway: they name this App's uid).
    await (await certificateStoreOf(stateDir)).removeApp(name).catch((error: unknown) => {
      // The App is gone already (gitd's pod in the cluster install may not delete Secrets by the collection): say what is left.
      if (!isDormantError(error, 'RUNTIME_CERTIFICATES_FORBIDDEN')) throw error;
      io.stderr.write(`warning: its certificates are left: ${(error as Error).message}\n`);
    });
    io.stdout.write(`app ${name} deleted (${revisions.length} revision${revisions.length === 1 ? '' : 's'}, its git repository, releases and build cache)\n`);
    return undefined;
  },
};
