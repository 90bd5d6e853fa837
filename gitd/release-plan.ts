/**
 * What a release of an earlier build runs: for a config change, the serving release's build
 * with its platform variables under the App's config; for a rollback, an earlier release's
 * build and config as they were. Releases are Revisions, numbered for people (`v7` is
 * `APP-00007`). Pure: the App and its Revisions in, the plan out.
 */
import type { App, Revision, RevisionSpec } from '../crds/index.js';
import { gitdErrors } from './errors.js';

/** What the CLI asks for. */
export type ReleaseAsk =
  | { readonly kind: 'config'; readonly set: Readonly<Record<string, string>>; readonly unset: readonly string[]; readonly by?: string }
  | { readonly kind: 'rollback'; readonly to?: string; readonly by?: string }
  | { readonly kind: 'restart'; readonly by?: string };

export interface ReleasePlan {
  readonly from: Revision;
  readonly env: Readonly<Record<string, string>>;
  readonly change: NonNullable<RevisionSpec['change']>;
  /** The App's config once the release serves (a rollback brings back the config of its release). */
  readonly appEnv?: Readonly<Record<string, string>>;
}

/** A Revision's number: 7 for `web-00007`. */
export const releaseNumber = (revision: string): number => Number(/-(\d+)$/.exec(revision)?.[1] ?? 0);

/** `v7`, `7` or `web-00007` as the Revision's name; undefined when it is none of them. */
export function revisionNamed(app: string, release: string): string | undefined {
  const number = /^v?(\d{1,9})$/.exec(release)?.[1];
  if (number !== undefined) return `${app}-${number.padStart(5, '0')}`;
  return release.startsWith(`${app}-`) && /^\d+$/.test(release.slice(app.length + 1)) ? release : undefined;
}

const keyList = (keys: readonly string[]) => (keys.length > 8 ? `${keys.slice(0, 8).join(', ')} and ${keys.length - 8} more` : keys.join(', '));

/** The longest change description a Revision holds. */
const maxDescription = 512;

/** "Set A, B; unset C", cut to what a Revision holds. */
export function configChange(set: readonly string[], unset: readonly string[]): string {
  const parts = [...(set.length > 0 ? [`Set ${keyList(set)}`] : []), ...(unset.length > 0 ? [`${set.length > 0 ? 'unset' : 'Unset'} ${keyList(unset)}`] : [])];
  const text = parts.length > 0 ? parts.join('; ') : 'Release with the current config';
  return text.length > maxDescription ? `${text.slice(0, maxDescription - 1)}…` : text;
}

/**
 * The variables Dormant added for a release's stack. Revisions made before they were
 * recorded have none: for those, NODE_ENV=production over a node stack and
 * PYTHONUNBUFFERED=1 over a python one, where the release has them (what a push gave).
 */
export function platformEnvOf(spec: RevisionSpec): Record<string, string> {
  if (spec.platformEnv) return { ...spec.platformEnv };
  const env = spec.run.env;
  const stack = spec.stack ?? '';
  if (spec.strategy !== 'dockerfile' && /\/node:/.test(stack) && env.NODE_ENV === 'production') return { NODE_ENV: 'production' };
  if (/\/python:/.test(stack) && env.PYTHONUNBUFFERED === '1') return { PYTHONUNBUFFERED: '1' };
  return {};
}

/** A release's config as the user set it: its variables less the platform's defaults it kept. */
export function userConfig(spec: RevisionSpec): Record<string, string> {
  const platform = platformEnvOf(spec);
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(spec.run.env)) if (platform[key] !== value) config[key] = value;
  return config;
}

export function planRelease(app: App, revisions: readonly Revision[], ask: ReleaseAsk): ReleasePlan {
  const name = app.metadata.name;
  const serving = revisions.find((revision) => revision.metadata.name === app.status?.readyRevision);
  const by = ask.by === undefined ? {} : { by: ask.by };
  if (ask.kind === 'config') {
    if (!serving) throw gitdErrors.nothingDeployed({ app: name, what: 'release with the new config (it is saved: the next push uses it)' });
    return { from: serving, env: { ...platformEnvOf(serving.spec), ...app.spec.run.env }, change: { kind: 'config', description: configChange(Object.keys(ask.set), ask.unset), ...by } };
  }
  if (ask.kind === 'restart') {
    // As kubectl rollout restart: the same build and config in new replicas, the old ones drained once they are ready.
    if (!serving) throw gitdErrors.nothingDeployed({ app: name, what: 'restart' });
    return { from: serving, env: { ...serving.spec.run.env }, change: { kind: 'restart', description: 'Restart', ...by } };
  }
  const known = [...revisions].sort((a, b) => releaseNumber(b.metadata.name) - releaseNumber(a.metadata.name));
  const knownText = known.length === 0 ? 'none yet' : `v${releaseNumber(known.at(-1)?.metadata.name ?? '')} to v${releaseNumber(known[0]?.metadata.name ?? '')}`;
  let target: Revision | undefined;
  if (ask.to === undefined) {
    if (!serving) throw gitdErrors.nothingDeployed({ app: name, what: 'roll back from' });
    // The previous release: the newest before the serving one that served (a failed push never did).
    const servingNumber = releaseNumber(serving.metadata.name);
    target = known.find((revision) => releaseNumber(revision.metadata.name) < servingNumber && revision.status?.phase === 'Ready');
    if (!target) throw gitdErrors.noSuchRelease({ app: name, release: `before v${servingNumber} that served`, known: knownText });
  } else {
    const wanted = revisionNamed(name, ask.to);
    target = wanted === undefined ? undefined : revisions.find((revision) => revision.metadata.name === wanted);
    if (!target) throw gitdErrors.noSuchRelease({ app: name, release: JSON.stringify(ask.to.slice(0, 64)), known: knownText });
  }
  const version = `v${releaseNumber(target.metadata.name)}`;
  if (target.metadata.name === serving?.metadata.name) throw gitdErrors.releaseNotRunnable({ release: version, reason: 'it is the release serving now' });
  if (target.status?.phase !== 'Ready') throw gitdErrors.releaseNotRunnable({ release: version, reason: `it never served (${target.status?.phase ?? 'Pending'}${target.status?.message ? `: ${target.status.message.split('\n')[0]?.slice(0, 200)}` : ''})` });
  return { from: target, env: { ...target.spec.run.env }, change: { kind: 'rollback', description: `Rollback to ${version}`, ...by }, appEnv: userConfig(target.spec) };
}
