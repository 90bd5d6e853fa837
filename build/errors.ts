import { defineErrors } from '../errors/index.js';

/** Why a pushed tree cannot be built; the message reaches the pusher as `remote:` lines. */
export const buildErrors = defineErrors({
  containersNotBuilt: {
    code: 'BUILD_CONTAINERS_NOT_BUILT',
    httpStatus: 422,
    exitCode: 1,
    message: () =>
      'this repository builds with a Dockerfile, and container builds are not built yet (issue #8). Push a Node app (package.json), a Procfile app or a static site (index.html) for now',
  },
  procfileNoWeb: {
    code: 'BUILD_PROCFILE_NO_WEB',
    httpStatus: 422,
    exitCode: 1,
    message: () => 'the Procfile has no web: line; add one such as "web: node server.js" (it must listen on $PORT)',
  },
  badPackageJson: {
    code: 'BUILD_BAD_PACKAGE_JSON',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { reason: string }) => `package.json is not valid JSON (${o.reason}); fix it and push again`,
  },
  badEngines: {
    code: 'BUILD_NODE_VERSION',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { wanted: string; installed: string; reason: string }) =>
      `package.json asks for Node "${o.wanted}" in engines.node, but ${o.reason}; widen engines.node to include ${o.installed} (e.g. ">=20")`,
  },
  noStart: {
    code: 'BUILD_NO_START',
    httpStatus: 422,
    exitCode: 1,
    message: () => 'nothing says how to start this app: add "scripts": {"start": "node server.js"} to package.json, a server.js, or a Procfile with a web: line',
  },
  nothingToBuild: {
    code: 'BUILD_UNKNOWN_APP',
    httpStatus: 422,
    exitCode: 1,
    message: () => 'Dormant cannot tell how to run this repository: it has no package.json, Procfile, index.html or Dockerfile at its root',
  },
  stepFailed: {
    code: 'BUILD_STEP_FAILED',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { step: string; exit: string }) => `${o.step} ${o.exit}; its output is above`,
  },
});
