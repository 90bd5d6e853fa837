import { defineErrors } from '../errors/index.js';

interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

const listHint: Record<string, string> = {
  App: '`dormant apps`',
  Revision: '`dormant revisions APP`',
  AutoscalePolicy: '`dormant policy get APP`',
};

const ref = (o: ObjectRef) => `${o.kind} "${o.name}"${o.namespace === 'default' ? '' : ` in namespace ${o.namespace}`}`;

export const storeErrors = defineErrors({
  notFound: {
    code: 'STORE_NOT_FOUND',
    httpStatus: 404,
    exitCode: 1,
    message: (o: ObjectRef) => `${ref(o)} does not exist; check the name (${listHint[o.kind] ?? 'dormant apps'} lists what exists)`,
  },
  alreadyExists: {
    code: 'STORE_ALREADY_EXISTS',
    httpStatus: 409,
    exitCode: 1,
    message: (o: ObjectRef) => `${ref(o)} already exists; pick another name, or delete the existing one first`,
  },
  conflict: {
    code: 'STORE_CONFLICT',
    httpStatus: 409,
    exitCode: 1,
    message: (o: ObjectRef & { given: string; current: string }) =>
      `${ref(o)} was changed since you read it (your resourceVersion ${o.given}, now ${o.current}); read it again and reapply your change`,
  },
  invalid: {
    code: 'STORE_INVALID',
    httpStatus: 422,
    exitCode: 1,
    message: (o: ObjectRef & { problems: readonly string[] }) =>
      `${ref(o)} is invalid:\n${o.problems.map((p) => `  - ${p}`).join('\n')}`,
  },
  immutable: {
    code: 'STORE_IMMUTABLE',
    httpStatus: 422,
    exitCode: 1,
    message: (o: ObjectRef) => `${ref(o)}: spec is immutable; create a new ${o.kind} instead of changing this one`,
  },
  locked: {
    code: 'STORE_LOCKED',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { lockFile: string; pid: number; waitedMs: number }) =>
      `the state lock ${o.lockFile} has been held by process ${o.pid} for ${o.waitedMs} ms; wait for it to finish, or stop that process`,
  },
  corrupt: {
    code: 'STORE_CORRUPT',
    httpStatus: 500,
    exitCode: 1,
    message: (o: { file: string; reason: string }) =>
      `state file ${o.file} cannot be read (${o.reason}); restore it from a backup or delete it`,
  },
});
