// Python apps shaped like the ones people publish (test/fixtures/apps), pushed with real
// git over SSH and served: the interpreter from the python stack of the line they ask for
// (Debian's, hack/python-images.sh), dependencies installed with uv from PyPI in the
// app's sandbox, the web process from the Procfile or detected and stated.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, fixtureApp, pushNewApp, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});


describe('Python apps', () => {
  it('a Flask app.py with requirements.txt and no Procfile: gunicorn added and announced, Python 3.15 by default; the next push reuses its .venv', async () => {
    const { copy, pushed } = await pushNewApp(d, 'flask', await fixtureApp('flask-hello'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Building flask \(python 3\.15\.\d+ \(the newest here; set \.python-version to choose another\), uv pip install from requirements\.txt, web: gunicorn app:app \(WSGI app in app\.py; a Procfile web: line chooses another\)\)/);
    assert.match(pushed.stderr, /remote: +gunicorn: the app installs none, adding gunicorn==27\.0\.1/);
    const answer = await d.get('flask');
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.body, '<p>Hello from Flask!</p>');
    await copy.commit({ 'app.py': (await fixtureApp('flask-hello'))['app.py']?.replace('Hello from', 'Hello again from') ?? '' });
    const again = await copy.push(d.remote('flask'));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /-----> dependencies unchanged \(requirements\.txt\): \.venv reused from the last build/);
    assert.match(again.stderr, /-----> uv pip install -r requirements\.txt\s+remote: +(Checked|Audited) \d+ packages? in/, 'uv finds the kept .venv up to date');
    assert.match(again.stderr, /remote: +gunicorn: the app's own/, 'the kept .venv has the server added to it');
    assert.equal((await d.get('flask')).body, '<p>Hello again from Flask!</p>');
  });

  it('a Python line that cannot be had is refused before any work, naming those that can; the running release keeps serving', async () => {
    const copy = await WorkingCopy.create(d.work, 'flask-312', d.adminKey);
    await copy.commit(await fixtureApp('flask-hello'));
    assert.equal((await copy.push(d.remote('flask-312'))).code, 0);
    await copy.commit({ '.python-version': '3.12\n', 'app.py': 'raise SystemExit("never built")\n' });
    const pushed = await copy.push(d.remote('flask-312'));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(\.python-version asks for Python "3\.12", but Python 3\.12 cannot be had here; the Pythons here are 3\.15, 3\.14, 3\.13, 3\.11 \(Debian's\): put one of them in \.python-version/);
    assert.doesNotMatch(pushed.stderr, /uv venv/, 'refused at detection');
    assert.equal((await d.get('flask-312')).body, '<p>Hello from Flask!</p>');
  });

  it('a Django app with a Procfile and .python-version 3.13: collectstatic at build, gunicorn from the Procfile', async () => {
    const { pushed } = await pushNewApp(d, 'django', await fixtureApp('django-procfile'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /python 3\.13\.\d+ \(3\.13 in \.python-version\), uv pip install from requirements\.txt, web from Procfile/);
    assert.match(pushed.stderr, /-----> python manage\.py collectstatic --noinput/);
    const home = await d.get('django');
    assert.equal(home.status, 200, home.body);
    assert.equal(home.body, 'Hello from Django (static collected: True)\n');
    assert.match((await d.get('django', '/python')).body, /^3\.13\.\d+\n$/);
  });

  it('a FastAPI app with uv.lock and requires-python: uv sync of the lock, without its dev group, served by uvicorn', async () => {
    const { pushed } = await pushNewApp(d, 'fastapi', await fixtureApp('fastapi-uv'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /python 3\.15\.\d+ \(>=3\.13 in requires-python\), uv sync from uv\.lock, web: uvicorn main:app \(ASGI app in main\.py/);
    assert.match(pushed.stderr, /remote: +uvicorn: the app's own/);
    assert.doesNotMatch(pushed.stderr, /pytest/, 'the dev group is not installed');
    const answer = await d.get('fastapi');
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, /^\{"hello":"from FastAPI","python":"3\.15\.\d+"\}$/);
  });

  it('.python-version pinning a patch release Debian does not have (3.13.1): its line’s release here, said so, and uv sync takes it', async () => {
    const { pushed } = await pushNewApp(d, 'fastapi-313', { ...(await fixtureApp('fastapi-uv')), '.python-version': '3.13.1\n' });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /python (3\.13\.\d+) \(3\.13\.1 in \.python-version \(Debian’s \1 for 3\.13\.1\)\)/);
    assert.match((await d.get('fastapi-313')).body, /"python":"3\.13\.\d+"/);
  });

  it('a Pipenv app (Pipfile and Pipfile.lock, no requirements.txt): the lock installed with its hashes checked, develop left out, the Python from the Pipfile; a lock whose hash does not match is refused and the release keeps serving', async () => {
    const files = await fixtureApp('pipenv-flask');
    const { copy, pushed } = await pushNewApp(d, 'pipenv', files);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /python 3\.13\.\d+ \(3\.13 in Pipfile\), uv pip install from Pipfile\.lock \(9 locked packages\), web from Procfile/);
    assert.match(pushed.stderr, /remote: +\+ flask==3\.1\.3/);
    assert.doesNotMatch(pushed.stderr, /pytest/, 'the develop packages are not installed');
    assert.equal((await d.get('pipenv')).body, 'Hello from Pipenv on Python 3.13\n');

    // The lock's hashes are checked: a release of Flask whose files are not the ones locked is not installed.
    const lock = JSON.parse(files['Pipfile.lock'] ?? '{}') as { default: { flask: { hashes: string[] } } };
    lock.default.flask.hashes = [`sha256:${'0'.repeat(64)}`];
    await copy.commit({ 'Pipfile.lock': JSON.stringify(lock), 'app.py': 'raise SystemExit("never built")\n' });
    const tampered = await copy.push(d.remote('pipenv'));
    assert.notEqual(tampered.code, 0);
    assert.match(tampered.stderr, /[Hh]ash mismatch|do(es)? not match/);
    assert.match(tampered.stderr, /! \[remote rejected\] main -> main \(build failed: uv pip install -r Pipfile\.lock exited 1/);
    assert.equal((await d.get('pipenv')).body, 'Hello from Pipenv on Python 3.13\n');
  });
});
