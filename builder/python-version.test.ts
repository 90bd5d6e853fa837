import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { choosePython, type PythonLine, pythonRequest, satisfiesPython, tomlString } from './python-version.js';

describe('pythonRequest: what the app asks for, first found', () => {
  const pyproject = '[build-system]\nrequires-python = ">=2"\n\n[project]\nname = "site"\nrequires-python = ">=3.11"\n';
  it('.python-version, then runtime.txt, then requires-python', () => {
    assert.deepEqual(pythonRequest({ pythonVersionFile: '# pinned\n3.13\n3.11\n', runtimeTxt: 'python-3.11.4', pyproject }), { wanted: '3.13', from: '.python-version' });
    assert.deepEqual(pythonRequest({ runtimeTxt: 'python-3.11.4\n', pyproject }), { wanted: 'python-3.11.4', from: 'runtime.txt' });
    assert.deepEqual(pythonRequest({ pyproject }), { wanted: '>=3.11', from: 'requires-python' });
  });
  it("Poetry's python dependency, pyenv's system, and nothing", () => {
    assert.deepEqual(pythonRequest({ pyproject: '[tool.poetry.dependencies]\npython = "^3.12"\nflask = "^3"\n' }), { wanted: '^3.12', from: 'tool.poetry python' });
    assert.equal(pythonRequest({ pythonVersionFile: 'system\n' }), undefined);
    assert.equal(pythonRequest({ pyproject: '[project]\nname = "x"\n' }), undefined);
  });
});

describe('tomlString', () => {
  it('reads the key of its table only, with either quote, quoted table names too', () => {
    const text = "[tool.other]\npython = '2.7'\n[ tool . \"poetry\" . dependencies ]\npython = '~3.13'\n";
    assert.equal(tomlString(text, 'tool.poetry.dependencies', 'python'), '~3.13');
    assert.equal(tomlString(text, 'project', 'python'), undefined);
  });
});

describe('satisfiesPython', () => {
  const rows: [string, string, boolean | undefined][] = [
    ['3.13.5', '>=3.11', true],
    ['3.13.5', '>=3.10,<3.13', false],
    ['3.12.9', '>=3.10, <3.13', true],
    ['3.13.5', '==3.13.*', true],
    ['3.13.5', '==3.13', true],
    ['3.14.0', '!=3.14.*', false],
    ['3.13.5', '<=3.13', true],
    ['3.14.0', '<=3.13', false],
    ['3.13.5', '~=3.11', true],
    ['4.0.0', '~=3.11', false],
    ['3.11.9', '~=3.11.2', true],
    ['3.12.0', '~=3.11.2', false],
    ['3.15.2', '^3.12', true],
    ['3.12.1', '~3.11', false],
    ['3.11.1', '^3.9 || ~2.7', true],
    ['3.11.1', '*', true],
    ['3.11.1', '>=three', undefined],
    ['3.11.1', '>=3.10,', undefined],
  ];
  for (const [version, specifier, expected] of rows) it(`${version} against ${specifier}: ${expected}`, () => assert.equal(satisfiesPython(version, specifier), expected));
});

describe('choosePython', () => {
  const lines: PythonLine[] = [
    { version: '3.11.2', image: 'python:3.11-slim' },
    { version: '3.15.2', image: 'python:3.15-slim' },
    { version: '3.13.5', image: 'python:3.13-slim' },
    { version: '3.14.10', image: 'python:3.14-slim' },
  ];
  it('no request: the newest line, saying how to choose another', () => {
    assert.deepEqual(choosePython(undefined, lines), { version: '3.15.2', image: 'python:3.15-slim', why: 'the newest here; set .python-version to choose another' });
  });
  it('a version is its minor line; an exact patch release gets Debian’s patch release of that line, said so', () => {
    assert.deepEqual(choosePython({ wanted: '3.13', from: '.python-version' }, lines), { version: '3.13.5', image: 'python:3.13-slim', why: '3.13 in .python-version' });
    assert.equal(choosePython({ wanted: 'python-3.13.1', from: 'runtime.txt' }, lines).why, 'python-3.13.1 in runtime.txt (Debian’s 3.13.5 for 3.13.1)');
    assert.equal(choosePython({ wanted: '3', from: '.python-version' }, lines).version, '3.15.2');
  });
  it('a range gets the newest line that satisfies it', () => {
    assert.equal(choosePython({ wanted: '>=3.10,<3.14', from: 'requires-python' }, lines).version, '3.13.5');
    assert.equal(choosePython({ wanted: '^3.11', from: 'tool.poetry python' }, lines).version, '3.15.2');
    assert.equal(choosePython({ wanted: '3.11', from: 'requires-python' }, lines).version, '3.11.2');
  });
  it('a line that cannot be had: BUILD_PYTHON_VERSION naming those that can and how to choose one', () => {
    assert.throws(() => choosePython({ wanted: '3.12.4', from: '.python-version' }, lines), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'BUILD_PYTHON_VERSION');
      assert.equal(error.message, '.python-version asks for Python "3.12.4", but Python 3.12 cannot be had here; the Pythons here are 3.15, 3.14, 3.13, 3.11 (Debian\'s): put one of them in .python-version (such as "3.15"), or widen requires-python');
      return true;
    });
    assert.throws(() => choosePython({ wanted: '<3.11', from: 'requires-python' }, lines), /requires-python asks for Python "<3.11", but no Python that can be had here satisfies it/);
  });
  it('other interpreters, nonsense and oversized requests are refused', () => {
    assert.throws(() => choosePython({ wanted: 'pypy3.10', from: '.python-version' }, lines), /only CPython with the GIL/);
    assert.throws(() => choosePython({ wanted: '3.14t', from: '.python-version' }, lines), /only CPython with the GIL/);
    assert.throws(() => choosePython({ wanted: 'newest please', from: 'requires-python' }, lines), /not a Python version or a version specifier/);
    assert.throws(() => choosePython({ wanted: '>=3 '.repeat(100), from: 'requires-python' }, lines), /longer than 256 characters/);
  });
  it('no stack images: BUILD_PYTHON_UNAVAILABLE saying how to make them', () => {
    assert.throws(() => choosePython(undefined, []), (error: Error & { code?: string }) => error.code === 'BUILD_PYTHON_UNAVAILABLE' && /hack\/python-images\.sh/.test(error.message));
  });
});
