// sandbox: where tenants' code runs: its own uid, PID, mount, IPC and UTS namespaces, Dormant's state and the host's homes hidden.
export { AppIds, allocateAppId, appIdRange, parseAppIds } from './app-ids.js';
export { sandboxErrors } from './errors.js';
export { type HostFacts, type HostSandbox, openHostSandbox, sandboxProblem } from './host-sandbox.js';
export { type SandboxSpec, sandboxCommand, sandboxFstab } from './sandbox-command.js';
