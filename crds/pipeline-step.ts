// One step of a push (checkout, build, image, deploy, postDeploy): on the Revision, and the
// latest revision's steps also on its App, so `kubectl describe app` shows how the last push went.
import { type Static, Type } from '@sinclair/typebox';
import { timestamp } from './meta.js';
import { stringEnum } from './schema-kit.js';

export const stepStates = ['pending', 'running', 'succeeded', 'failed', 'skipped'] as const;

export const PipelineStepSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    state: stringEnum(stepStates),
    startedAt: Type.Optional(timestamp()),
    finishedAt: Type.Optional(timestamp()),
    message: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type PipelineStep = Static<typeof PipelineStepSchema>;
