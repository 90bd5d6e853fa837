import { defineErrors } from '../errors/index.js';

export const sandboxErrors = defineErrors({
  noFreeAppId: {
    code: 'SANDBOX_NO_FREE_APP_ID',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { count: number; file: string }) =>
      `all ${o.count} app uids are taken: an app keeps its uid after it is deleted; remove the deleted apps' entries from ${o.file} while dormant up is stopped`,
  },
  badAppIds: {
    code: 'SANDBOX_BAD_APP_IDS',
    httpStatus: 500,
    exitCode: 1,
    message: (o: { file: string }) => `${o.file} is not a JSON object of app names to positive whole uids; fix it by hand (each app must keep its uid) and start again`,
  },
  unavailable: {
    code: 'SANDBOX_UNAVAILABLE',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { reason: string }) =>
      `apps cannot be sandboxed on this machine: ${o.reason}. Tenants' code would run with Dormant's rights; run dormant up as root on Linux with util-linux (setpriv, unshare, mount) and overlayfs, or, on a machine only you push to, start it with --insecure-no-sandbox`,
  },
});
