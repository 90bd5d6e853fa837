import { type Static, Type } from '@sinclair/typebox';
import { AutoscaleOverridesFields, policyRules } from './autoscale-policy.js';
import { apiVersion, ConditionSchema, nameRule, ObjectMetaSchema, timestamp } from './meta.js';
import { PipelineStepSchema } from './pipeline-step.js';
import { type CrossFieldRule, dnsSubdomainPattern, duration, objectName, stringEnum, stringMap } from './schema-kit.js';

const envNamePattern = '^[A-Za-z_][A-Za-z0-9_]*$';
const envNameRule: CrossFieldRule = {
  cel: `self.all(k, k.matches('${envNamePattern}'))`,
  celMessage: 'environment variable names must match [A-Za-z_][A-Za-z0-9_]*',
  field: '',
  check: (self) => {
    const bad = Object.keys(self).filter((name) => !new RegExp(envNamePattern).test(name));
    if (bad.length === 0) return undefined;
    return {
      message: `${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is not a valid variable name' : 'are not valid variable names'}`,
      fix: 'use letters, digits and _, not starting with a digit (like DATABASE_URL)',
    };
  },
};

const cpuQuantity = (options: { description?: string } = {}) =>
  Type.String({ pattern: '^([0-9]+m|[0-9]+(\\.[0-9]+)?)$', maxLength: 12, 'x-dormant-hint': 'a CPU quantity such as 250m or 1.5', ...options });
const memoryQuantity = (options: { description?: string } = {}) =>
  Type.String({ pattern: '^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$', maxLength: 16, 'x-dormant-hint': 'a memory quantity such as 256Mi or 1Gi', ...options });

/** CPU and memory as Kubernetes writes them. */
const QuantitiesSchema = Type.Object({ cpu: Type.Optional(cpuQuantity()), memory: Type.Optional(memoryQuantity()) }, { additionalProperties: false });

export const RunSpecSchema = Type.Object(
  {
    port: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description: 'Port a container listens on; process replicas get theirs in $PORT.',
      }),
    ),
    env: stringMap({ default: {}, maxProperties: 256, 'x-dormant-rules': [envNameRule] }),
    command: Type.Optional(Type.Array(Type.String(), { minItems: 1, maxItems: 64, description: 'Overrides the detected start command.' })),
    resources: Type.Object(
      {
        requests: Type.Optional(QuantitiesSchema),
        limits: Type.Optional(QuantitiesSchema),
        // The shape before requests and limits, still read (containerResources): cpu was a request, memory a request and a limit.
        cpu: Type.Optional(cpuQuantity({ description: 'Deprecated: use requests.cpu.' })),
        memory: Type.Optional(memoryQuantity({ description: 'Deprecated: use requests.memory and limits.memory.' })),
      },
      {
        additionalProperties: false,
        default: {},
        description:
          "Kubernetes' container resources. Locally: limits.memory (else requests.memory, else 512Mi) is the memory limit, limits.cpu a CPU ceiling, requests.cpu the CPU weight; 1024 processes.",
      },
    ),
    readinessPath: Type.Optional(
      Type.String({ pattern: '^/', maxLength: 1024, 'x-dormant-hint': 'an HTTP path starting with / such as /healthz' }),
    ),
    startTimeout: duration({ default: '60s', description: 'How long a new replica may take to become ready.' }),
    drainTimeout: duration({ default: '30s', description: 'How long a stopping replica may finish its requests.' }),
  },
  { additionalProperties: false, default: {} },
);
export type RunSpec = Static<typeof RunSpecSchema>;

type Quantities = { cpu?: string; memory?: string };

/** spec.run.resources as a container's requests and limits, the older flat cpu and memory folded in (cpu a request, memory both). Pure. */
export function containerResources(resources: RunSpec['resources'] | undefined): { requests?: Quantities; limits?: Quantities } {
  const requests: Quantities = { ...(resources?.cpu === undefined ? {} : { cpu: resources.cpu }), ...(resources?.memory === undefined ? {} : { memory: resources.memory }), ...resources?.requests };
  const limits: Quantities = { ...(resources?.memory === undefined ? {} : { memory: resources.memory }), ...resources?.limits };
  return { ...(Object.keys(requests).length > 0 ? { requests } : {}), ...(Object.keys(limits).length > 0 ? { limits } : {}) };
}

export const buildStrategies = ['auto', 'dockerfile', 'node', 'python', 'go', 'java', 'static'] as const;

export const AppSpecSchema = Type.Object(
  {
    git: Type.Object(
      {
        branch: Type.String({
          default: 'main',
          pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]*$',
          maxLength: 200,
          'x-dormant-hint': 'a branch name such as main',
        }),
        authorizedKeys: Type.Array(Type.String({ minLength: 1 }), {
          default: [],
          maxItems: 256,
          description: 'OpenSSH public keys that may push to this app only.',
        }),
        allowForcePush: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    build: Type.Object(
      {
        strategy: stringEnum(buildStrategies, { default: 'auto' }),
        context: Type.String({ default: '.', minLength: 1 }),
        dockerfile: Type.String({ default: 'Dockerfile', minLength: 1 }),
        args: stringMap({ default: {} }),
      },
      { additionalProperties: false, default: {} },
    ),
    run: RunSpecSchema,
    routes: Type.Object(
      {
        hosts: Type.Array(
          Type.String({
            pattern: dnsSubdomainPattern,
            maxLength: 253,
            'x-dormant-hint': 'a lower-case host name such as shop.example.com',
          }),
          { default: [], maxItems: 32 },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    autoscale: Type.Object(
      { policyRef: Type.Optional(objectName(40, { description: 'Name of an AutoscalePolicy in the same namespace.' })), ...AutoscaleOverridesFields.properties },
      { additionalProperties: false, default: {}, 'x-dormant-rules': policyRules },
    ),
    coldStart: Type.Optional(
      Type.Object(
        {
          waitingPage: Type.Optional(
            Type.Boolean({ description: 'A browser (a GET asking for text/html) that wakes the app gets a small page saying it is starting, which turns into the app once it answers; other clients are held as always. Off by default.' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          acme: Type.Optional(
            Type.Boolean({ description: 'Get and renew a certificate for each of its hosts from the ACME server of dormant up (--acme-directory; Let\'s Encrypt by default), by HTTP-01 (dormant certs auto:enable).' }),
          ),
          redirectHttp: Type.Optional(
            Type.Boolean({ description: 'Answer a plain HTTP request with a redirect (308) to HTTPS, for each host that has a certificate (dormant certs redirect APP on).' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    stopped: Type.Optional(
      Type.Boolean({ description: 'Stopped by dormant stop: no replica runs, and every request is answered 503 at once, saying so (dormant start undoes it).' }),
    ),
    hooks: Type.Object(
      {
        postDeploy: Type.Array(Type.String({ minLength: 1 }), {
          default: [],
          maxItems: 32,
          description: 'Shell commands run in the new release after it is ready and before the push returns.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type AppSpec = Static<typeof AppSpecSchema>;

export const AppStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer()),
    url: Type.Optional(Type.String()),
    latestRevision: Type.Optional(Type.String()),
    readyRevision: Type.Optional(Type.String()),
    desiredReplicas: Type.Optional(Type.Integer({ minimum: 0 })),
    readyReplicas: Type.Optional(Type.Integer({ minimum: 0 })),
    lastRequestTime: Type.Optional(timestamp()),
    conditions: Type.Optional(Type.Array(ConditionSchema, { maxItems: 16 })),
    latestRevisionSteps: Type.Optional(Type.Array(PipelineStepSchema, { maxItems: 64, description: 'The steps of the latest push, as on its Revision.' })),
  },
  { additionalProperties: false },
);
export type AppStatus = Static<typeof AppStatusSchema>;

export const AppSchema = Type.Object(
  {
    apiVersion: Type.Literal(apiVersion),
    kind: Type.Literal('App'),
    metadata: ObjectMetaSchema,
    spec: AppSpecSchema,
    status: Type.Optional(AppStatusSchema),
  },
  { additionalProperties: false, 'x-dormant-rules': [nameRule('App', 40)] },
);
export type App = Static<typeof AppSchema>;
