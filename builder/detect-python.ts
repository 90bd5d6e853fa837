/**
 * How to build and start a Python app, from its files (Heroku's Python buildpack, with uv):
 * which interpreter, which lock or requirement file installs its dependencies into
 * `/app/.venv`, Django's collectstatic, and the web process: the Procfile's, else
 * gunicorn for Django or a WSGI app, uvicorn for an ASGI app, stated in the push output.
 * Pure apart from reading the tree through `files`.
 */
import { dependencyKey } from './dependency-layer.js';
import type { BuildPlan, BuildStep } from './detect.js';
import { buildErrors } from './errors.js';
import { shellStart } from './start-command.js';
import { type PipfileRequirements, pipfileLockRequirements } from './pipfile-lock.js';
import { type PythonChoice, type PythonRequest, pythonRequest } from './python-version.js';

/** The pushed tree, as detection reads it (links that leave it refused by `read`). */
export interface SourceFiles {
  readonly has: (name: string) => boolean;
  readonly read: (name: string) => Promise<string>;
  /** The file's sha256 (hex), read as a stream. */
  readonly hash: (name: string) => Promise<string>;
}

/** Files that make a tree a Python app. */
export const pythonFiles: readonly string[] = ['requirements.txt', 'pyproject.toml', 'uv.lock', 'poetry.lock', 'Pipfile', 'Pipfile.lock', 'setup.py'];

/** The servers Dormant adds when the app lists none: versions of Dormant's choosing, so builds repeat. */
export const addedServers = { gunicorn: 'gunicorn==27.0.1', uvicorn: 'uvicorn==0.55.0' } as const;

/** Poetry, run with uv for poetry.lock apps. */
export const poetryVersion = '2.5.1';

/** The requirements file a Pipenv app's Pipfile.lock becomes, written in the release by the build. */
export const pipfileRequirements = '.pipfile-lock-requirements.txt';

/** Where the app's virtual environment is, relative to the release (/app/.venv). */
export const venvFolder = '.venv';

/** The WSGI or ASGI application a module defines at top level, by the class or function that makes it. */
const wsgiMakers = new Set(['Flask', 'Bottle', 'App', 'API', 'get_wsgi_application', 'make_wsgi_app', 'Pyramid']);
const asgiMakers = new Set(['FastAPI', 'Starlette', 'Quart', 'Litestar', 'get_asgi_application']);

export interface WebApp {
  readonly module: string;
  /** The module's attribute: `app`, or `create_app` for a factory. */
  readonly target: string;
  /** target is a function that makes the app (called with no arguments). */
  readonly factory: boolean;
  readonly interface: 'wsgi' | 'asgi';
}

/** Whether a module's text makes an ASGI app anywhere (a factory's body included). */
const makesAsgi = (text: string) => /\b(FastAPI|Starlette|Quart|Litestar)\(/.test(text);

/**
 * The application a module's text defines at top level: `app = Flask(__name__)`, `app =
 * FastAPI()`, `app = create_app()`, or a factory `def create_app(...)` whose parameters all
 * have defaults. Pure, linear.
 */
export function webAppIn(module: string, text: string): WebApp | undefined {
  let factory: WebApp | undefined;
  for (const line of text.split(/\r?\n/)) {
    const assigned = /^(\w{1,64})[ \t]*(?::[ \t]*[\w.[\]]{1,64}[ \t]*)?=[ \t]*((?:\w{1,64}\.){0,4})(\w{1,64})\(/.exec(line);
    if (assigned?.[1] && assigned[3]) {
      if (wsgiMakers.has(assigned[3])) return { module, target: assigned[1], factory: false, interface: 'wsgi' };
      if (asgiMakers.has(assigned[3])) return { module, target: assigned[1], factory: false, interface: 'asgi' };
      if (assigned[3] === 'create_app') return { module, target: assigned[1], factory: false, interface: makesAsgi(text) ? 'asgi' : 'wsgi' };
    }
    // def create_app(), def create_app(config=None), def create_app(test_config: dict | None = None): callable with no arguments.
    const defined = /^def create_app\(([^)]{0,256})\)/.exec(line);
    if (defined && (defined[1] ?? '').split(',').every((parameter) => parameter.trim() === '' || parameter.includes('=') || /^\s*\*/.test(parameter))) {
      factory ??= { module, target: 'create_app', factory: true, interface: makesAsgi(text) ? 'asgi' : 'wsgi' };
    }
  }
  return factory;
}

/** The Django project a manage.py names (`mysite` of `mysite.settings`), or undefined. Pure. */
export function djangoProject(managePy: string): { readonly settings: string; readonly project: string } | undefined {
  const match = /DJANGO_SETTINGS_MODULE['"][ \t]*,[ \t]*['"]([\w.]{1,200})['"]/.exec(managePy);
  const settings = match?.[1];
  if (settings === undefined) return undefined;
  // mysite.settings, config.settings.production: the project is what comes before `settings`.
  const parts = settings.split('.');
  const at = parts.indexOf('settings');
  return at > 0 ? { settings, project: parts.slice(0, at).join('.') } : undefined;
}

export async function detectPython(files: SourceFiles, procfile: string | undefined, choosePython: (request: PythonRequest | undefined) => Promise<PythonChoice>): Promise<BuildPlan> {
  const { has, read } = files;
  const readIf = async (name: string) => (has(name) ? read(name) : undefined);
  const pyproject = await readIf('pyproject.toml');
  const pipfile = await readIf('Pipfile');
  // A Pipenv app's lock, read only when it is what installs (neither of the files before it in the order below).
  const pipenvInstalls = !has('uv.lock') && !has('requirements.txt') && !has('poetry.lock') && (pipfile !== undefined || has('Pipfile.lock'));
  if (pipenvInstalls && !has('Pipfile.lock')) throw buildErrors.pipfileWithoutLock({});
  const pipenv: PipfileRequirements | undefined = pipenvInstalls ? pipfileLockRequirements(await read('Pipfile.lock')) : undefined;
  const python = await choosePython(
    pythonRequest({
      ...(has('.python-version') ? { pythonVersionFile: await read('.python-version') } : {}),
      ...(has('runtime.txt') ? { runtimeTxt: await read('runtime.txt') } : {}),
      ...(pyproject !== undefined ? { pyproject } : {}),
      ...(pipfile !== undefined ? { pipfile } : {}),
      ...(pipenv?.python !== undefined ? { pipfileLockPython: pipenv.python } : {}),
    }),
  );
  const steps: BuildStep[] = [{ name: `uv venv (Python ${python.version})`, command: ['uv', 'venv', '--clear', '--python', '/usr/local/bin/python3', venvFolder], installs: true }];
  // What installs the dependencies, from the most exact record of them to the least.
  let installer: string;
  let lockfile: string | undefined;
  if (has('uv.lock')) {
    installer = 'uv sync from uv.lock';
    lockfile = 'uv.lock';
    steps.push({ name: 'uv sync --locked --no-dev', command: ['uv', 'sync', '--locked', '--no-dev'], refreshes: true });
  } else if (has('requirements.txt')) {
    installer = 'uv pip install from requirements.txt';
    lockfile = 'requirements.txt';
    steps.push({ name: 'uv pip install -r requirements.txt', command: ['uv', 'pip', 'install', '-r', 'requirements.txt'], refreshes: true });
  } else if (has('poetry.lock')) {
    installer = `poetry ${poetryVersion} from poetry.lock`;
    steps.push({
      name: 'poetry install --only main --no-root',
      // Into the app's .venv, by its absolute path: Poetry installs into the active virtual environment.
      command: ['/bin/sh', '-c', `VIRTUAL_ENV="$PWD/${venvFolder}" exec uv tool run --from poetry==${poetryVersion} poetry install --only main --no-root --no-interaction`],
      env: { POETRY_VIRTUALENVS_IN_PROJECT: 'true', POETRY_VIRTUALENVS_CREATE: 'false' },
      refreshes: true,
    });
    lockfile = 'poetry.lock';
  } else if (pipenv) {
    // Pipenv's lock as a requirements file (its default packages, hashes checked by uv), without Pipenv: what `pipenv install --deploy` installs.
    installer = `uv pip install from Pipfile.lock (${pipenv.packages} locked package${pipenv.packages === 1 ? "" : "s"})`;
    lockfile = 'Pipfile.lock';
    steps.push({
      name: 'uv pip install -r Pipfile.lock',
      command: ['/bin/sh', '-c', `cat > ${pipfileRequirements} && exec uv pip install -r ${pipfileRequirements}`],
      input: pipenv.text,
      refreshes: true,
    });
  } else if (pyproject !== undefined && /^[ \t]*\[project\]/m.test(pyproject)) {
    installer = 'uv pip install from pyproject.toml';
    steps.push({ name: 'uv pip install -r pyproject.toml', command: ['uv', 'pip', 'install', '-r', 'pyproject.toml'] });
  } else if (pyproject !== undefined && /^[ \t]*\[(build-system|tool\.poetry)\]/m.test(pyproject)) {
    // A Poetry project without its lock, or a package with another build backend: built and installed as a package, its dependencies with it.
    installer = 'uv pip install . (pyproject.toml)';
    steps.push({ name: 'uv pip install .', command: ['uv', 'pip', 'install', '.'] });
  } else if (has('setup.py')) {
    installer = 'uv pip install . (setup.py)';
    steps.push({ name: 'uv pip install .', command: ['uv', 'pip', 'install', '.'] });
  } else {
    installer = 'no dependencies';
  }

  // The web process, and the server it needs when the app lists none.
  let web: string;
  let webWhy: string;
  let server: keyof typeof addedServers | undefined;
  const django = has('manage.py') ? djangoProject(await read('manage.py')) : undefined;
  if (procfile !== undefined) {
    web = procfile;
    webWhy = 'web from Procfile';
  } else if (django && has(`${django.project.replaceAll('.', '/')}/wsgi.py`)) {
    server = 'gunicorn';
    web = `gunicorn --bind "0.0.0.0:$PORT" ${django.project}.wsgi`;
    webWhy = `web: gunicorn ${django.project}.wsgi (Django; a Procfile web: line chooses another)`;
  } else {
    // Where public starters keep the app: the root's modules, then a package named app (FastAPI's larger layout).
    const candidates = ['app.py', 'main.py', 'wsgi.py', 'application.py', 'server.py', 'run.py', 'asgi.py', 'app/main.py', 'app/__init__.py'].filter(has);
    let found: WebApp | undefined;
    let foundIn = '';
    for (const file of candidates) {
      found = webAppIn(file.replace(/(\/__init__)?\.py$/, '').replaceAll('/', '.'), await read(file));
      foundIn = file;
      if (found) break;
    }
    if (!found) throw buildErrors.noPythonStart({ looked: candidates.length === 0 ? 'no Procfile, manage.py or app.py, main.py, wsgi.py' : `no Procfile, and ${candidates.join(', ')} define no Flask, FastAPI or other WSGI or ASGI app at top level` });
    const name = `${found.module}:${found.target}`;
    if (found.interface === 'asgi') {
      server = 'uvicorn';
      web = `uvicorn --host 0.0.0.0 --port "$PORT"${found.factory ? ' --factory' : ''} '${name}'`;
    } else {
      server = 'gunicorn';
      web = `gunicorn --bind "0.0.0.0:$PORT" '${found.factory ? `${name}()` : name}'`;
    }
    webWhy = `web: ${server} ${name}${found.factory ? ' (a factory)' : ''} (${found.interface === 'asgi' ? 'ASGI' : 'WSGI'} app in ${foundIn}; a Procfile web: line chooses another)`;
  }
  if (server !== undefined) {
    // What the install put in .venv decides, not what the files name (a -r include, fastapi[standard]): the app's own server is never replaced.
    steps.push({ name: `${server} for the web process`, command: ['/bin/sh', '-c', `if [ -x ${venvFolder}/bin/${server} ]; then echo "${server}: the app's own"; else echo "${server}: the app installs none, adding ${addedServers[server]}"; exec uv pip install ${addedServers[server]}; fi`], refreshes: true });
  }
  if (django) {
    // As Heroku: collectstatic whenever the project has the command (django.contrib.staticfiles installed), with the App's config; a failure fails the build; DISABLE_COLLECTSTATIC=1 skips it.
    steps.push({
      name: 'python manage.py collectstatic --noinput',
      command: [
        '/bin/sh',
        '-c',
        `if [ "$DISABLE_COLLECTSTATIC" = 1 ]; then echo "collectstatic: skipped (DISABLE_COLLECTSTATIC=1)"; elif ! ${venvFolder}/bin/python manage.py help collectstatic >/dev/null 2>&1; then echo "collectstatic: not a command of this project (django.contrib.staticfiles is not installed), skipped"; else ${venvFolder}/bin/python manage.py collectstatic --noinput || { echo "collectstatic failed: fix the settings (STATIC_ROOT), or set DISABLE_COLLECTSTATIC=1 in the App's config"; exit 1; }; fi`,
      ],
    });
  }
  // The virtual environment is kept for the next build, under the lock or requirements, the Python and its stack, and the commands that made it; the install runs over a kept one too (uv makes it match what a `-r` include or a local package now says, at once when nothing changed).
  const installing = steps.filter((step) => step.installs || step.refreshes).map((step) => step.command.join(' '));
  const dependencies = lockfile === undefined ? undefined : { lockfile, folders: [venvFolder], key: dependencyKey([await files.hash(lockfile), python.version, python.image, ...installing]) };
  return {
    ...(dependencies ? { dependencies } : {}),
    summary: `python ${python.version} (${python.why}), ${installer}, ${webWhy}`,
    kind: 'python',
    python,
    steps,
    start: shellStart(web, `${venvFolder}/bin`),
  };
}
