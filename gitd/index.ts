// gitd: git push over SSH. So far: the admin keys it will authenticate pushes with.
export { AdminKeys } from './admin-keys.js';
export { gitdErrors } from './errors.js';
export { fingerprintOf, type PublicKey, parsePublicKeyLine } from './public-key.js';
