import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isDormantError } from '../errors/index.js';
import { type BuildPlan, type BuildStrategy, choosePackageManager, detectBuild, procfileWeb, shellStart, slimInstead } from './detect.js';
import { chooseNode, type NodeRequest } from './node-version.js';
import { chooseJava, type JavaRequest } from './detect-java.js';
import { chooseGo, type GoMod } from './go-version.js';
import { choosePython, type PythonRequest } from './python-version.js';

const made: string[] = [];
after(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dormant-detect-'));
  made.push(dir);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const pkg = (manifest: Record<string, unknown>) => JSON.stringify({ name: 'app', ...manifest });
/** Releases as the registry might list them; the stack's node is 20.20.2. */
const releases = ['4.0.0', '18.20.4', '20.20.2', '22.12.0', '22.23.5', '26.0.0-rc.1'];
const pythonLines = [
  { version: '3.13.5', image: 'python:3.13-slim' },
  { version: '3.15.2', image: 'python:3.15-slim' },
];
const options = {
  chooseNode: async (request: NodeRequest | undefined) => chooseNode(request, releases, 'v20.20.2'),
  choosePython: async (request: PythonRequest | undefined) => choosePython(request, pythonLines),
  chooseGo: async (goMod: GoMod) => chooseGo(goMod, ['1.21.0', '1.22.11', '1.22.12', '1.26.8']),
  chooseJava: async (request: JavaRequest | undefined) => chooseJava(request, [17, 21, 25].map((major) => ({ major, image: `maven:3.9-eclipse-temurin-${major}` }))),
  strategy: 'auto',
} as const;

interface Row {
  readonly name: string;
  readonly files: Record<string, string>;
  readonly summary?: string;
  readonly steps?: readonly string[];
  readonly start?: readonly string[];
  readonly error?: string;
  readonly strategy?: BuildStrategy;
}

const rows: readonly Row[] = [
  {
    name: 'package.json with a lockfile: npm ci, then the build script; starts its start script',
    files: { 'package.json': pkg({ dependencies: { a: '1' }, scripts: { build: 'tsc', start: 'node dist/main.js' } }), 'package-lock.json': '{}' },
    summary: 'node 20, npm ci',
    steps: ['npm ci', 'npm run build'],
    start: ['/bin/sh', '-c', 'PATH="$PWD/node_modules/.bin:$PATH" exec node dist/main.js'],
  },
  {
    name: 'package.json with dependencies and no lockfile: npm install',
    files: { 'package.json': pkg({ dependencies: { a: '1' }, scripts: { start: 'node index.js' } }) },
    summary: 'node 20, npm install',
    steps: ['npm install'],
  },
  { name: 'package.json without dependencies: nothing to install', files: { 'package.json': pkg({ scripts: { start: 'node s.js' } }) }, summary: 'node 20, no dependencies', steps: [] },
  {
    name: 'no start script but a server.js: node server.js, as npm start does',
    files: { 'package.json': pkg({}), 'server.js': '' },
    start: ['/bin/sh', '-c', 'PATH="$PWD/node_modules/.bin:$PATH" exec node server.js'],
  },
  {
    name: "a Procfile's web line wins over the start script",
    files: { 'package.json': pkg({ scripts: { start: 'node a.js' } }), Procfile: 'worker: node w.js\nweb: node web.js\n' },
    summary: 'node 20, no dependencies, Procfile',
    start: ['/bin/sh', '-c', 'PATH="$PWD/node_modules/.bin:$PATH" exec node web.js'],
  },
  { name: 'a Procfile alone', files: { Procfile: 'web: ./run --port $PORT\n' }, summary: 'Procfile', steps: [] },
  { name: 'index.html alone: a static site', files: { 'index.html': '<p>hi</p>' }, summary: 'static site', start: ['node', '.dormant-static-server.cjs'] },
  { name: 'engines.node that the stack meets, and no newer release does', files: { 'package.json': pkg({ engines: { node: '>=18 <21' }, scripts: { start: 'node s.js' } }) }, summary: 'node 20.20.2 (>=18 <21 in engines.node), no dependencies' },
  { name: 'engines.node the stack does not meet: the newest release that does', files: { 'package.json': pkg({ engines: { node: '^22' }, scripts: { start: 'x' } }) }, summary: 'node 22.23.5 (^22 in engines.node), no dependencies' },
  { name: 'an old exact engines.node', files: { 'package.json': pkg({ engines: { node: '4.0.0' }, scripts: { start: 'x' } }) }, summary: 'node 4.0.0 (4.0.0 in engines.node), no dependencies' },
  { name: '.nvmrc with an nvm alias', files: { 'package.json': pkg({ scripts: { start: 'x' } }), '.nvmrc': 'lts/hydrogen\n' }, summary: 'node 18.20.4 (lts/hydrogen in .nvmrc), no dependencies' },
  { name: '.node-version with a v', files: { 'package.json': pkg({ scripts: { start: 'x' } }), '.node-version': 'v22\n' }, summary: 'node 22.23.5 (v22 in .node-version), no dependencies' },
  { name: 'engines.node wins over .nvmrc', files: { 'package.json': pkg({ engines: { node: '20.x' }, scripts: { start: 'x' } }), '.nvmrc': '18' }, summary: 'node 20.20.2 (20.x in engines.node), no dependencies' },
  { name: 'engines.node no release meets', files: { 'package.json': pkg({ engines: { node: '>=99' } }) }, error: 'BUILD_NODE_VERSION: engines.node asks for Node ">=99", but no Node release satisfies it (releases here run from 4.0.0 to 22.23.5)' },
  { name: 'engines.node that is not a range', files: { 'package.json': pkg({ engines: { node: 'latest please' } }) }, error: 'BUILD_NODE_VERSION: engines.node asks for Node "latest please", but it is not a version, a semver range or an nvm alias' },
  {
    name: 'a pnpm lockfile: pnpm for its format, and pnpm runs the build script',
    files: { 'package.json': pkg({ scripts: { build: 'x', start: 'node s.js' } }), 'pnpm-lock.yaml': "lockfileVersion: '6.0'\n" },
    summary: 'node 20, pnpm install --frozen-lockfile (pnpm 8.15.9 for lockfileVersion 6)',
    steps: ['pnpm install --frozen-lockfile', 'pnpm run build'],
  },
  {
    name: 'heroku-postbuild instead of build, then the devDependencies pruned',
    files: { 'package.json': pkg({ scripts: { build: 'b', 'heroku-postbuild': 'h', start: 'x' }, devDependencies: { typescript: '5' } }), 'package-lock.json': '{}' },
    steps: ['npm ci', 'npm run heroku-postbuild', 'npm prune --omit=dev'],
  },
  { name: 'yarn 1 prunes with an offline production install', files: { 'package.json': pkg({ scripts: { start: 'x' }, devDependencies: { a: '1' } }), 'yarn.lock': '# yarn lockfile v1\n' }, steps: ['yarn install --frozen-lockfile', 'yarn install --production'] },
  { name: 'yarn 2+ keeps its devDependencies (pruning needs a plugin)', files: { 'package.json': pkg({ scripts: { start: 'x' }, devDependencies: { a: '1' } }), 'yarn.lock': '__metadata:\n  version: 8\n' }, steps: ['yarn install --immutable'] },
  { name: 'a yarn 1 lockfile', files: { 'package.json': pkg({ scripts: { start: 'x' } }), 'yarn.lock': '# yarn lockfile v1\n' }, steps: ['yarn install --frozen-lockfile'] },
  { name: 'a yarn 2+ lockfile', files: { 'package.json': pkg({ scripts: { start: 'x' } }), 'yarn.lock': '__metadata:\n  version: 8\n' }, steps: ['yarn install --immutable'] },
  { name: 'a packageManager pin that is not NAME@VERSION', files: { 'package.json': pkg({ packageManager: 'pnpm', scripts: { start: 'x' } }), 'pnpm-lock.yaml': '' }, error: `BUILD_PACKAGE_MANAGER: package.json's packageManager "pnpm" cannot be used: it is not NAME@VERSION` },
  { name: 'package.json that is not JSON', files: { 'package.json': '{' }, error: 'BUILD_BAD_PACKAGE_JSON: package.json is not valid JSON' },
  { name: 'package.json with no way to start', files: { 'package.json': pkg({}) }, error: 'BUILD_NO_START: nothing says how to start this app' },
  { name: 'a Procfile without web', files: { Procfile: 'worker: x\n' }, error: 'BUILD_PROCFILE_NO_WEB: the Procfile has no web: line' },
  { name: 'a Dockerfile: podman builds it, even beside a package.json', files: { Dockerfile: 'FROM node:20-slim AS build\nFROM build\n', 'package.json': pkg({}) }, summary: 'Dockerfile, FROM node:20-slim', start: [] },
  { name: 'strategy dockerfile without a Dockerfile', files: { 'package.json': pkg({ scripts: { start: 'x' } }) }, strategy: 'dockerfile', error: 'BUILD_NO_DOCKERFILE: spec.build.strategy is dockerfile, but the repository has no Dockerfile' },
  { name: 'FROM an Alpine image, with the slim tag suggested', files: { Dockerfile: 'FROM --platform=linux/amd64 node:20-alpine3.19\n' }, error: 'BUILD_ALPINE: FROM node:20-alpine3.19: Alpine images cannot be made here (no Alpine mirror is reachable, and the bases are made from Debian\'s packages); use node:20-slim instead' },
  {
    name: 'a Django app with a Procfile: the language comes from its files, the Procfile names the web process, collectstatic runs as STATIC_ROOT is set',
    files: {
      Procfile: 'web: gunicorn mysite.wsgi\n',
      'requirements.txt': 'Django>=5\ngunicorn==23.0.0\n',
      'manage.py': "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
      'mysite/settings.py': "STATIC_ROOT = BASE_DIR / 'staticfiles'\n",
      'mysite/wsgi.py': '',
    },
    summary: 'python 3.15.2 (the newest here; set .python-version to choose another), uv pip install from requirements.txt, web from Procfile',
    steps: ['uv venv (Python 3.15.2)', 'uv pip install -r requirements.txt', 'python manage.py collectstatic --noinput'],
    start: ['/bin/sh', '-c', 'PATH="$PWD/.venv/bin:$PATH" exec gunicorn mysite.wsgi'],
  },
  {
    name: 'a Django app without a Procfile or gunicorn: gunicorn of its project, added unless installed; collectstatic if the project has it',
    files: {
      'requirements.txt': 'django\n',
      'manage.py': 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")\n',
      'config/settings/production.py': 'DEBUG = False\n',
      'config/wsgi.py': '',
      '.python-version': '3.13\n',
    },
    summary: 'python 3.13.5 (3.13 in .python-version), uv pip install from requirements.txt, web: gunicorn config.wsgi (Django; a Procfile web: line chooses another)',
    steps: ['uv venv (Python 3.13.5)', 'uv pip install -r requirements.txt', 'gunicorn for the web process', 'python manage.py collectstatic --noinput'],
    start: ['/bin/sh', '-c', 'PATH="$PWD/.venv/bin:$PATH" exec gunicorn --bind "0.0.0.0:$PORT" config.wsgi'],
  },
  {
    name: 'a Flask app.py without a Procfile: gunicorn app:app',
    files: { 'requirements.txt': 'Flask==3.1.3\n', 'app.py': 'from flask import Flask\n\napp = Flask(__name__)\n' },
    summary: 'python 3.15.2 (the newest here; set .python-version to choose another), uv pip install from requirements.txt, web: gunicorn app:app (WSGI app in app.py; a Procfile web: line chooses another)',
    start: ['/bin/sh', '-c', `PATH="$PWD/.venv/bin:$PATH" exec gunicorn --bind "0.0.0.0:$PORT" 'app:app'`],
  },
  {
    name: 'a FastAPI main.py with uv.lock: uv sync, uvicorn',
    files: { 'pyproject.toml': '[project]\nname = "api"\nrequires-python = ">=3.12,<3.14"\n', 'uv.lock': 'version = 1\n[[package]]\nname = "uvicorn"\n', 'main.py': 'import fastapi\napi: fastapi.FastAPI = fastapi.FastAPI()\n' },
    summary: 'python 3.13.5 (>=3.12,<3.14 in requires-python), uv sync from uv.lock, web: uvicorn main:api (ASGI app in main.py; a Procfile web: line chooses another)',
    steps: ['uv venv (Python 3.13.5)', 'uv sync --locked --no-dev', 'uvicorn for the web process'],
    start: ['/bin/sh', '-c', `PATH="$PWD/.venv/bin:$PATH" exec uvicorn --host 0.0.0.0 --port "$PORT" 'main:api'`],
  },
  {
    name: 'an app factory in wsgi.py, Poetry',
    files: { 'pyproject.toml': '[tool.poetry.dependencies]\npython = "^3.11"\ngunicorn = "*"\n', 'poetry.lock': '[[package]]\nname = "gunicorn"\n', 'wsgi.py': 'def create_app():\n    return Flask(__name__)\n' },
    steps: ['uv venv (Python 3.15.2)', 'poetry install --only main --no-root', 'gunicorn for the web process'],
    start: ['/bin/sh', '-c', `PATH="$PWD/.venv/bin:$PATH" exec gunicorn --bind "0.0.0.0:$PORT" 'wsgi:create_app()'`],
  },
  {
    name: 'an ASGI factory with a defaulted argument in app/main.py, a Poetry project without its lock: installed as a package',
    files: { 'pyproject.toml': '[tool.poetry]\nname = "svc"\n[tool.poetry.dependencies]\npython = "^3.13"\n', 'app/__init__.py': '', 'app/main.py': 'from fastapi import FastAPI\n\ndef create_app(settings: dict | None = None):\n    return FastAPI()\n' },
    summary: 'python 3.15.2 (^3.13 in tool.poetry python), uv pip install . (pyproject.toml), web: uvicorn app.main:create_app (a factory) (ASGI app in app/main.py; a Procfile web: line chooses another)',
    steps: ['uv venv (Python 3.15.2)', 'uv pip install .', 'uvicorn for the web process'],
    start: ['/bin/sh', '-c', `PATH="$PWD/.venv/bin:$PATH" exec uvicorn --host 0.0.0.0 --port "$PORT" --factory 'app.main:create_app'`],
  },
  {
    name: 'the Flask tutorial’s layout: app = create_app() in run.py',
    files: { 'requirements.txt': 'flask\n', 'run.py': 'from blog import create_app\n\napp = create_app()\n' },
    start: ['/bin/sh', '-c', `PATH="$PWD/.venv/bin:$PATH" exec gunicorn --bind "0.0.0.0:$PORT" 'run:app'`],
  },

  {
    name: 'a Pipenv app: its Pipfile.lock installed with uv, the Python from its Pipfile',
    files: {
      Pipfile: '[packages]\nflask = "*"\n\n[requires]\npython_version = "3.13"\n',
      'Pipfile.lock': JSON.stringify({ _meta: { requires: { python_version: '3.11' } }, default: { flask: { version: '==3.1.0', hashes: [`sha256:${'a'.repeat(64)}`] } }, develop: { pytest: { version: '==8.0.0' } } }),
      'app.py': 'from flask import Flask\napp = Flask(__name__)\n',
    },
    summary: 'python 3.13.5 (3.13 in Pipfile), uv pip install from Pipfile.lock (1 locked package), web: gunicorn app:app (WSGI app in app.py; a Procfile web: line chooses another)',
    steps: ['uv venv (Python 3.13.5)', 'uv pip install -r Pipfile.lock', 'gunicorn for the web process'],
  },
  { name: 'a Pipfile without its lock: refused, saying to lock', files: { Pipfile: '[packages]\nflask = "*"\n', 'app.py': 'app = Flask(__name__)\n' }, error: 'BUILD_PIPFILE_NO_LOCK: this Pipenv app has a Pipfile but no Pipfile.lock' },
  { name: 'a Pipfile.lock that is not JSON', files: { Pipfile: '[packages]\n', 'Pipfile.lock': '{"default": ', 'app.py': 'app = Flask(__name__)\n' }, error: 'BUILD_PIPFILE_LOCK: Pipfile.lock cannot be installed: it is not JSON' },
  { name: 'requirements.txt beside a Pipfile wins, the lock unread', files: { Pipfile: '[packages]\n', 'Pipfile.lock': 'not json', 'requirements.txt': 'flask\n', 'app.py': 'app = Flask(__name__)\n' }, steps: ['uv venv (Python 3.15.2)', 'uv pip install -r requirements.txt', 'gunicorn for the web process'] },
  { name: 'a Python line that cannot be had is refused at detection', files: { 'requirements.txt': 'flask\n', '.python-version': '3.12\n', 'app.py': 'app = Flask(__name__)\n' }, error: 'BUILD_PYTHON_VERSION: .python-version asks for Python "3.12", but Python 3.12 cannot be had here; the Pythons here are 3.15, 3.13' },
  { name: 'a Python app with nothing to run', files: { 'requirements.txt': 'requests\n', 'script.py': 'print(1)\n' }, error: 'BUILD_PYTHON_NO_START: nothing says how to start this Python app (no Procfile, manage.py or app.py, main.py, wsgi.py); add a Procfile' },
  { name: 'an app.py with no app in it', files: { 'requirements.txt': 'requests\n', 'app.py': 'print(1)\n' }, error: 'BUILD_PYTHON_NO_START: nothing says how to start this Python app (no Procfile, and app.py define no Flask, FastAPI or other WSGI or ASGI app at top level)' },
  { name: 'strategy python over a package.json', files: { 'package.json': pkg({ scripts: { start: 'x' } }), 'requirements.txt': 'gunicorn\n', Procfile: 'web: gunicorn app:app\n' }, strategy: 'python', steps: ['uv venv (Python 3.15.2)', 'uv pip install -r requirements.txt'] },
  { name: 'strategy node without a package.json', files: { 'index.html': '<p>hi</p>' }, strategy: 'node', error: 'BUILD_STRATEGY_FILES: spec.build.strategy is node, but the repository has no package.json at its root' },
  { name: 'strategy static over a package.json', files: { 'package.json': pkg({ scripts: { start: 'x' } }), 'index.html': '<p>hi</p>' }, strategy: 'static', summary: 'static site' },
  { name: 'a Procfile line that sets a variable first is not exec’d', files: { 'package.json': pkg({}), Procfile: 'web: NODE_OPTIONS=--max-old-space-size=200 node s.js\n' }, start: ['/bin/sh', '-c', 'export PATH="$PWD/node_modules/.bin:$PATH"; NODE_OPTIONS=--max-old-space-size=200 node s.js'] },
  {
    name: 'a Go module with its main package at the root: go build into bin/, named after the module',
    files: { 'go.mod': 'module github.com/someone/hello/v2\n\ngo 1.22\n', 'main.go': '// Command hello serves.\npackage main\n', 'main_test.go': 'package main\n' },
    summary: 'go 1.22.12 (go 1.22 in go.mod), web: bin/hello (the main package at the root; a Procfile web: line chooses another)',
    steps: ['go build -trimpath -o bin/ .'],
    start: ['/bin/sh', '-c', 'PATH="$PWD/bin:$PATH" exec bin/hello'],
  },
  {
    name: 'a Go module with cmd/server and cmd/migrate: both built, server serves; toolchain line wins',
    files: { 'go.mod': 'module example.com/shop\n\ngo 1.21\n\ntoolchain go1.22.11\n', 'cmd/server/main.go': '//go:build linux\n\n/* the server */\npackage main\n', 'cmd/migrate/main.go': 'package main\n', 'internal/db/db.go': 'package db\n' },
    summary: 'go 1.22.12 (toolchain go1.22.11 in go.mod), web: bin/server (cmd/server; a Procfile web: line chooses another)',
    steps: ['go build -trimpath -o bin/ ./cmd/migrate ./cmd/server'],
  },
  { name: 'a Go module asking for a line the proxy never published as a module: the newest Go, said so', files: { 'go.mod': 'module m\ngo 1.16\n', 'main.go': 'package main\n' }, summary: 'go 1.26.8 (go 1.16 in go.mod (no 1.16 toolchain is published: the newest Go builds it)), web: bin/m (the main package at the root; a Procfile web: line chooses another)' },
  { name: 'a Go module newer than any toolchain', files: { 'go.mod': 'module m\ngo 1.99\n', 'main.go': 'package main\n' }, error: 'BUILD_GO_VERSION: go.mod asks for Go "1.99", but the newest Go the proxy has is 1.26.8' },
  { name: 'a Go library: no main package', files: { 'go.mod': 'module m\ngo 1.22\n', 'lib.go': 'package lib\n' }, error: 'BUILD_GO_NO_MAIN: no main package at the root or in cmd/*; add a Procfile' },
  { name: 'a Go module with two commands and no Procfile', files: { 'go.mod': 'module m\ngo 1.22\n', 'cmd/a/main.go': 'package main\n', 'cmd/b/main.go': 'package main\n' }, error: 'BUILD_GO_NO_MAIN: several main packages (cmd/a, cmd/b) and no Procfile to say which serves' },
  {
    name: 'a Spring Boot Maven app: the pom’s java.version, mvn package without tests, the largest jar run with -Dserver.port',
    files: { 'pom.xml': '<project><!-- <java.version>8</java.version> --><properties><java.version>17</java.version></properties></project>\n', 'src/main/java/App.java': 'class App {}\n' },
    summary: 'java 17 (17 in <java.version> in pom.xml), Maven 3.9, web: java -jar target/dormant-web.jar -Dserver.port=$PORT (a Procfile web: line chooses another)',
    steps: ['mvn -B -DskipTests package', 'the largest jar in target/ becomes target/dormant-web.jar'],
    start: ['/bin/sh', '-c', 'PATH="$PWD/bin:$PATH" exec java -Dserver.port="$PORT" $JAVA_OPTS -jar target/dormant-web.jar'],
  },
  {
    name: 'a Maven app with its wrapper and a release property by reference; system.properties wins',
    files: { 'pom.xml': `<project><properties><jdk>11</jdk><maven.compiler.release>\${jdk}</maven.compiler.release></properties></project>`, mvnw: '#!/bin/sh\n', '.mvn/wrapper/maven-wrapper.properties': 'distributionUrl=x\n', 'system.properties': 'java.runtime.version=25\n' },
    summary: 'java 25 (25 in java.runtime.version in system.properties), Maven wrapper (mvnw), web: java -jar target/dormant-web.jar -Dserver.port=$PORT (a Procfile web: line chooses another)',
    steps: ['./mvnw -B -DskipTests package', 'the largest jar in target/ becomes target/dormant-web.jar'],
  },
  { name: 'a Maven app asking for Java 11: JDK 17 builds it, said so', files: { 'pom.xml': `<project><properties><maven.compiler.release>\${jdk}</maven.compiler.release><jdk>11</jdk></properties></project>` }, summary: 'java 17 (11 in <maven.compiler.release> in pom.xml (JDK 17 builds and runs it: none older is here)), Maven 3.9, web: java -jar target/dormant-web.jar -Dserver.port=$PORT (a Procfile web: line chooses another)' },
  { name: 'a Maven app asking for nothing: Java 21', files: { 'pom.xml': '<project/>', Procfile: 'web: java -jar target/app.jar\n' }, summary: 'java 21 (the default; set java.version in pom.xml to choose another), Maven 3.9, web from Procfile' },
  { name: 'a Maven app asking for a Java newer than any here', files: { 'pom.xml': '<project><properties><java.version>99</java.version></properties></project>' }, error: 'BUILD_JAVA_VERSION: <java.version> in pom.xml asks for Java "99", but the JDKs here are 17, 21, 25' },
  { name: 'a Maven app whose java.version is not one', files: { 'pom.xml': '<project><properties><java.version>seventeen</java.version></properties></project>' }, error: 'BUILD_JAVA_VERSION: pom.xml\'s <java.version> asks for Java "seventeen", but it is not a Java version' },
  { name: 'a Go module with a Procfile', files: { 'go.mod': 'module m\ngo 1.22\n', 'cmd/a/main.go': 'package main\n', 'cmd/b/main.go': 'package main\n', Procfile: 'web: bin/b -listen :$PORT\n' }, start: ['/bin/sh', '-c', 'PATH="$PWD/bin:$PATH" exec bin/b -listen :$PORT'] },
  { name: 'a Rails app: not built, with the Dockerfile way out', files: { Gemfile: "source 'https://rubygems.org'\n", 'config.ru': 'run App\n' }, error: 'BUILD_LANGUAGE_UNSUPPORTED: this looks like a Ruby app (Gemfile, config.ru), which Dormant does not build: it builds Node apps' },
  { name: 'package.json wins over a requirements.txt beside it, unless strategy says otherwise', files: { 'package.json': pkg({ scripts: { start: 'x' } }), 'requirements.txt': 'x\n' }, summary: 'node 20, no dependencies' },
  { name: 'a Dockerfile wins over a Gemfile', files: { Dockerfile: 'FROM debian:bookworm-slim\nCMD ["true"]\n', Gemfile: '' }, summary: 'Dockerfile, FROM debian:bookworm-slim' },
  { name: 'a static site in public/', files: { 'public/index.html': '<p>hi</p>', 'README.md': '# site' }, summary: 'static site in public/', start: ['node', '.dormant-static-server.cjs', 'public'] },
  {
    name: 'a Node build and nothing that serves: its output is the static site',
    files: { 'package.json': pkg({ scripts: { build: 'vite build' }, devDependencies: { vite: '^7' } }), 'package-lock.json': '{}' },
    summary: 'node 20, npm ci, npm run build, static site from dist/, build/, out/',
    steps: ['npm ci', 'npm run build', 'npm prune --omit=dev'],
    start: ['node', '.dormant-static-server.cjs', 'dist', 'build', 'out'],
  },
  { name: 'nothing known', files: { 'README.md': '# hi' }, error: 'BUILD_UNKNOWN_APP: Dormant cannot tell how to run this repository' },
];

describe('build detection', () => {
  for (const row of rows) {
    it(row.name, async () => {
      const dir = await tree(row.files);
      let plan: BuildPlan | undefined;
      try {
        plan = await detectBuild(dir, { ...options, strategy: row.strategy ?? 'auto' });
      } catch (error) {
        if (!isDormantError(error) || row.error === undefined) throw error;
        assert.ok(`${error.code}: ${error.message}`.startsWith(row.error), `${error.code}: ${error.message}`);
        return;
      }
      assert.equal(row.error, undefined, `expected ${row.error}, got a plan`);
      if (row.summary !== undefined) assert.equal(plan.summary, row.summary);
      if (row.steps !== undefined) assert.deepEqual(plan.steps.map((s) => s.name), row.steps);
      if (row.start !== undefined) assert.deepEqual(plan.start, row.start);
    });
  }

  it("refuses a package.json, Dockerfile or build context that links out of the tree, without reading what it names", async () => {
    const secret = await tree({ 'key.json': '{"private": "-----BEGIN OPENSSH PRIVATE KEY-----"}' });
    for (const [link, target] of [['package.json', 'key.json'], ['Dockerfile', 'key.json'], ['Procfile', 'key.json']] as const) {
      const dir = await tree({ 'index.html': '<p>hi</p>' });
      await symlink(join(secret, target), join(dir, link));
      await assert.rejects(detectBuild(dir, options), (error: Error) => {
        assert.ok(isDormantError(error) && error.code === 'BUILD_LINK_LEAVES_SOURCE', error.message);
        assert.doesNotMatch(error.message, /PRIVATE KEY/);
        assert.match(error.message, new RegExp(`^${link} is a symbolic link to a path outside the repository`));
        return true;
      });
    }
    const context = await tree({ 'Dockerfile': 'FROM node:20-slim\n' });
    await symlink('/', join(context, 'ctx'));
    await assert.rejects(detectBuild(context, { ...options, strategy: 'dockerfile', context: 'ctx', dockerfile: '../Dockerfile' }), /BUILD_LINK_LEAVES_SOURCE|ctx is a symbolic link/);
    // A link inside the tree is followed.
    const inside = await tree({ 'real.json': pkg({ scripts: { start: 'node server.js' } }) });
    await symlink('real.json', join(inside, 'package.json'));
    assert.equal((await detectBuild(inside, options)).kind, 'node');
  });

  it("a link out of the tree counts as a file whether or not its target exists: detection probes none of Dormant's paths", async () => {
    const plans: string[] = [];
    for (const target of ['/etc/hostname', '/nonexistent/dormant-probe']) {
      const dir = await tree({ 'package.json': pkg({ scripts: { start: 'node server.js' }, dependencies: { a: '1' } }) });
      await symlink(target, join(dir, 'pnpm-lock.yaml'));
      plans.push(await detectBuild(dir, options).then((plan) => plan.summary, (error: Error) => error.message));
    }
    assert.match(plans[0] ?? '', /pnpm-lock\.yaml is a symbolic link to a path outside the repository/);
    assert.equal(plans[0], plans[1]);
  });

  it('a Django project folder that is a link out of the tree is not looked into: whether a file exists there is not probed', async () => {
    const outside = await tree({ 'wsgi.py': '', 'settings.py': 'STATIC_ROOT = 1\n' });
    const dir = await tree({ 'requirements.txt': 'django\n', 'manage.py': "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'probe.settings')\n" });
    await symlink(outside, join(dir, 'probe'));
    await assert.rejects(detectBuild(dir, options), /BUILD_PYTHON_NO_START|nothing says how to start this Python app \(no Procfile, manage\.py or app\.py/);
  });

  it("a tenant's pathological files are read in linear time, and one over 8 MiB is refused naming it", { timeout: 20_000 }, async () => {
    // Each took seconds to minutes before its regex was made linear (a 5 KB TOML line 49 s, a 320 KB pom 16 s): these are far larger.
    const slow = [
      { 'pyproject.toml': `[${' '.repeat(2_000_000)}x\n[project]\nrequires-python = ">=3.13"\n`, 'app.py': 'app = Flask(__name__)\n' },
      { 'pom.xml': `${'<!--'.repeat(1_000_000)}<project/>` },
      { 'requirements.txt': 'django\n', 'manage.py': `DJANGO_SETTINGS_MODULE', '${'a.'.repeat(1_000_000)}settings'\n`, 'app.py': 'app = Flask(__name__)\n' },
      { 'go.mod': 'module m\ngo 1.22\n', 'main.go': `${'/*'.repeat(8000)}\npackage main\n` },
      { 'requirements.txt': 'x\n', 'app.py': `${'a'.repeat(2_000_000)}\napp = Flask(__name__)\n` },
    ];
    for (const files of slow) await detectBuild(await tree(files), options).catch((error: unknown) => assert.ok(isDormantError(error), String(error)));
    const huge = await tree({ 'package.json': `{"name": "x", "description": "${'x'.repeat(9 * 1024 ** 2)}"}` });
    await assert.rejects(detectBuild(huge, options), /BUILD_FILE_TOO_LARGE|package\.json is larger than 8 MiB, more than detection reads of one file/);
  });

  it('has no duplicate row names', () => assert.equal(new Set(rows.map((r) => r.name)).size, rows.length));

  it('suggests a Debian-based tag for an Alpine one, changing only the tag', () => {
    assert.equal(slimInstead('node:20-alpine3.19'), 'node:20-slim');
    assert.equal(slimInstead('node:alpine'), 'node:bookworm-slim');
    assert.equal(slimInstead('alpine:3.19'), 'debian:bookworm-slim');
    assert.equal(slimInstead('alpine'), 'debian:bookworm-slim');
    assert.equal(slimInstead('127.0.0.1:5000/myorg/alpine-node:20-alpine'), '127.0.0.1:5000/myorg/alpine-node:20-slim');
  });

  it('reads the web line of a Procfile and runs a compound start line through the shell without exec', () => {
    assert.equal(procfileWeb('# comment\nweb:   bundle exec puma  \n'), 'bundle exec puma');
    assert.equal(procfileWeb('worker: x'), undefined);
    assert.deepEqual(shellStart('npm run migrate && node s.js'), ['/bin/sh', '-c', 'export PATH="$PWD/node_modules/.bin:$PATH"; npm run migrate && node s.js']);
  });
});

describe('which yarn or pnpm builds an app', () => {
  const rows: { name: string; tool: 'pnpm' | 'yarn'; pin?: unknown; lockfile: string; chosen?: string; error?: RegExp }[] = [
    { name: 'a pin names the version', tool: 'pnpm', pin: 'pnpm@10.2.1', lockfile: "lockfileVersion: '9.0'\n", chosen: 'pnpm 10.2.1 pnpm from packageManager' },
    { name: "a pin's sha512 is kept, to check the download against", tool: 'pnpm', pin: 'pnpm@9.15.9+sha512.00ff', lockfile: '', chosen: 'pnpm 9.15.9 pnpm from packageManager 00ff' },
    { name: 'another hash is not checked', tool: 'yarn', pin: 'yarn@1.22.19+sha224.00ff', lockfile: '', chosen: 'yarn 1.22.19 yarn from packageManager' },
    { name: 'yarn 2 and later come from @yarnpkg/cli-dist', tool: 'yarn', pin: 'yarn@4.5.0', lockfile: '__metadata:\n  version: 8\n', chosen: 'yarn 4.5.0 @yarnpkg/cli-dist from packageManager' },
    { name: "a pin of another tool: the lockfile's format decides", tool: 'pnpm', pin: 'yarn@1.22.22', lockfile: 'lockfileVersion: 5.4\n', chosen: 'pnpm 7.33.7 pnpm for lockfileVersion 5.4' },
    { name: 'pnpm-lock.yaml 9.0: pnpm 9', tool: 'pnpm', lockfile: "lockfileVersion: '9.0'\n", chosen: 'pnpm 9.15.9 pnpm for lockfileVersion 9' },
    { name: 'pnpm-lock.yaml 6.1: pnpm 8', tool: 'pnpm', lockfile: "lockfileVersion: '6.1'\n", chosen: 'pnpm 8.15.9 pnpm for lockfileVersion 6.1' },
    { name: 'pnpm-lock.yaml 5.3: pnpm 6', tool: 'pnpm', lockfile: 'lockfileVersion: 5.3\n', chosen: 'pnpm 6.35.1 pnpm for lockfileVersion 5.3' },
    { name: 'pnpm-lock.yaml without a version: pnpm 9', tool: 'pnpm', lockfile: '', chosen: 'pnpm 9.15.9 pnpm the newest pnpm 9: pnpm-lock.yaml names no lockfileVersion' },
    { name: 'a yarn 1 lockfile: yarn 1', tool: 'yarn', lockfile: '# yarn lockfile v1\n', chosen: 'yarn 1.22.22 yarn for a yarn 1 lockfile' },
    { name: 'yarn.lock __metadata 6: yarn 3', tool: 'yarn', lockfile: '# x\n\n__metadata:\n  version: 6\n  cacheKey: 8\n', chosen: 'yarn 3.8.7 @yarnpkg/cli-dist for lockfile __metadata version 6' },
    { name: 'yarn.lock __metadata 8: yarn 4', tool: 'yarn', lockfile: '__metadata:\n  version: 8\n', chosen: 'yarn 4.18.1 @yarnpkg/cli-dist for lockfile __metadata version 8' },
    { name: 'a pin that is not NAME@VERSION', tool: 'pnpm', pin: 'pnpm@latest; rm -rf /', lockfile: '', error: /BUILD_PACKAGE_MANAGER|not NAME@VERSION/ },
    { name: 'a pin with a range', tool: 'pnpm', pin: 'pnpm@^9', lockfile: '', error: /\^9 is not an exact version/ },
    { name: 'a pin that is not a string', tool: 'pnpm', pin: { name: 'pnpm' }, lockfile: '', error: /it is not a string of at most 256 characters/ },
    // Read in linear time: a crafted lockfile cannot hold Dormant's event loop (the old pattern took about 17 minutes on 1 MB of this).
    { name: 'a yarn.lock made to make a pattern backtrack: read at once, as yarn 1', tool: 'yarn', lockfile: `__metadata:${'\n'.repeat(2_000_000)}x`, chosen: 'yarn 1.22.22 yarn for a yarn 1 lockfile' },
    { name: 'a pnpm-lock.yaml made the same way', tool: 'pnpm', lockfile: `lockfileVersion:${' \n'.repeat(1_000_000)}x`, chosen: 'pnpm 9.15.9 pnpm the newest pnpm 9: pnpm-lock.yaml names no lockfileVersion' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      if (row.error) {
        assert.throws(() => choosePackageManager(row.tool, row.pin, row.lockfile), row.error);
        return;
      }
      const chosen = choosePackageManager(row.tool, row.pin, row.lockfile);
      assert.equal([chosen.name, chosen.version, chosen.npmPackage, chosen.why, ...(chosen.sha512 ? [chosen.sha512] : [])].join(' '), row.chosen);
    });
  }
});
