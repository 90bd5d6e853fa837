// sandbox: where tenants' code (replicas, builds, hooks) runs: its own uid, PID, mount, IPC and UTS namespaces, cgroup limits, Dormant's state and the host's homes hidden.
export { AppIds, allocateAppId, appIdRange, appIdStart, parseAppIds } from './app-ids.js';
export { sandboxErrors } from './errors.js';
export { type HostFacts, type HostSandbox, openHostSandbox, sandboxProblem } from './host-sandbox.js';
export { type SandboxSpec, sandboxCommand, sandboxEnvArgs, sandboxEnvInput, sandboxEnvScript, sandboxFstab, sandboxRootEnv } from './sandbox-command.js';
export { type Confine, type ConfinedCommand, prepareTenantRun, type TenantRun, type TenantSandbox, tenantEnv, tenantHostVariables } from './tenant-run.js';
export { cgroupFiles, HostCgroups, ownCgroupFolders } from './host-cgroups.js';
export { buildLimits, type CgroupLimits, cpuMillis, cpuPeriodMicros, memoryBytes, type Resources, replicaDefaults, replicaLimits } from './limits.js';
