// gitd: git push over SSH: the server, receive-pack, and the push pipeline it runs.
export { AdminKeys } from './admin-keys.js';
export { gitdErrors } from './errors.js';
export { GitServer, type GitServerOptions } from './git-server.js';
export { defaultLoginLimits, type MaxStartups, parseMaxStartups } from './login-limits.js';
export { fingerprintOf, type PublicKey, parsePublicKeyLine } from './public-key.js';
export { type Deployed, type OneOff, PushPipeline, type PushPipelineOptions, PushRejected } from './push-pipeline.js';
export { removeAppFiles } from './repository.js';
export { buildLogFile } from './build-log.js';
export { configChange, planRelease, platformEnvOf, type ReleaseAsk, releaseNumber, revisionNamed, userConfig } from './release-plan.js';
