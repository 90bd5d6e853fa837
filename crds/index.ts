export { type App, type AppSpec, type AppStatus, AppSchema, containerResources, type RunSpec } from './app.js';
export { AutoscalePolicySpecSchema } from './autoscale-policy.js';
export {
  type AutoscaleOverrides,
  type AutoscalePolicy,
  type AutoscalePolicySpec,
  policyDefaults,
  policyFieldNames,
} from './autoscale-policy.js';
export { renderCrds } from './crd.js';
export { formatDuration, parseDuration } from './duration.js';
export { type DormantObject, hasImmutableSpec, isKindName, type KindName, kindNames, kinds, type ObjectOfKind } from './kinds.js';
export { apiVersion, type Condition, defaultNamespace, group, type ObjectMeta, version } from './meta.js';
export { apiTimestamp, setCondition } from './conditions.js';
export { localImageOf, type PipelineStep, type Revision, type RevisionSpec, type RevisionStatus, revisionPhases } from './revision.js';
export { closest, formatProblem, type Problem, type ValidationResult, validate, validateAs } from './validate.js';
export { type EffectivePolicy, namespaceDefaultPolicy, namespaceDefaultSource, type PolicyFieldName, resolvePolicy } from './effective-policy.js';
export { appClaims, appHost, claimOrder, type HostHolder, type HostRefusal, normalizeHost, refusedHost, reservedHost } from './app-hosts.js';
