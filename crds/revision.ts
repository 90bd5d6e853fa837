import { type Static, Type } from '@sinclair/typebox';
import { buildStrategies, RunSpecSchema } from './app.js';
import { apiVersion, nameRule, ObjectMetaSchema } from './meta.js';
import { PipelineStepSchema } from './pipeline-step.js';
import { objectName, stringEnum } from './schema-kit.js';

export const revisionPhases = ['Pending', 'Building', 'Deploying', 'Ready', 'Failed'] as const;

export const RevisionSpecSchema = Type.Object(
  {
    app: objectName(40),
    commit: Type.String({ pattern: '^[0-9a-f]{40}$', 'x-dormant-hint': 'a full 40-character git commit id' }),
    branch: Type.Optional(Type.String()),
    strategy: stringEnum(buildStrategies, { default: 'auto' }),
    image: Type.Optional(Type.String({ description: 'OCI image reference, for container replicas.' })),
    releaseDir: Type.Optional(Type.String({ description: 'Release folder, for process replicas.' })),
    run: RunSpecSchema,
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
  { additionalProperties: false, 'x-dormant-rules': [nameRule('Revision', 63)] },
);
export type Revision = Static<typeof RevisionSchema>;
