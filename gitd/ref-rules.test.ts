import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { zeroOid } from './pkt-line.js';
import { deployBranchOf, forcedLine, judgeRefUpdate, questionsFor, type RefUpdateFacts } from './ref-rules.js';

const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => x.repeat(40)) as [string, string, string, string];
const main = 'refs/heads/main';
const master = 'refs/heads/master';

/** An update of ref from old to new that passes every check unless a row says otherwise. */
function facts(ref: string, oldOid: string, newOid: string, change: Partial<RefUpdateFacts> = {}): RefUpdateFacts {
  return {
    update: { ref, oldOid, newOid },
    current: oldOid,
    validName: true,
    clash: undefined,
    deployRef: main,
    allowForcePush: false,
    deployedCommit: undefined,
    isCommit: ref.startsWith('refs/heads/') && newOid !== zeroOid ? true : undefined,
    containsCurrent: undefined,
    containsDeployed: undefined,
    ...change,
  };
}

describe('judgeRefUpdate', () => {
  const rows: { name: string; facts: RefUpdateFacts; code?: string; deploys?: boolean; forced?: string; message?: RegExp }[] = [
    { name: 'creating the deploy branch before any deploy deploys', facts: facts(main, zeroOid, a), deploys: true },
    { name: 'a fast-forward of the deploy branch from the deployed commit deploys', facts: facts(main, a, b, { deployedCommit: a, containsCurrent: true, containsDeployed: true }), deploys: true },
    {
      name: 'a rewrite of the deploy branch is refused',
      facts: facts(main, a, b, { deployedCommit: a, containsCurrent: false, containsDeployed: false }),
      code: 'GITD_NON_FAST_FORWARD',
      message: /the deploy branch is at aaaaaaa/,
    },
    {
      name: 'a rewrite of the deploy branch with allowForcePush deploys, forced',
      facts: facts(main, a, b, { deployedCommit: a, containsCurrent: false, containsDeployed: false, allowForcePush: true }),
      deploys: true,
      forced: 'rewrites-branch',
    },
    {
      name: 'a new deploy ref whose history lacks the deployed commit is refused (the deploy branch changed in the App)',
      facts: facts('refs/heads/prod', zeroOid, b, { deployRef: 'refs/heads/prod', deployedCommit: a, containsDeployed: false }),
      code: 'GITD_NON_FAST_FORWARD',
      message: /the deployed revision is at aaaaaaa/,
    },
    {
      name: 'a new deploy ref that contains the deployed commit deploys',
      facts: facts('refs/heads/prod', zeroOid, b, { deployRef: 'refs/heads/prod', deployedCommit: a, containsDeployed: true }),
      deploys: true,
    },
    {
      name: 'a deploy ref moved by a fast-forward but without the deployed commit is refused',
      facts: facts(main, c, b, { deployedCommit: a, containsCurrent: true, containsDeployed: false }),
      code: 'GITD_NON_FAST_FORWARD',
      message: /the deployed revision/,
    },
    {
      name: 'a new deploy ref without the deployed commit, with allowForcePush, deploys forced',
      facts: facts('refs/heads/prod', zeroOid, b, { deployRef: 'refs/heads/prod', deployedCommit: a, containsDeployed: false, allowForcePush: true }),
      deploys: true,
      forced: 'drops-deployed',
    },
    { name: 'pushing the deployed commit again to the deploy branch deploys', facts: facts(main, a, a, { deployedCommit: a }), deploys: true },
    { name: 'a new master while main deploys is stored, not deployed', facts: facts(master, zeroOid, b, { deployedCommit: a }), deploys: false },
    { name: 'a rewrite of master while main deploys is refused', facts: facts(master, c, b, { deployedCommit: a, containsCurrent: false }), code: 'GITD_NON_FAST_FORWARD', message: /master is at ccccccc/ },
    { name: 'a rewrite of a feature branch is refused', facts: facts('refs/heads/feature', c, b, { containsCurrent: false }), code: 'GITD_NON_FAST_FORWARD', message: /feature is at ccccccc/ },
    { name: 'a rewrite of a feature branch with allowForcePush is stored, forced', facts: facts('refs/heads/feature', c, b, { containsCurrent: false, allowForcePush: true }), deploys: false, forced: 'rewrites-branch' },
    { name: 'a fast-forward of a feature branch is stored', facts: facts('refs/heads/feature', c, b, { containsCurrent: true }), deploys: false },
    { name: 'deleting a feature branch is allowed', facts: facts('refs/heads/feature', c, zeroOid), deploys: false },
    { name: 'deleting the deploy branch is refused', facts: facts(main, a, zeroOid), code: 'GITD_DELETE_DEPLOY_BRANCH' },
    { name: 'a new tag is stored', facts: facts('refs/tags/v1', zeroOid, b), deploys: false },
    { name: 'moving a tag is refused', facts: facts('refs/tags/v1', c, b), code: 'GITD_TAG_MOVED', message: /tag v1 already exists at ccccccc/ },
    { name: 'moving a tag with allowForcePush is allowed, forced', facts: facts('refs/tags/v1', c, b, { allowForcePush: true }), deploys: false, forced: 'moves-tag' },
    { name: 'deleting a tag is refused', facts: facts('refs/tags/v1', c, zeroOid), code: 'GITD_TAG_DELETED', message: /tag v1 \(at ccccccc\) cannot be deleted/ },
    { name: 'deleting a tag with allowForcePush is allowed, forced', facts: facts('refs/tags/v1', c, zeroOid, { allowForcePush: true }), deploys: false, forced: 'deletes-tag' },
    { name: 'a stale old value is refused before anything else', facts: facts(main, a, b, { current: d, containsCurrent: false }), code: 'GITD_STALE_REF' },
    { name: 'a bad name is refused', facts: facts('refs/heads/a..b', zeroOid, b, { validName: false }), code: 'GITD_BAD_REF' },
    { name: 'a clash is refused', facts: facts('refs/heads/a', zeroOid, b, { clash: 'refs/heads/a/b' }), code: 'GITD_REF_CONFLICT' },
    { name: 'a branch to a non-commit is refused', facts: facts('refs/heads/x', zeroOid, b, { isCommit: false }), code: 'GITD_NOT_A_COMMIT' },
    { name: 'a branch whose ancestry was not asked is refused, not assumed', facts: facts('refs/heads/x', c, b), code: 'GITD_NON_FAST_FORWARD' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const verdict = judgeRefUpdate(row.facts);
      if (row.code) {
        assert.equal(verdict.accepted, false);
        if (!verdict.accepted) {
          assert.equal(verdict.error.code, row.code);
          if (row.message) assert.match(verdict.error.message, row.message);
        }
      } else {
        assert.deepEqual(verdict, { accepted: true, deploys: row.deploys ?? false, forced: row.forced });
      }
    });
  }
});

describe('questionsFor asks exactly what the verdict needs', () => {
  const rows = [
    { name: 'a new branch: is it a commit', args: [{ ref: 'refs/heads/f', oldOid: zeroOid, newOid: b }, zeroOid, main, a], want: { isCommit: true, containsCurrent: false, containsDeployed: false } },
    { name: 'an existing branch: ancestry of its value', args: [{ ref: 'refs/heads/f', oldOid: c, newOid: b }, c, main, a], want: { isCommit: true, containsCurrent: true, containsDeployed: false } },
    { name: 'the deploy branch: ancestry of the deployed commit too', args: [{ ref: main, oldOid: a, newOid: b }, a, main, a], want: { isCommit: true, containsCurrent: true, containsDeployed: true } },
    { name: 'a new deploy branch before any deploy: nothing to compare', args: [{ ref: main, oldOid: zeroOid, newOid: b }, zeroOid, main, undefined], want: { isCommit: true, containsCurrent: false, containsDeployed: false } },
    { name: 'a tag: no question', args: [{ ref: 'refs/tags/v1', oldOid: c, newOid: b }, c, main, a], want: { isCommit: false, containsCurrent: false, containsDeployed: false } },
    { name: 'a deletion: no question', args: [{ ref: 'refs/heads/f', oldOid: c, newOid: zeroOid }, c, main, a], want: { isCommit: false, containsCurrent: false, containsDeployed: false } },
  ] as const;
  for (const row of rows) {
    it(row.name, () => assert.deepEqual(questionsFor(row.args[0], row.args[1], row.args[2], row.args[3]), row.want));
  }
});

describe('deployBranchOf', () => {
  const update = (ref: string, newOid = b) => ({ ref, oldOid: zeroOid, newOid });
  const rows = [
    { name: 'main configured, main pushed', input: { configured: 'main', deployed: false, existing: new Set<string>(), updates: [update(main)] }, want: { ref: main, adopted: false } },
    { name: 'main configured, never deployed, master pushed alone: master adopted', input: { configured: 'main', deployed: false, existing: new Set<string>(), updates: [update(master)] }, want: { ref: master, adopted: true } },
    { name: 'master pushed alone with a tag: master adopted', input: { configured: 'main', deployed: false, existing: new Set<string>(), updates: [update(master), update('refs/tags/v1')] }, want: { ref: master, adopted: true } },
    { name: 'master pushed after a deploy: main stays', input: { configured: 'main', deployed: true, existing: new Set([main]), updates: [update(master)] }, want: { ref: main, adopted: false } },
    { name: 'master pushed when main exists but never deployed: main stays', input: { configured: 'main', deployed: false, existing: new Set([main]), updates: [update(master)] }, want: { ref: main, adopted: false } },
    { name: 'master and another branch pushed: main stays', input: { configured: 'main', deployed: false, existing: new Set<string>(), updates: [update(master), update('refs/heads/feature')] }, want: { ref: main, adopted: false } },
    { name: 'master and main pushed: main deploys', input: { configured: 'main', deployed: false, existing: new Set<string>(), updates: [update(master), update(main)] }, want: { ref: main, adopted: false } },
    { name: 'master deleted alone: main stays', input: { configured: 'main', deployed: false, existing: new Set([master]), updates: [update(master, zeroOid)] }, want: { ref: main, adopted: false } },
    { name: 'another branch configured: only it deploys', input: { configured: 'prod', deployed: false, existing: new Set<string>(), updates: [update(master)] }, want: { ref: 'refs/heads/prod', adopted: false } },
  ];
  for (const row of rows) {
    it(row.name, () => assert.deepEqual(deployBranchOf(row.input), row.want));
  }
});

describe('forcedLine', () => {
  it('names the branch, both commits and the setting', () => {
    assert.equal(forcedLine({ ref: main, oldOid: a, newOid: b }, 'rewrites-branch', a), '-----> forced update of main: aaaaaaa...bbbbbbb, history rewritten (allowed by spec.git.allowForcePush)');
  });
  it('names a tag as a tag', () => {
    assert.equal(forcedLine({ ref: 'refs/tags/v1', oldOid: a, newOid: b }, 'moves-tag', undefined), '-----> forced update of tag v1: moved from aaaaaaa to bbbbbbb (allowed by spec.git.allowForcePush)');
  });
});
