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
  hostTaken: {
    code: 'STORE_HOST_TAKEN',
    httpStatus: 409,
    exitCode: 1,
    message: (o: ObjectRef & { host: string; owner: string; ownersAddress: boolean; ownAddress: boolean }) =>
      o.ownAddress
        ? `${ref(o)} cannot be served at its address ${o.host}: app ${o.owner} lists that host in spec.routes.hosts; pick another name, or remove ${o.host} from ${o.owner}'s spec.routes.hosts first`
        : o.ownersAddress
          ? `${ref(o)} cannot claim host ${o.host}: it is the address of app ${o.owner}; remove it from spec.routes.hosts`
          : `${ref(o)} cannot claim host ${o.host}: app ${o.owner} already serves it; remove it from spec.routes.hosts, or from ${o.owner}'s first`,
  },
  hostReserved: {
    code: 'STORE_HOST_RESERVED',
    httpStatus: 422,
    exitCode: 1,
    message: (o: ObjectRef & { host: string; reason: string }) =>
      `${ref(o)} cannot claim host ${o.host}: ${o.reason}; remove it from spec.routes.hosts and use a name of its own (such as shop.example.com)`,
  },
  corrupt: {
    code: 'STORE_CORRUPT',
    httpStatus: 500,
    exitCode: 1,
    message: (o: { file: string; reason: string }) =>
      `state file ${o.file} cannot be read (${o.reason}); restore it from a backup or delete it`,
  },
  crdsMissing: {
    code: 'STORE_CRDS_MISSING',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { server: string }) =>
      `the cluster at ${o.server} does not know Dormant's resources; install them with kubectl apply -k manifests/crds (or kubectl apply -k manifests/ for all of Dormant)`,
  },
  apiUnreachable: {
    code: 'STORE_API_UNREACHABLE',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { server: string; reason: string }) =>
      `the Kubernetes apiserver at ${o.server} did not answer (${o.reason}); check the kubeconfig (--kubeconfig or $KUBECONFIG) and that the cluster is up`,
  },
  apiRefused: {
    code: 'STORE_API_REFUSED',
    httpStatus: 502,
    exitCode: 1,
    message: (o: ObjectRef & { status: number; reason: string }) =>
      `the apiserver refused the request for ${ref(o)} with status ${o.status}: ${o.reason}; if it is a permission, grant the verb to Dormant's service account (manifests/)`,
  },
});

export const runtimeErrors = defineErrors({
  noRevision: {
    code: 'RUNTIME_NO_REVISION',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { app: string }) => `app ${o.app} has no deployed revision to run; git push to deploy it first`,
  },
  noImage: {
    code: 'RUNTIME_NO_IMAGE',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { revision: string }) =>
      `revision ${o.revision} has no image, and the Kubernetes runtime runs images only; start dormant up with --registry (such as 127.0.0.1:5000) and push again`,
  },
  podsForbidden: {
    code: 'RUNTIME_PODS_UNREADABLE',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { namespace: string; reason: string }) =>
      `cannot list the apps' pods in namespace ${o.namespace}: ${o.reason}; grant this identity get, list and watch on pods there (manifests/base has the Roles), or check the kubeconfig`,
  },
  deploymentsForbidden: {
    code: 'RUNTIME_DEPLOYMENTS_UNREADABLE',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { namespace: string; reason: string }) =>
      `cannot list the apps' Deployments in namespace ${o.namespace}: ${o.reason}; grant this identity get, list and watch on deployments there (manifests/base has the Roles), or check the kubeconfig`,
  },
  noCommand: {
    code: 'RUNTIME_NO_COMMAND',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { revision: string }) =>
      `revision ${o.revision} has no start command; add a Procfile with a web: line, a start script in package.json, or set spec.run.command`,
  },
  noRelease: {
    code: 'RUNTIME_NO_RELEASE',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { revision: string; releaseDir: string }) =>
      `revision ${o.revision} has no release folder (${o.releaseDir || 'none recorded'}); push again to rebuild it`,
  },
  foreignRevision: {
    code: 'RUNTIME_FOREIGN_REVISION',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { revision: string; app: string; reason: string }) =>
      `revision ${o.revision} of ${o.app} is not run: ${o.reason}; Revisions are made by git push, which puts each release under the state folder's releases/${o.app}/: push the commit to deploy it`,
  },
  rolloutFailed: {
    code: 'RUNTIME_ROLLOUT_FAILED',
    httpStatus: 500,
    exitCode: 1,
    message: (o: { app: string; revision: string; reason: string; lastLines: readonly string[]; previous: string | undefined }) =>
      `revision ${o.revision} of ${o.app} did not start: ${o.reason}; ${o.previous ? `the previous revision ${o.previous} keeps serving` : 'no earlier revision serves the app'}.${o.lastLines.length === 0 ? ' It printed nothing.' : `\nIts last lines:\n${o.lastLines.map((l) => `  ${l}`).join('\n')}`}`,
  },
  certificatesForbidden: {
    code: 'RUNTIME_CERTIFICATES_FORBIDDEN',
    httpStatus: 403,
    exitCode: 1,
    message: (o: { namespace: string; verb: string }) =>
      `this identity may not ${o.verb} the apps' certificates (TLS Secrets labelled dormant.dev/certificate in namespace ${o.namespace}); run this command with a kubeconfig that may (kubectl get secrets -n ${o.namespace} -l dormant.dev/certificate=true shows them), or grant that verb on secrets there`,
  },
  certManagerMissing: {
    code: 'RUNTIME_CERT_MANAGER_MISSING',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { namespace: string; reason: string }) =>
      `--cert-manager-issuer was given, but cert-manager's Certificates cannot be used in namespace ${o.namespace}: ${o.reason}; install cert-manager (its CRDs and controller) and grant this identity get, list, watch, create, update and delete on certificates.cert-manager.io there (and delete on secrets: manifests/base/gitd.yaml has the Role), or start without --cert-manager-issuer to have dormant up order certificates itself`,
  },
  closed: {
    code: 'RUNTIME_CLOSED',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { app: string }) => `the runtime is shutting down; ${o.app} was not changed`,
  },
});
