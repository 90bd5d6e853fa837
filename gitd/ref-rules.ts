/**
 * Which pushed ref updates gitd accepts, which one deploys, and which are forced: pure
 * rules over what receive-pack found out (the ref's value now, ancestry answers, the
 * commit the App serves). The same non-fast-forward rule holds for every branch; tags do
 * not move; a deploy must contain the deployed commit, whatever ref carries it.
 */
import type { DormantError } from '../errors/index.js';
import { gitdErrors } from './errors.js';
import { type RefUpdate, zeroOid } from './pkt-line.js';

const heads = 'refs/heads/';
const tags = 'refs/tags/';

/** The deploy branch of a push, and whether this push makes it the App's (a first push of master). */
export interface DeployBranch {
  /** The full ref, refs/heads/NAME. */
  readonly ref: string;
  /** True: the App has no deploy yet and the push moves master alone, so master becomes spec.git.branch. */
  readonly adopted: boolean;
}

export interface DeployBranchInput {
  /** spec.git.branch. */
  readonly configured: string;
  /** The App serves a revision (status.readyRevision). */
  readonly deployed: boolean;
  /** The refs the repository holds before this push. */
  readonly existing: ReadonlySet<string>;
  readonly updates: readonly RefUpdate[];
}

/**
 * Only spec.git.branch deploys. One allowance for repositories whose branch is master (as
 * Heroku deploys main or master): while the App has never deployed, its branch is the
 * default main, and main does not exist here, a push that moves master and no other branch
 * deploys master and makes it the deploy branch. This gives the pusher nothing it could not
 * do anyway (push master:main), and from the first deploy on the branch is fixed.
 */
export function deployBranchOf({ configured, deployed, existing, updates }: DeployBranchInput): DeployBranch {
  const configuredRef = `${heads}${configured}`;
  if (configured !== 'main' || deployed || existing.has(configuredRef)) return { ref: configuredRef, adopted: false };
  const branches = updates.filter((u) => u.ref.startsWith(heads) && u.newOid !== zeroOid);
  if (branches.length === 1 && branches[0]?.ref === `${heads}master`) return { ref: `${heads}master`, adopted: true };
  return { ref: configuredRef, adopted: false };
}

/** What receive-pack found out about one update; the ancestry answers are asked only where needed (see questionsFor). */
export interface RefUpdateFacts {
  readonly update: RefUpdate;
  /** The ref's value in the repository now; zeroOid when it does not exist. */
  readonly current: string;
  readonly validName: boolean;
  /** Another ref (existing or pushed) that cannot coexist with this one. */
  readonly clash: string | undefined;
  /** The deploy branch of this push (refs/heads/NAME). */
  readonly deployRef: string;
  readonly allowForcePush: boolean;
  /** The commit the App serves now, from its ready Revision; undefined before the first deploy. */
  readonly deployedCommit: string | undefined;
  /** newOid is a commit (asked for branch updates that set a value). */
  readonly isCommit: boolean | undefined;
  /** current is newOid or one of its ancestors. */
  readonly containsCurrent: boolean | undefined;
  /** deployedCommit is newOid or one of its ancestors. */
  readonly containsDeployed: boolean | undefined;
}

/** Why an accepted update is a forced one: history of the branch rewritten, a tag moved, or a deploy without the deployed commit. */
export type ForcedKind = 'rewrites-branch' | 'moves-tag' | 'deletes-tag' | 'drops-deployed';

export type RefVerdict =
  | { readonly accepted: false; readonly error: DormantError }
  | { readonly accepted: true; readonly deploys: boolean; readonly forced: ForcedKind | undefined };

/** Which ancestry questions the verdict needs for an update, given its current value and the deploy branch. */
export function questionsFor(update: RefUpdate, current: string, deployRef: string, deployedCommit: string | undefined): { isCommit: boolean; containsCurrent: boolean; containsDeployed: boolean } {
  const setsBranch = update.ref.startsWith(heads) && update.newOid !== zeroOid;
  return {
    isCommit: setsBranch,
    containsCurrent: setsBranch && current !== zeroOid && current !== update.newOid,
    containsDeployed: setsBranch && update.ref === deployRef && deployedCommit !== undefined && deployedCommit !== update.newOid,
  };
}

const short = (oid: string) => oid.slice(0, 7);

export function judgeRefUpdate(facts: RefUpdateFacts): RefVerdict {
  const { update, current, deployRef, allowForcePush } = facts;
  const refuse = (error: DormantError): RefVerdict => ({ accepted: false, error });
  const deletes = update.newOid === zeroOid;
  const isBranch = update.ref.startsWith(heads);
  const isTag = update.ref.startsWith(tags);
  const deploys = update.ref === deployRef && !deletes;
  if (!facts.validName) return refuse(gitdErrors.badRefName({}));
  if (current !== update.oldOid) return refuse(gitdErrors.staleRef({ current }));
  if (!deletes && facts.clash !== undefined) return refuse(gitdErrors.refConflict({ other: facts.clash }));
  if (deletes && update.ref === deployRef) return refuse(gitdErrors.deleteDeployBranch({}));
  if (isBranch && !deletes && facts.isCommit !== true) return refuse(gitdErrors.notACommit({}));

  let forced: ForcedKind | undefined;
  if (isTag && !deletes && current !== zeroOid && current !== update.newOid) {
    if (!allowForcePush) return refuse(gitdErrors.tagMoved({ tag: update.ref.slice(tags.length), current }));
    forced = 'moves-tag';
  }
  // A deleted tag could come back at another commit in the next push: deleting is moving, in two steps.
  if (isTag && deletes && current !== zeroOid) {
    if (!allowForcePush) return refuse(gitdErrors.tagDeleted({ tag: update.ref.slice(tags.length), current }));
    forced = 'deletes-tag';
  }
  // The same rule for every branch, as git's receive.denyNonFastForwards.
  if (isBranch && !deletes && current !== zeroOid && current !== update.newOid && facts.containsCurrent !== true) {
    const what = deploys ? 'the deploy branch' : update.ref.slice(heads.length);
    if (!allowForcePush) return refuse(gitdErrors.nonFastForward({ what, current }));
    forced = 'rewrites-branch';
  }
  // Checked against what serves, not against the ref's old value: a new ref, or a deploy
  // branch changed in the App, cannot bring in a history without the deployed commit.
  if (deploys && facts.deployedCommit !== undefined && facts.deployedCommit !== update.newOid && facts.containsDeployed !== true) {
    if (!allowForcePush) return refuse(gitdErrors.nonFastForward({ what: 'the deployed revision', current: facts.deployedCommit }));
    forced ??= 'drops-deployed';
  }
  return { accepted: true, deploys, forced };
}

/** The line a pusher sees for a forced update that spec.git.allowForcePush allowed. */
export function forcedLine(update: RefUpdate, forced: ForcedKind, deployedCommit: string | undefined): string {
  const name = update.ref.startsWith(heads) ? update.ref.slice(heads.length) : update.ref.startsWith(tags) ? `tag ${update.ref.slice(tags.length)}` : update.ref;
  const what =
    forced === 'moves-tag'
      ? `moved from ${short(update.oldOid)} to ${short(update.newOid)}`
      : forced === 'deletes-tag'
        ? `deleted at ${short(update.oldOid)}`
      : forced === 'drops-deployed'
        ? `${short(update.newOid)} does not contain the deployed commit ${short(deployedCommit ?? zeroOid)}`
        : `${short(update.oldOid)}...${short(update.newOid)}, history rewritten`;
  return `-----> forced update of ${name}: ${what} (allowed by spec.git.allowForcePush)`;
}
