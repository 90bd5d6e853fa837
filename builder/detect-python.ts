/**
 * How to build and start a Python app, from its files (Heroku's Python buildpack, with uv):
 * which interpreter, which lock or requirement file installs its dependencies into
 * `/app/.venv`, Django's collectstatic, and the web process: the Procfile's, else
 * gunicorn for Django or a WSGI app, uvicorn for an ASGI app, stated in the push output.
 * Pure apart from reading the tree through `files`.
 */
import type { BuildPlan, BuildStep } from './detect.js';
import { buildErrors } from './errors.js';
import { shellStart } from './start-command.js';
import { type PythonChoice, type PythonRequest, pythonRequest } from './python-version.js';

/** The pushed tree, as detection reads it (links that leave it refused by `read`). */
export interface SourceFiles {
  readonly has: (name: string) => boolean;
  readonly read: (name: string) => Promise<string>;
}

/** Files that make a tree a Python app. */
export const pythonFiles: readonly string[] = ['requirements.txt', 'pyproject.toml', 'uv.lock', 'poetry.lock', 'Pipfile', 'Pipfile.lock', 'setup.py'];

/** The servers Dormant adds when the app lists none: versions of Dormant's choosing, so builds repeat. */
export const addedServers = { gunicorn: 'gunicorn==27.0.1', uvicorn: 'uvicorn==0.55.0' } as const;

/** Poetry, run with uv for poetry.lock apps. */
export const poetryVersion = '2.5.1';

/** Where the app's virtual environment is, relative to the release (/app/.venv). */
export const venvFolder = '.venv';

/** The WSGI or ASGI application a module defines at top level, by the class or function that makes it. */
const wsgiMakers = new Set(['Flask', 'Bottle', 'App', 'API', 'get_wsgi_application', 'make_wsgi_app', 'Pyramid']);
const asgiMakers = new Set(['FastAPI', 'Starlette', 'Quart', 'Litestar', 'get_asgi_application']);

export interface WebApp {
  readonly module: string;
  /** `app`, or `create_app()` for a factory. */
  readonly target: string;
  readonly interface: 'wsgi' | 'asgi';
}

/** The application a module's text defines: `app = Flask(__name__)`, `app = FastAPI()`, `def create_app():`. Pure, linear. */
export function webAppIn(module: string, text: string): WebApp | undefined {
  let factory: WebApp | undefined;
  for (const line of text.split(/\r?\n/)) {
    const assigned = /^(\w+)\s*(?::\s*[\w.[\]]+\s*)?=\s*(?:[\w]+\.)*(\w+)\(/.exec(line);
    if (assigned?.[1] && assigned[2]) {
      if (wsgiMakers.has(assigned[2])) return { module, target: assigned[1], interface: 'wsgi' };
      if (asgiMakers.has(assigned[2])) return { module, target: assigned[1], interface: 'asgi' };
    }
    if (/^def create_app\(\s*\)/.test(line)) factory ??= { module, target: 'create_app()', interface: /\bFastAPI\(|\bStarlette\(|\bQuart\(/.test(text) ? 'asgi' : 'wsgi' };
  }
  return factory;
}

/** The Django project a manage.py names (`mysite` of `mysite.settings`), or undefined. Pure. */
export function djangoProject(managePy: string): { readonly settings: string; readonly project: string } | undefined {
  const match = /DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([\w.]+)['"]/.exec(managePy);
  const settings = match?.[1];
  if (settings === undefined) return undefined;
  const project = settings.replace(/\.settings(\.\w+)*$/, '');
  return project === settings ? undefined : { settings, project };
}

/** Whether a dependency file names a package (requirements, pyproject, uv.lock, poetry.lock, Pipfile). */
const names = (text: string, name: string) => new RegExp(`(^|[\\s"'\\[,=])${name}(?![\\w-])`, 'im').test(text);

export async function detectPython(files: SourceFiles, procfile: string | undefined, choosePython: (request: PythonRequest | undefined) => Promise<PythonChoice>): Promise<BuildPlan> {
  const { has, read } = files;
  const readIf = async (name: string) => (has(name) ? read(name) : undefined);
  const pyproject = await readIf('pyproject.toml');
  const python = await choosePython(
    pythonRequest({
      ...(has('.python-version') ? { pythonVersionFile: await read('.python-version') } : {}),
      ...(has('runtime.txt') ? { runtimeTxt: await read('runtime.txt') } : {}),
      ...(pyproject !== undefined ? { pyproject } : {}),
    }),
  );
  const steps: BuildStep[] = [{ name: `uv venv (Python ${python.version})`, command: ['uv', 'venv', '--clear', '--python', '/usr/local/bin/python3', venvFolder] }];
  // What installs the dependencies, from the most exact record of them to the least.
  let installer: string;
  let dependencyText = '';
  if (has('uv.lock')) {
    installer = 'uv sync from uv.lock';
    dependencyText = await read('uv.lock');
    steps.push({ name: 'uv sync --locked --no-dev', command: ['uv', 'sync', '--locked', '--no-dev'] });
  } else if (has('requirements.txt')) {
    installer = 'uv pip install from requirements.txt';
    dependencyText = await read('requirements.txt');
    steps.push({ name: 'uv pip install -r requirements.txt', command: ['uv', 'pip', 'install', '-r', 'requirements.txt'] });
  } else if (has('poetry.lock')) {
    installer = `poetry ${poetryVersion} from poetry.lock`;
    dependencyText = await read('poetry.lock');
    steps.push({
      name: 'poetry install --only main --no-root',
      command: ['uv', 'tool', 'run', '--from', `poetry==${poetryVersion}`, 'poetry', 'install', '--only', 'main', '--no-root', '--no-interaction'],
      env: { POETRY_VIRTUALENVS_IN_PROJECT: 'true', POETRY_VIRTUALENVS_CREATE: 'false' },
    });
  } else if (has('Pipfile') || has('Pipfile.lock')) {
    throw buildErrors.languageNotBuilt({ language: 'Pipenv', files: ['Pipfile', 'Pipfile.lock'].filter(has).join(', '), soon: true, instead: 'write its requirements.txt (pipenv requirements > requirements.txt) and push again, or add a Dockerfile' });
  } else if (pyproject !== undefined && /^\s*\[project\]/m.test(pyproject)) {
    installer = 'uv pip install from pyproject.toml';
    dependencyText = pyproject;
    steps.push({ name: 'uv pip install -r pyproject.toml', command: ['uv', 'pip', 'install', '-r', 'pyproject.toml'] });
  } else if (has('setup.py')) {
    installer = 'uv pip install . (setup.py)';
    dependencyText = await read('setup.py');
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
    const candidates = ['app.py', 'main.py', 'wsgi.py', 'application.py', 'server.py', 'asgi.py'].filter(has);
    let found: WebApp | undefined;
    for (const file of candidates) {
      found = webAppIn(file.replace(/\.py$/, ''), await read(file));
      if (found) break;
    }
    if (!found) throw buildErrors.noPythonStart({ looked: candidates.length === 0 ? 'no Procfile, manage.py or app.py, main.py, wsgi.py' : `no Procfile, and ${candidates.join(', ')} define no Flask, FastAPI or other WSGI or ASGI app at top level` });
    const target = `'${found.module}:${found.target}'`;
    if (found.interface === 'asgi') {
      server = 'uvicorn';
      web = `uvicorn --host 0.0.0.0 --port "$PORT" ${target}`;
    } else {
      server = 'gunicorn';
      web = `gunicorn --bind "0.0.0.0:$PORT" ${target}`;
    }
    webWhy = `web: ${server} ${found.module}:${found.target} (${found.interface === 'asgi' ? 'ASGI' : 'WSGI'} app in ${found.module}.py; a Procfile web: line chooses another)`;
  }
  let serverNote = '';
  if (server !== undefined && !names(dependencyText, server)) {
    steps.push({ name: `uv pip install ${addedServers[server]}`, command: ['uv', 'pip', 'install', addedServers[server]] });
    serverNote = ` (${server} added: the app lists none)`;
  }
  if (django) {
    const settingsPath = django.settings.replaceAll('.', '/');
    const settings = (await readIf(`${settingsPath}.py`)) ?? (await readIf(`${settingsPath}/__init__.py`)) ?? '';
    // As Heroku: collectstatic when the settings say where static files go; a failure fails the build.
    if (/^\s*STATIC_ROOT\s*=/m.test(settings)) steps.push({ name: 'python manage.py collectstatic --noinput', command: [`${venvFolder}/bin/python`, 'manage.py', 'collectstatic', '--noinput'] });
  }
  return {
    summary: `python ${python.version} (${python.why}), ${installer}, ${webWhy}${serverNote}`,
    kind: 'python',
    python,
    steps,
    start: shellStart(web, `${venvFolder}/bin`),
  };
}
