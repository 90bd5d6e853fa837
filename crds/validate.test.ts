import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProblem, policyDefaults, validate, validateAs } from './index.js';

const app = (spec: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'dormant.dev/v1alpha1',
  kind: 'App',
  metadata: { name: 'hello' },
  spec,
  ...extra,
});
const revision = (spec: Record<string, unknown>, name = 'hello-00001') => ({
  apiVersion: 'dormant.dev/v1alpha1',
  kind: 'Revision',
  metadata: { name },
  spec: { app: 'hello', commit: '0123456789abcdef0123456789abcdef01234567', run: {}, ...spec },
});
const policy = (spec: unknown, name = 'fast') => ({ apiVersion: 'dormant.dev/v1alpha1', kind: 'AutoscalePolicy', metadata: { name }, spec });

function problemsOf(object: unknown): string[] {
  const result = validate(object);
  return result.ok ? [] : result.problems.map(formatProblem);
}

describe('defaulting', () => {
  it('an App with an empty spec gets every default', () => {
    const result = validateAs('App', app({}));
    assert.ok(result.ok, JSON.stringify(result.problems));
    assert.deepEqual(result.object.spec, {
      git: { branch: 'main', authorizedKeys: [], allowForcePush: false },
      build: { strategy: 'auto', context: '.', dockerfile: 'Dockerfile', args: {} },
      run: { env: {}, resources: {}, startTimeout: '60s', drainTimeout: '30s' },
      routes: { hosts: [] },
      autoscale: {},
      hooks: { postDeploy: [] },
    });
  });

  it('an App without spec gets one', () => {
    const result = validate({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: 'bare' } });
    assert.ok(result.ok);
    assert.equal((result.object.spec as { git: { branch: string } }).git.branch, 'main');
  });

  it("an AutoscalePolicy with an empty spec gets Knative's defaults", () => {
    const result = validateAs('AutoscalePolicy', policy({}));
    assert.ok(result.ok);
    assert.deepEqual(result.object.spec, {
      metric: 'concurrency',
      target: 100,
      targetUtilization: 0.7,
      containerConcurrency: 0,
      minScale: 0,
      initialScale: 1,
      activationScale: 1,
      scaleToZeroGracePeriod: '30s',
      scaleDownDelay: '0s',
      stableWindow: '60s',
      panicWindowPercentage: 10,
      panicThresholdPercentage: 200,
      maxScaleUpRate: 1000,
      maxScaleDownRate: 2,
      requestTimeout: '60s',
      queueDepth: 1000,
    });
    assert.deepEqual(result.object.spec, { ...policyDefaults });
  });

  it('given values win over defaults, and the input is not mutated', () => {
    const input = app({ git: { branch: 'trunk' }, run: { port: 8080 } });
    const before = structuredClone(input);
    const result = validateAs('App', input);
    assert.ok(result.ok);
    assert.equal(result.object.spec.git.branch, 'trunk');
    assert.equal(result.object.spec.run.port, 8080);
    assert.deepEqual(input, before);
  });

  it("an App's inline autoscale overrides get no defaults, so a referenced policy is not masked", () => {
    const result = validateAs('App', app({ autoscale: { policyRef: 'fast', target: 10 } }));
    assert.ok(result.ok);
    assert.deepEqual(result.object.spec.autoscale, { policyRef: 'fast', target: 10 });
  });
});

interface Row {
  readonly name: string;
  readonly object: unknown;
  /** Each expected problem, exactly as printed (path: message; fix) or as a prefix ending in '…'. */
  readonly problems: readonly string[];
}

const rows: readonly Row[] = [
  { name: 'valid App', object: app({ run: { port: 3000, env: { DATABASE_URL: 'x' } }, routes: { hosts: ['shop.example.com'] } }), problems: [] },
  { name: 'valid Revision', object: revision({}), problems: [] },
  { name: 'valid AutoscalePolicy at its bounds', object: policy({ minScale: 2, maxScale: 2, activationScale: 2, stableWindow: '6s', targetUtilization: 1 }), problems: [] },
  {
    name: 'unknown field in spec, close to a known one',
    object: app({ rn: {} }),
    problems: ['spec.rn: is not a known field; did you mean run? Known fields here: git, build, run, routes, autoscale, coldStart, tls, stopped, hooks'],
  },
  { name: 'unknown top-level field', object: app({}, { extra: 1 }), problems: ['extra: is not a known field; remove it; known fields here: apiVersion, kind, metadata, spec, status'] },
  { name: 'string where an integer goes', object: app({ run: { port: '80' } }), problems: ['spec.run.port: expected an integer from 1 to 65535, got "80"; use an integer from 1 to 65535'] },
  { name: 'fraction where an integer goes', object: app({ run: { port: 80.5 } }), problems: ['spec.run.port: expected an integer from 1 to 65535, got 80.5; use an integer from 1 to 65535'] },
  { name: 'integer above its maximum', object: app({ run: { port: 70000 } }), problems: ['spec.run.port: 70000 is above the maximum 65535; use an integer from 1 to 65535'] },
  { name: 'number not above an exclusive minimum', object: policy({ maxScaleDownRate: 1 }), problems: ['spec.maxScaleDownRate: 1 is not above 1; use a number above 1'] },
  { name: 'fraction above 1', object: policy({ targetUtilization: 70 }), problems: ['spec.targetUtilization: 70 is above the maximum 1; use a number from 0.01 to 1'] },
  { name: 'enum value misspelt', object: app({ build: { strategy: 'docker' } }), problems: ['spec.build.strategy: "docker" is not allowed; use one of auto, dockerfile, node, python, go, java, static (did you mean dockerfile?)'] },
  { name: 'boolean as a string', object: app({ git: { allowForcePush: 'yes' } }), problems: ['spec.git.allowForcePush: expected true or false, got "yes"; use true or false'] },
  { name: 'list where a map goes', object: app({ run: { env: ['A=1'] } }), problems: ['spec.run.env: expected an object, got a list; use an object'] },
  { name: 'map value not a string', object: app({ run: { env: { PORT: 80 } } }), problems: ['spec.run.env.PORT: expected a string, got 80; use a string'] },
  {
    name: 'duration in words',
    object: policy({ stableWindow: '5 minutes' }),
    problems: ['spec.stableWindow: "5 minutes" is not valid; use a duration such as 500ms, 30s, 1m30s or 2h'],
  },
  { name: 'host with capitals and underscore', object: app({ routes: { hosts: ['ok.example.com', 'Bad_Host'] } }), problems: ['spec.routes.hosts[1]: "Bad_Host" is not valid; use a lower-case host name such as shop.example.com'] },
  { name: 'too many hosts', object: app({ routes: { hosts: Array.from({ length: 33 }, (_, i) => `h${i}.example.com`) } }), problems: ['spec.routes.hosts: has 33 items, more than 32; keep at most 32'] },
  { name: 'readiness path without a slash', object: app({ run: { readinessPath: 'healthz' } }), problems: ['spec.run.readinessPath: "healthz" is not valid; use an HTTP path starting with / such as /healthz'] },
  { name: 'empty command list', object: app({ run: { command: [] } }), problems: ['spec.run.command: has 0 items, fewer than 1; give at least 1, or omit it'] },
  { name: 'missing required field', object: revision({ commit: undefined }), problems: ['spec.commit: is required; set it to a full 40-character git commit id'] },
  { name: 'short commit id', object: revision({ commit: 'abc123' }), problems: ['spec.commit: "abc123" is not valid; use a full 40-character git commit id'] },
  {
    name: 'maxScale 0 below minScale 2 (both rules speak)',
    object: app({ autoscale: { minScale: 2, maxScale: 0 } }),
    problems: [
      'spec.autoscale.maxScale: 0 is below the minimum 1; use an integer from 1 to 1000, or omit maxScale for no upper bound',
      'spec.autoscale.maxScale: minScale must not exceed maxScale (0 is less than minScale 2); raise maxScale or lower minScale',
    ],
  },
  { name: 'minScale above maxScale in a policy', object: policy({ minScale: 5, maxScale: 3 }), problems: ['spec.maxScale: minScale must not exceed maxScale (3 is less than minScale 5); raise maxScale or lower minScale'] },
  { name: 'activationScale above maxScale', object: policy({ activationScale: 4, maxScale: 3 }), problems: ['spec.activationScale: activationScale must not exceed maxScale (4 is more than maxScale 3); lower activationScale or raise maxScale'] },
  { name: 'stable window shorter than 6s', object: policy({ stableWindow: '2s' }), problems: ['spec.stableWindow: stableWindow must be between 6s and 1h (2s is outside 6s to 1h); use a duration from 6s to 1h'] },
  { name: 'scale-down delay over an hour', object: app({ autoscale: { scaleDownDelay: '2h' } }), problems: ['spec.autoscale.scaleDownDelay: scaleDownDelay must be between 0s and 1h (2h is outside 0s to 1h); use a duration from 0s to 1h'] },
  { name: 'request timeout under a second', object: policy({ requestTimeout: '500ms' }), problems: ['spec.requestTimeout: requestTimeout must be between 1s and 1h (500ms is outside 1s to 1h); use a duration from 1s to 1h'] },
  {
    name: 'environment variable names',
    object: app({ run: { env: { GOOD_NAME: '1', '1BAD': '2', 'also-bad': '3' } } }),
    problems: ['spec.run.env: environment variable names must match [A-Za-z_][A-Za-z0-9_]* ("1BAD", "also-bad" are not valid variable names); use letters, digits and _, not starting with a digit (like DATABASE_URL)'],
  },
  {
    name: 'App name of 41 characters',
    object: { ...app({}), metadata: { name: 'a'.repeat(41) } },
    problems: [`metadata.name: "${'a'.repeat(41)}" is 41 characters, longer than the 40 allowed for an App name; use a name of at most 40 characters`],
  },
  { name: 'App name of exactly 40 characters', object: { ...app({}), metadata: { name: 'a'.repeat(40) } }, problems: [] },
  {
    name: 'App name with capitals',
    object: { ...app({}), metadata: { name: 'Hello' } },
    problems: [`metadata.name: "Hello" is not a valid App name; use lower-case letters, digits and '-', starting and ending with a letter or digit (like "hello-world")`],
  },
  { name: 'App name ending in a dash', object: { ...app({}), metadata: { name: 'hello-' } }, problems: ['metadata.name: "hello-" is not a valid App name…'] },
  { name: 'Revision name of 63 characters', object: revision({}, 'r'.repeat(63)), problems: [] },
  { name: 'Revision name of 64 characters', object: revision({}, 'r'.repeat(64)), problems: ['metadata.name: "rrrr…'] },
  { name: 'Revision with its own release folder and image', object: revision({ releaseDir: '/srv/.dormant/releases/hello/hello-00001', image: 'localhost/dormant/hello:hello-00001' }), problems: [] },
  {
    name: 'Revision with releaseDir /etc',
    object: revision({ releaseDir: '/etc' }),
    problems: [
      'spec.releaseDir: "/etc" is not valid; use the absolute path <state folder>/releases/<app>/<revision> that git push made',
      'spec.releaseDir: spec.releaseDir must be the folder releases/<spec.app>/<metadata.name> of the state folder ("/etc" is not the release folder of hello/hello-00001); Revisions are made by git push; push the commit to deploy it',
    ],
  },
  { name: 'Revision with releaseDir climbing out with ..', object: revision({ releaseDir: '/srv/.dormant/releases/hello/../../../../etc/releases/hello/hello-00001' }), problems: ['spec.releaseDir: "/srv/.dormant/releases/hello/../../../../etc/releases/hello/hello-00001" is not valid…'] },
  { name: "Revision with another revision's release folder", object: revision({ releaseDir: '/srv/.dormant/releases/other/hello-00001' }), problems: ['spec.releaseDir: spec.releaseDir must be the folder releases/<spec.app>/<metadata.name>…'] },
  {
    name: 'Revision with an image git push did not build',
    object: revision({ image: 'docker.io/library/alpine' }),
    problems: ['spec.image: spec.image must be localhost/dormant/<spec.app>:<metadata.name>, the image git push built ("docker.io/library/alpine" is not the image git push built for hello/hello-00001); Revisions are made by git push; push the commit to deploy it'],
  },
  { name: 'policy name over 40 characters', object: policy({}, 'p'.repeat(41)), problems: ['metadata.name: "pppp…'] },
  {
    name: 'policyRef that is not a name',
    object: app({ autoscale: { policyRef: 'Fast Policy' } }),
    problems: [`spec.autoscale.policyRef: "Fast Policy" is not valid; use lower-case letters, digits and '-', starting and ending with a letter or digit, at most 40 characters`],
  },
  { name: 'missing metadata', object: { apiVersion: 'dormant.dev/v1alpha1', kind: 'App', spec: {} }, problems: ['metadata: is required; set it to an object'] },
  { name: 'empty name', object: { ...app({}), metadata: { name: '' } }, problems: ['metadata.name: is empty; use a string'] },
  { name: 'unknown kind, close to App', object: { ...app({}), kind: 'Ap' }, problems: ['kind: "Ap" is not a Dormant kind; use one of App, Revision, AutoscalePolicy (did you mean App?)'] },
  { name: 'wrong apiVersion', object: { ...app({}), apiVersion: 'dormant.dev/v1' }, problems: ['apiVersion: "dormant.dev/v1" is not served; use dormant.dev/v1alpha1'] },
  { name: 'not an object at all', object: 'App', problems: ['(object): expected an object, got "App"; send a JSON or YAML object with apiVersion, kind, metadata and spec'] },
  {
    name: 'condition status outside True/False/Unknown',
    object: app({}, { status: { conditions: [{ type: 'Ready', status: 'Yes' }] } }),
    problems: ['status.conditions[0].status: "Yes" is not allowed; use one of True, False, Unknown'],
  },
  {
    name: 'a time that is not RFC 3339',
    object: app({}, { status: { lastRequestTime: 'yesterday' } }),
    problems: ['status.lastRequestTime: "yesterday" is not a time; use an RFC 3339 time such as 2026-01-02T15:04:05Z'],
  },
  {
    name: 'every problem at once',
    object: app({ run: { port: 0 }, build: { strategy: 'nix' }, routes: { hosts: 'a.example.com' } }),
    problems: [
      'spec.build.strategy: "nix" is not allowed; use one of auto, dockerfile, node, python, go, java, static',
      'spec.run.port: 0 is below the minimum 1; use an integer from 1 to 65535',
      'spec.routes.hosts: expected a list, got "a.example.com"; use a list',
    ],
  },
];

describe('validation problems name the path and the fix', () => {
  for (const row of rows) {
    it(row.name, () => {
      const actual = problemsOf(row.object);
      assert.equal(actual.length, row.problems.length, `problems: ${JSON.stringify(actual, null, 2)}`);
      row.problems.forEach((expected, i) => {
        const got = actual[i] ?? '';
        if (expected.endsWith('…')) assert.ok(got.startsWith(expected.slice(0, -1)), `${got} does not start with ${expected}`);
        else assert.equal(got, expected);
      });
    });
  }

  it('the table has no duplicate row names', () => {
    assert.equal(new Set(rows.map((r) => r.name)).size, rows.length);
  });
});
