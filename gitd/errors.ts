import { defineErrors } from '../errors/index.js';

export const gitdErrors = defineErrors({
  keyInvalid: {
    code: 'GITD_KEY_INVALID',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string; line: number; reason: string }) =>
      `${o.source} line ${o.line} is not an OpenSSH public key (${o.reason}); pass the .pub file, e.g. ~/.ssh/id_ed25519.pub, or create one with ssh-keygen -t ed25519`,
  },
  keyIsPrivate: {
    code: 'GITD_KEY_IS_PRIVATE',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string }) =>
      `${o.source} holds a private key; never share it. Pass the public half instead (the same path with .pub)`,
  },
  keyNone: {
    code: 'GITD_KEY_NONE',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string }) => `${o.source} holds no public key; pass a .pub file such as ~/.ssh/id_ed25519.pub`,
  },
  keyExists: {
    code: 'GITD_KEY_EXISTS',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { fingerprint: string }) => `key ${o.fingerprint} is already an admin key; nothing to do (dormant keys list shows them)`,
  },
  keyNotFound: {
    code: 'GITD_KEY_NOT_FOUND',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { fingerprint: string; known: readonly string[] }) =>
      `no admin key has fingerprint ${o.fingerprint}; ${o.known.length === 0 ? 'there are no admin keys' : `known: ${o.known.join(', ')}`}`,
  },
});
