import { defineErrors } from '../errors/index.js';

export const sandboxErrors = defineErrors({
  noFreeAppId: {
    code: 'SANDBOX_NO_FREE_APP_ID',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { count: number }) => `all ${o.count} app uids are taken; delete apps you no longer need (dormant apps delete) and their ids are reused`,
  },
  unavailable: {
    code: 'SANDBOX_UNAVAILABLE',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { reason: string }) =>
      `apps cannot be sandboxed on this machine: ${o.reason}. Tenants' code would run with Dormant's rights; run dormant up as root on Linux with util-linux (setpriv, unshare, mount) and overlayfs, or, on a machine only you push to, start it with --insecure-no-sandbox`,
  },
});
