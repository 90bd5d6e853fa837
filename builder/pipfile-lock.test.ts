import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isDormantError } from '../errors/index.js';
import { pipfileLockRequirements } from './pipfile-lock.js';

const sha = (c: string) => `sha256:${c.repeat(64)}`;
const lock = (value: object) => JSON.stringify(value);

const refused = (text: string, reason: RegExp) =>
  assert.throws(
    () => pipfileLockRequirements(text),
    (error: unknown) => isDormantError(error) && error.code === 'BUILD_PIPFILE_LOCK' && reason.test(error.message),
  );

describe('Pipfile.lock as requirements', () => {
  test('default packages with extras, markers and hashes; develop left out; the Python it was made for', () => {
    const made = pipfileLockRequirements(
      lock({
        _meta: { requires: { python_full_version: '3.13.1', python_version: '3.13' }, sources: [{ name: 'pypi', url: 'https://pypi.org/simple', verify_ssl: true }] },
        default: {
          flask: { hashes: [sha('a'), sha('b')], index: 'pypi', markers: "python_version >= '3.9'", version: '==3.1.0' },
          'uvicorn': { extras: ['standard'], version: '==0.30.0' },
        },
        develop: { pytest: { version: '==8.0.0' } },
      }),
    );
    assert.equal(made.text, `flask==3.1.0 ; python_version >= '3.9' --hash=${sha('a')} --hash=${sha('b')}\nuvicorn[standard]==0.30.0\n`);
    assert.equal(made.packages, 2);
    assert.equal(made.python, '3.13.1');
  });

  test('git, file and local path packages; an index other than PyPI as an extra index', () => {
    const made = pipfileLockRequirements(
      lock({
        _meta: { sources: [{ name: 'private', url: 'https://pkgs.example.test/simple' }] },
        default: {
          tool: { git: 'https://git.example.test/tool.git', ref: 'a1b2c3', subdirectory: 'py' },
          wheel: { file: 'https://files.example.test/wheel-1.0-py3-none-any.whl' },
          me: { editable: true, path: '.' },
        },
      }),
    );
    assert.equal(made.text, ['--extra-index-url https://pkgs.example.test/simple', 'tool @ git+https://git.example.test/tool.git@a1b2c3#subdirectory=py', 'wheel @ https://files.example.test/wheel-1.0-py3-none-any.whl', '-e .', ''].join('\n'));
    assert.equal(made.python, undefined);
  });

  test('an empty lock installs nothing', () => {
    assert.deepEqual(pipfileLockRequirements(lock({ _meta: {}, default: {} })), { text: '', packages: 0 });
  });

  test('what would add a line of its own, leave the repository or is not locked is refused, naming it', () => {
    refused('{', /not JSON/);
    refused('[]', /not a JSON object/);
    refused(lock({ default: [] }), /"default" is not an object/);
    refused(lock({ default: { flask: { version: '*' } } }), /flask has the version "\*", not an exact one/);
    refused(lock({ default: { flask: { version: '==1.0\n--index-url https://evil.test/' } } }), /not an exact one/);
    refused(lock({ default: { flask: { version: '==1.0', markers: "os_name == 'posix'\n--index-url https://evil.test/" } } }), /flask's markers has a line break/);
    refused(lock({ default: { 'flask\n-e /': { version: '==1.0' } } }), /is not a package name/);
    refused(lock({ default: { flask: { version: '==1.0', hashes: ['md5:00'] } } }), /flask has a hash that is not/);
    refused(lock({ default: { flask: { version: '==1.0', extras: ['a b'] } } }), /an extra that is not a name/);
    refused(lock({ default: { evil: { path: '../other-app' } } }), /only paths inside the repository/);
    refused(lock({ default: { evil: { path: '/etc' } } }), /only paths inside the repository/);
    refused(lock({ default: { evil: { git: 'https://x.test/a b' } } }), /not a URL/);
    refused(lock({ default: { evil: { git: 'https://x.test/a.git', ref: '--upload-pack=sh' } } }), /git ref/);
    refused(lock({ default: { flask: {} } }), /flask has no version, git, file or path/);
    refused(lock({ _meta: { sources: [{ url: 'ftp://x.test/simple' }] }, default: {} }), /not an http\(s\) URL/);
  });

  test('a lock of thousands of packages is converted in linear time', () => {
    const packages = Object.fromEntries(Array.from({ length: 5000 }, (_, index) => [`pkg${index}`, { version: `==1.${index}`, hashes: [sha('c')] }]));
    const started = performance.now();
    const made = pipfileLockRequirements(lock({ default: packages }));
    assert.equal(made.packages, 5000);
    assert.ok(performance.now() - started < 2000);
  });
});
