import { defineErrors } from '../errors/index.js';

export const gitdErrors = defineErrors({
  nothingDeployed: {
    code: 'GITD_NOTHING_DEPLOYED',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { app: string; what: string }) => `${o.app} has no release serving, so there is nothing to ${o.what}; git push to deploy it first`,
  },
  noSuchRelease: {
    code: 'GITD_NO_SUCH_RELEASE',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { app: string; release: string; known: string }) => `${o.app} has no release ${o.release}; dormant releases ${o.app} lists them (${o.known})`,
  },
  releaseNotRunnable: {
    code: 'GITD_RELEASE_NOT_RUNNABLE',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { release: string; reason: string }) => `${o.release} cannot be rolled back to: ${o.reason}; choose another with dormant releases`,
  },
  runUnsandboxed: {
    code: 'GITD_RUN_UNSANDBOXED',
    httpStatus: 501,
    exitCode: 1,
    message: () => 'dormant run runs a command only in the app\'s sandbox (a pod on Kubernetes), and this dormant up has none (--insecure-no-sandbox)',
  },
  releaseFailed: {
    code: 'GITD_RELEASE_FAILED',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { reason: string }) => `the release failed: ${o.reason}; the release before it keeps serving (dormant logs APP says more)`,
  },
  releaseAskInvalid: {
    code: 'GITD_RELEASE_INVALID',
    httpStatus: 400,
    exitCode: 2,
    message: (o: { reason: string }) => `the release request is not valid: ${o.reason}`,
  },
  keyInvalid: {
    code: 'GITD_KEY_INVALID',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string; line: number; reason: string }) =>
      `${o.source} line ${o.line} is not an OpenSSH public key (${o.reason}); pass the .pub file, e.g. ~/.ssh/id_ed25519.pub, or create one with ssh-keygen -t ed25519`,
  },
  keyIsPrivate: {
    code: 'GITD_KEY_IS_PRIVATE',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string }) =>
      `${o.source} holds a private key; never share it. Pass the public half instead (the same path with .pub)`,
  },
  keyNone: {
    code: 'GITD_KEY_NONE',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string }) => `${o.source} holds no public key; pass a .pub file such as ~/.ssh/id_ed25519.pub`,
  },
  keyExists: {
    code: 'GITD_KEY_EXISTS',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { fingerprint: string }) => `key ${o.fingerprint} is already an admin key; nothing to do (dormant keys list shows them)`,
  },
  keyNotFound: {
    code: 'GITD_KEY_NOT_FOUND',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { fingerprint: string; known: readonly string[] }) =>
      `no admin key has fingerprint ${o.fingerprint}; ${o.known.length === 0 ? 'there are no admin keys' : `known: ${o.known.join(', ')}`}`,
  },
  nonFastForward: {
    code: 'GITD_NON_FAST_FORWARD',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { what: string; current: string }) =>
      `non-fast-forward: ${o.what} is at ${o.current.slice(0, 7)}, which this push does not contain; push a commit that builds on it, or set spec.git.allowForcePush to allow rewriting history`,
  },
  staleRef: {
    code: 'GITD_STALE_REF',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { current: string }) =>
      `stale info: another push moved this ref to ${o.current.slice(0, 7)} after yours started; get that commit from where you share code, build on it and push again`,
  },
  deleteDeployBranch: {
    code: 'GITD_DELETE_DEPLOY_BRANCH',
    httpStatus: 409,
    exitCode: 1,
    message: () => 'deleting the deploy branch is not allowed; dormant apps delete APP removes the whole app',
  },
  badRefName: {
    code: 'GITD_BAD_REF',
    httpStatus: 400,
    exitCode: 1,
    message: () => 'funny refname: only refs/heads/... and refs/tags/... with names git accepts can be pushed here',
  },
  refConflict: {
    code: 'GITD_REF_CONFLICT',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { other: string }) => `clashes with ${o.other} (a ref name cannot also be a folder of refs); delete ${o.other} first or choose another name`,
  },
  notACommit: {
    code: 'GITD_NOT_A_COMMIT',
    httpStatus: 400,
    exitCode: 1,
    message: () => 'a branch must point to a commit; push a commit (tags may point to annotated tags)',
  },
  packTooLarge: {
    code: 'GITD_PACK_TOO_LARGE',
    httpStatus: 413,
    exitCode: 1,
    message: (o: { limitMb: number }) =>
      `the pack is over the ${o.limitMb} MiB limit; push less history at once, or start dormant up with a larger --max-pack-mb`,
  },
  objectTooLarge: {
    code: 'GITD_OBJECT_TOO_LARGE',
    httpStatus: 413,
    exitCode: 1,
    message: (o: { index: number; count: number; type: string; offset: number; size: string; limitMb: number }) =>
      `object ${o.index} of ${o.count} in the pack (a ${o.type} at byte ${o.offset}) inflates to ${o.size}, over the ${o.limitMb} MiB limit for one object; nothing was stored. Keep large files out of git (fetch them at build time), or start dormant up with a larger --max-object-mb`,
  },
  pushTooLarge: {
    code: 'GITD_PUSH_TOO_LARGE',
    httpStatus: 413,
    exitCode: 1,
    message: (o: { index: number; count: number; limitMb: number }) =>
      `the objects of this push inflate to over ${o.limitMb} MiB (passed at object ${o.index} of ${o.count}); nothing was stored. Push less history at once, or start dormant up with a larger --max-push-mb`,
  },
  tooManyObjects: {
    code: 'GITD_TOO_MANY_OBJECTS',
    httpStatus: 413,
    exitCode: 1,
    message: (o: { objects: number; limit: number }) =>
      `this push sends ${o.objects} objects, over the limit of ${o.limit}; nothing was stored. Push the history in parts (git push dormant OLDER-COMMIT:refs/heads/main, then the rest), or start dormant up with a larger --max-objects-per-push`,
  },
  deltaTooDeep: {
    code: 'GITD_DELTA_TOO_DEEP',
    httpStatus: 413,
    exitCode: 1,
    message: (o: { index: number; count: number; type: string; offset: number; depth: number; limit: number }) =>
      `object ${o.index} of ${o.count} in the pack (a ${o.type} at byte ${o.offset}) makes a chain of ${o.depth} deltas, over the limit of ${o.limit} (git's default pack.depth is 50); nothing was stored. Repack with shorter chains (git repack -adf --depth=50) and push again, or start dormant up with a larger --max-delta-depth`,
  },
  deltaChainTooLarge: {
    code: 'GITD_DELTA_CHAIN_TOO_LARGE',
    httpStatus: 413,
    exitCode: 1,
    message: (o: { index: number; count: number; type: string; offset: number; depth: number; costMb: number; limitMb: number; cachedMb: number }) =>
      `indexing this push would build over ${o.limitMb} MiB of objects (passed at object ${o.index} of ${o.count}, a ${o.type} at byte ${o.offset}: delta ${o.depth} of a chain over objects larger than ${o.cachedMb} MiB, each of which is rebuilt from the start of the chain, ${o.costMb} MiB for this one alone); nothing was stored. Push the history of large files in parts (git push dormant OLDER-COMMIT:refs/heads/main, then the rest), keep large files that change often out of git, or start dormant up with a larger --max-push-mb`,
  },
  tooManyRefs: {
    code: 'GITD_TOO_MANY_REFS',
    httpStatus: 413,
    exitCode: 1,
    message: (o: { refs: number; limit: number }) =>
      `this push updates ${o.refs} refs, over the limit of ${o.limit}; nothing was stored. Push them in groups (git push dormant 'refs/tags/v1.*'), or start dormant up with a larger --max-refs-per-push`,
  },
  refNameTooLong: {
    code: 'GITD_REF_NAME_TOO_LONG',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { ref: string; bytes: number; what: string }) =>
      `the ref ${o.ref} is too long: ${o.what}; nothing was stored. Choose a shorter branch or tag name`,
  },
  badPack: {
    code: 'GITD_BAD_PACK',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { reason: string }) => `${o.reason}; nothing was stored. Push again with a current git client`,
  },
  protocol: {
    code: 'GITD_PROTOCOL',
    httpStatus: 400,
    exitCode: 128,
    message: (o: { reason: string }) => `protocol error: ${o.reason}; this is a git remote: use git push`,
  },
  accessDenied: {
    code: 'GITD_ACCESS_DENIED',
    httpStatus: 403,
    exitCode: 1,
    message: (o: { fingerprint: string; app: string }) =>
      `key ${o.fingerprint} may not push to ${o.app}: it is authorized for other apps only. An admin can add it to ${o.app}'s spec.git.authorizedKeys`,
  },
  noSuchApp: {
    code: 'GITD_NO_SUCH_APP',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { app: string }) =>
      `there is no app named ${o.app}, and only admin keys create apps by pushing (dormant keys add); check the remote's URL`,
  },
  notSupported: {
    code: 'GITD_NOT_SUPPORTED',
    httpStatus: 501,
    exitCode: 1,
    message: (o: { program: string }) => `${o.program} (fetch and clone) is not supported yet: Dormant accepts pushes only (git push dormant main)`,
  },
  badCommand: {
    code: 'GITD_BAD_COMMAND',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { command: string }) =>
      `Dormant does not run "${o.command.slice(0, 80)}": it has no shell and accepts git push only (git remote add dormant ssh://git@HOST:PORT/APP); git-receive-pack needs one repository path such as 'hello'`,
  },
  badAppName: {
    code: 'GITD_BAD_APP_NAME',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { app: string; problems: readonly string[] }) =>
      `"${o.app}" cannot be an app name: ${o.problems.join('; ')}; push to a remote such as ssh://git@HOST:PORT/hello instead`,
  },
  tagDeleted: {
    code: 'GITD_TAG_DELETED',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { tag: string; current: string }) =>
      `tag ${o.tag} (at ${o.current.slice(0, 7)}) cannot be deleted: a tag that goes could come back at another commit; push a new tag, or set spec.git.allowForcePush to allow deleting and moving tags`,
  },
  tagMoved: {
    code: 'GITD_TAG_MOVED',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { tag: string; current: string }) =>
      `tag ${o.tag} already exists at ${o.current.slice(0, 7)} and tags do not move; push a new tag, or set spec.git.allowForcePush to allow moving tags`,
  },
});
