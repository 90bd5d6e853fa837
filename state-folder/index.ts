// state-folder: safe files in Dormant's state folder, shared by every process that opens it
// (`dormant up`, CLI commands): atomic writes, exclusive claims, a lock across processes,
// and process identities (pid and start time) that survive pid reuse.
export { tempMarker, writeFileAtomic } from './atomic-file.js';
export { createExclusive } from './claim-file.js';
export { stateFolderErrors } from './errors.js';
export { identityPid, isIdentityAlive, isRunning, processIdentity } from './process-identity.js';
export { StateLock } from './state-lock.js';
