import { defineErrors } from '../errors/index.js';

/** Why a pushed tree cannot be built; the message reaches the pusher as `remote:` lines. */
export const buildErrors = defineErrors({
  noDockerfile: {
    code: 'BUILD_NO_DOCKERFILE',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { path: string }) => `spec.build.strategy is dockerfile, but the repository has no ${o.path}; add it, or set spec.build.dockerfile and spec.build.context`,
  },
  alpine: {
    code: 'BUILD_ALPINE',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { image: string; suggestion: string }) =>
      `FROM ${o.image}: Alpine images cannot be made here (no Alpine mirror is reachable, and the bases are made from Debian's packages); use ${o.suggestion} instead`,
  },
  linkLeavesSource: {
    code: 'BUILD_LINK_LEAVES_SOURCE',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { path: string }) => `${o.path} is a symbolic link to a path outside the repository; Dormant reads it only from inside the pushed tree: commit the file itself`,
  },
  noPodman: {
    code: 'BUILD_NO_PODMAN',
    httpStatus: 422,
    exitCode: 1,
    message: () => 'this app builds with a Dockerfile, and podman is not installed here; install it with hack/containers.sh (apt-get install podman runc), then push again',
  },
  baseImageMissing: {
    code: 'BUILD_BASE_IMAGE_MISSING',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { image: string }) =>
      `the base image ${o.image} is not on this machine and cannot be pulled (no registry is reachable); make the bases with hack/base-images.sh (debian:bookworm[-slim], node:20[-slim]), then push again`,
  },
  podmanBuildFailed: {
    code: 'BUILD_DOCKERFILE_FAILED',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { step: string; exit: string }) => `podman build ${o.exit}${o.step ? ` at STEP "${o.step}"` : ''}; its output is above`,
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
  packageManager: {
    code: 'BUILD_PACKAGE_MANAGER',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { pin: string; reason: string }) => `package.json's packageManager "${o.pin}" cannot be used: ${o.reason}; pin an exact version (pnpm@9.15.9, yarn@1.22.22) or remove the field`,
  },
  nodeUnavailable: {
    code: 'BUILD_NODE_UNAVAILABLE',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { version: string; reason: string }) => `Node ${o.version} cannot be had here (${o.reason}); push again when the npm registry answers, or ask for the Node the stack has`,
  },
  badEngines: {
    code: 'BUILD_NODE_VERSION',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { wanted: string; from: string; reason: string }) => `${o.from} asks for Node "${o.wanted}", but ${o.reason}; ask for a release that exists, such as "22.x" or ">=20"`,
  },
  pythonVersion: {
    code: 'BUILD_PYTHON_VERSION',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { wanted: string; from: string; reason: string; here: string }) =>
      `${o.from} asks for Python "${o.wanted}", but ${o.reason}; the Pythons here are ${o.here} (Debian's): put one of them in .python-version (such as "${o.here.split(', ')[0] ?? '3.13'}"), or widen requires-python`,
  },
  pythonUnavailable: {
    code: 'BUILD_PYTHON_UNAVAILABLE',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { reason: string }) => `this Python app cannot be built here: ${o.reason}`,
  },
  pipfileLock: {
    code: 'BUILD_PIPFILE_LOCK',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { reason: string }) => `Pipfile.lock cannot be installed: ${o.reason}; run "pipenv lock" and commit the Pipfile.lock it writes, or write a requirements.txt (pipenv requirements > requirements.txt)`,
  },
  pipfileWithoutLock: {
    code: 'BUILD_PIPFILE_NO_LOCK',
    httpStatus: 422,
    exitCode: 1,
    message: () => 'this Pipenv app has a Pipfile but no Pipfile.lock, and Dormant installs only what is locked; run "pipenv lock" and commit Pipfile.lock, then push again',
  },
  noPythonStart: {
    code: 'BUILD_PYTHON_NO_START',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { looked: string }) =>
      `nothing says how to start this Python app (${o.looked}); add a Procfile with a web: line, such as "web: gunicorn app:app" (it must listen on $PORT)`,
  },
  goVersion: {
    code: 'BUILD_GO_VERSION',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { wanted: string; reason: string }) => `go.mod asks for Go "${o.wanted}", but ${o.reason}; set its go line (or toolchain line) to a released Go, such as "go 1.26"`,
  },
  goUnavailable: {
    code: 'BUILD_GO_UNAVAILABLE',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { reason: string }) => `this Go app cannot be built here: ${o.reason}`,
  },
  goNoMain: {
    code: 'BUILD_GO_NO_MAIN',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { found: string }) => `${o.found}; add a Procfile with a web: line naming the binary to run, such as "web: bin/server" (it must listen on $PORT)`,
  },
  javaVersion: {
    code: 'BUILD_JAVA_VERSION',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { wanted: string; from: string; reason: string }) => `${o.from} asks for Java "${o.wanted}", but ${o.reason}; set <java.version> in pom.xml (or java.runtime.version in system.properties) to one of them`,
  },
  javaUnavailable: {
    code: 'BUILD_JAVA_UNAVAILABLE',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { reason: string }) => `this Java app cannot be built here: ${o.reason}`,
  },
  staticOutputMissing: {
    code: 'BUILD_NO_STATIC_OUTPUT',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { folders: string }) => `the build script ran, but left no index.html in ${o.folders}, and nothing else says how to start this app; add a start script or a Procfile web: line for a server, or make the build write the site there`,
  },
  fileTooLarge: {
    code: 'BUILD_FILE_TOO_LARGE',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { path: string; limit: string }) => `${o.path} is larger than ${o.limit}, more than detection reads of one file; make it smaller, or set spec.build.strategy and a Procfile so that it need not be read`,
  },
  noStart: {
    code: 'BUILD_NO_START',
    httpStatus: 422,
    exitCode: 1,
    message: () => 'nothing says how to start this app: add "scripts": {"start": "node server.js"} to package.json, a server.js, or a Procfile with a web: line',
  },
  languageNotBuilt: {
    code: 'BUILD_LANGUAGE_UNSUPPORTED',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { language: string; files: string; instead?: string }) =>
      `this looks like a ${o.language} app (${o.files}), which Dormant does not build: it builds Node apps (package.json), Python apps (requirements.txt, uv.lock, poetry.lock, Pipfile.lock, pyproject.toml), Go modules (go.mod), Maven apps (pom.xml), static sites (index.html) and Dockerfiles; ${o.instead ?? 'add a Dockerfile to deploy it as it is'}`,
  },
  strategyFiles: {
    code: 'BUILD_STRATEGY_FILES',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { strategy: string; files: string }) => `spec.build.strategy is ${o.strategy}, but the repository has no ${o.files} at its root; add it, or set spec.build.strategy to auto`,
  },
  nothingToBuild: {
    code: 'BUILD_UNKNOWN_APP',
    httpStatus: 422,
    exitCode: 1,
    message: () => 'Dormant cannot tell how to run this repository: it has no package.json, requirements.txt, pyproject.toml, Procfile, index.html or Dockerfile at its root',
  },
  stepFailed: {
    code: 'BUILD_STEP_FAILED',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { step: string; exit: string }) => `${o.step} ${o.exit}; its output is above`,
  },
  registryUnreachable: {
    code: 'BUILD_REGISTRY_UNREACHABLE',
    httpStatus: 502,
    exitCode: 1,
    message: (o: { registry: string; reason: string }) => `the registry ${o.registry} cannot be reached (${o.reason}); start it (hack/registry.sh) or check the configured address`,
  },
  registryRefused: {
    code: 'BUILD_REGISTRY_REFUSED',
    httpStatus: 502,
    exitCode: 1,
    message: (o: { registry: string; what: string; status: number; body: string }) => `the registry ${o.registry} refused ${o.what} (HTTP ${o.status}: ${o.body})`,
  },
  imageUnrunnable: {
    code: 'BUILD_IMAGE_UNRUNNABLE',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { image: string; reason: string }) => `the image ${o.image} cannot be run here: ${o.reason}; fix the Dockerfile and push again`,
  },
  registryMissingBase: {
    code: 'BUILD_REGISTRY_MISSING_BASE',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { registry: string; image: string }) => `the base image ${o.image} is not in the registry ${o.registry}; push the bases there first (hack/registry.sh does)`,
  },
});
