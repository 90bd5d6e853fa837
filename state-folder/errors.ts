import { defineErrors } from '../errors/index.js';

export const stateFolderErrors = defineErrors({
  // STORE_LOCKED, not a STATE_ code: the code users and scripts already know (codes never change).
  locked: {
    code: 'STORE_LOCKED',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { lockFile: string; pid: number; waitedMs: number }) =>
      `the state lock ${o.lockFile} has been held by process ${o.pid} for ${o.waitedMs} ms; wait for it to finish, or stop that process`,
  },
});
