/**
 * Which Python an app runs on, decided from what it asks for and the interpreters that can
 * be had. Pure: the interpreters come from the caller (the python stack images on this
 * machine, each with Debian's interpreter of one minor line).
 */
import { buildErrors } from './errors.js';

/** What an app asks for, and where it said so (the push output names it). */
export interface PythonRequest {
  readonly wanted: string;
  readonly from: '.python-version' | 'runtime.txt' | 'requires-python' | 'tool.poetry python' | 'Pipfile' | 'Pipfile.lock';
}

/** One interpreter that can be had: its full version and the stack image that has it. */
export interface PythonLine {
  readonly version: string;
  readonly image: string;
}

/** The Python an app gets. */
export interface PythonChoice extends PythonLine {
  /** For the push output: "3.13 in .python-version". */
  readonly why: string;
}

type Version = readonly [number, number, number];

const firstLine = (text: string | undefined) => text?.split(/\r?\n/).map((line) => line.replace(/#.*$/, '').trim()).find((line) => line !== '');

/**
 * The first thing the app states, in this order: .python-version, runtime.txt (Heroku's,
 * `python-3.12.1`), pyproject.toml's requires-python (or Poetry's python dependency),
 * Pipfile's `[requires] python_version`, then the one Pipfile.lock was made for.
 * pyenv's `system` asks for nothing.
 */
export function pythonRequest(sources: { readonly pythonVersionFile?: string; readonly runtimeTxt?: string; readonly pyproject?: string; readonly pipfile?: string; readonly pipfileLockPython?: string }): PythonRequest | undefined {
  const pinned = firstLine(sources.pythonVersionFile);
  if (pinned !== undefined && pinned !== 'system') return { wanted: pinned, from: '.python-version' };
  const runtime = firstLine(sources.runtimeTxt);
  if (runtime !== undefined) return { wanted: runtime, from: 'runtime.txt' };
  if (sources.pyproject !== undefined) {
    const requires = tomlString(sources.pyproject, 'project', 'requires-python');
    if (requires !== undefined && requires.trim() !== '') return { wanted: requires.trim(), from: 'requires-python' };
    const poetry = tomlString(sources.pyproject, 'tool.poetry.dependencies', 'python');
    if (poetry !== undefined && poetry.trim() !== '') return { wanted: poetry.trim(), from: 'tool.poetry python' };
  }
  if (sources.pipfile !== undefined) {
    const pipenv = tomlString(sources.pipfile, 'requires', 'python_full_version') ?? tomlString(sources.pipfile, 'requires', 'python_version');
    if (pipenv !== undefined && pipenv.trim() !== '') return { wanted: pipenv.trim(), from: 'Pipfile' };
  }
  if (sources.pipfileLockPython !== undefined && sources.pipfileLockPython.trim() !== '') return { wanted: sources.pipfileLockPython.trim(), from: 'Pipfile.lock' };
  return undefined;
}

/**
 * A string value of `key` in `[table]` of a TOML document, for the few keys detection reads
 * (no TOML parser: a line `key = "value"` or `key = 'value'` in that table). Linear.
 */
export function tomlString(text: string, table: string, key: string): string | undefined {
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    // No nested quantifiers: a tenant's line of any length is read in linear time.
    const header = /^\[([^\][]*)\]$/.exec(line);
    if (header) {
      current = (header[1] ?? '')
        .split('.')
        .map((part) => part.trim().replace(/"/g, ''))
        .join('.');
      continue;
    }
    if (current !== table) continue;
    const entry = /^("?)([\w.-]+)\1\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(line);
    if (entry && entry[2] === key) return entry[3] ?? entry[4];
  }
  return undefined;
}

const parse = (text: string): Version | undefined => {
  const match = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
};

const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
const show = (version: Version) => version.join('.');

/**
 * Whether version satisfies one clause of a PEP 440 specifier (or Poetry's `^` and `~`).
 * `==3.12` and a bare `3.12` mean the 3.12 line (as people write them), `==3.12.*` too.
 */
function satisfiesClause(version: Version, clause: string): boolean | undefined {
  const match = /^(===|==|!=|~=|>=|<=|>|<|\^|~)?\s*v?(\d+(?:\.\d+){0,2})(\.\*)?$/.exec(clause.trim());
  if (!match) return clause.trim() === '*' ? true : undefined;
  const operator = match[1] ?? '==';
  const digits = (match[2] ?? '').split('.').length;
  const target = parse(match[2] ?? '');
  if (!target) return undefined;
  // The parts the clause names: `3.12` names two, so 3.12.5 is on its line.
  const prefix = (count: number) => version.slice(0, count).every((part, index) => part === target[index]);
  switch (operator) {
    case '==':
    case '===':
      return prefix(digits);
    case '!=':
      return !prefix(digits);
    case '>=':
      return compare(version, target) >= 0;
    case '>':
      return compare(version, target) > 0;
    case '<=':
      return compare(version, target) <= 0 || prefix(digits);
    case '<':
      return compare(version, target) < 0;
    case '~=':
      // ~=3.10 is >=3.10, ==3.*; ~=3.10.2 is >=3.10.2, ==3.10.*.
      return digits >= 2 && compare(version, target) >= 0 && prefix(digits - 1);
    case '^':
      return compare(version, target) >= 0 && version[0] === target[0];
    case '~':
      return compare(version, target) >= 0 && prefix(Math.min(digits, 2));
    default:
      return undefined;
  }
}

/** Whether version satisfies a specifier (`>=3.10,<3.14`, Poetry's `^3.10 || ^4`); undefined: not one. */
export function satisfiesPython(version: string, specifier: string): boolean | undefined {
  const parsed = parse(version);
  if (!parsed) return undefined;
  let any = false;
  for (const alternative of specifier.split('||')) {
    let all = true;
    for (const clause of alternative.split(',')) {
      if (clause.trim() === '') return undefined;
      const result = satisfiesClause(parsed, clause);
      if (result === undefined) return undefined;
      all &&= result;
    }
    any ||= all;
  }
  return any;
}

/**
 * The interpreter an app gets. A version (`3.13`, `3.13.1`, `python-3.13.1`) is its minor
 * line, which must be here: each line has Debian's one patch release, and a patch release
 * changes no behaviour an app relies on. A range gets the newest line that satisfies it;
 * no request, the newest line. Throws BUILD_PYTHON_VERSION, naming the lines that can be had.
 */
export function choosePython(request: PythonRequest | undefined, available: readonly PythonLine[]): PythonChoice {
  const lines = available
    .map((line) => ({ line, version: parse(line.version) }))
    .filter((entry): entry is { line: PythonLine; version: Version } => entry.version !== undefined)
    .sort((a, b) => compare(b.version, a.version));
  const here = lines.map((entry) => `${entry.version[0]}.${entry.version[1]}`).join(', ') || 'none';
  const refuse = (wanted: string, from: string, reason: string) => buildErrors.pythonVersion({ wanted: wanted.length > 64 ? `${wanted.slice(0, 63)}…` : wanted, from, reason, here });
  const newest = lines[0];
  if (request === undefined) {
    if (!newest) throw buildErrors.pythonUnavailable({ reason: 'no python stack image is on this machine (make them with hack/python-images.sh)' });
    return { ...newest.line, why: 'the newest here; set .python-version to choose another' };
  }
  const { wanted, from } = request;
  if (wanted.length > 256) throw refuse(wanted, from, 'it is longer than 256 characters');
  const bare = wanted.replace(/^python-/, '').replace(/^cpython-/, '').trim();
  if (/^(pypy|graalpy|jython)/i.test(bare) || /^\d+\.\d+t$/.test(bare)) throw refuse(wanted, from, 'only CPython with the GIL (Debian’s interpreters) runs here');
  const exact = parse(bare);
  if (exact && from !== 'requires-python' && from !== 'tool.poetry python') {
    const digits = bare.split('.').length;
    const onLine = lines.find((entry) => entry.version[0] === exact[0] && (digits < 2 || entry.version[1] === exact[1]));
    if (!onLine) throw refuse(wanted, from, `Python ${digits < 2 ? exact[0] : `${exact[0]}.${exact[1]}`} cannot be had here`);
    const patchNote = digits === 3 && compare(onLine.version, exact) !== 0 ? ` (Debian’s ${show(onLine.version)} for ${show(exact)})` : '';
    return { ...onLine.line, why: `${wanted} in ${from}${patchNote}` };
  }
  let newestSatisfying: (typeof lines)[number] | undefined;
  for (const entry of lines) {
    const satisfied = satisfiesPython(show(entry.version), bare);
    if (satisfied === undefined) throw refuse(wanted, from, 'it is not a Python version or a version specifier (>=3.11, ~=3.13, ^3.12)');
    if (satisfied) {
      newestSatisfying = entry;
      break;
    }
  }
  if (lines.length === 0) throw buildErrors.pythonUnavailable({ reason: 'no python stack image is on this machine (make them with hack/python-images.sh)' });
  if (!newestSatisfying) throw refuse(wanted, from, 'no Python that can be had here satisfies it');
  return { ...newestSatisfying.line, why: `${wanted} in ${from}` };
}
