import { defineErrors } from '../errors/index.js';

export const cliErrors = defineErrors({
  usage: {
    code: 'CLI_USAGE',
    httpStatus: 400,
    exitCode: 2,
    message: (o: { problem: string; usage: string }) => `${o.problem}\nusage: ${o.usage}`,
  },
  unknownCommand: {
    code: 'CLI_UNKNOWN_COMMAND',
    httpStatus: 404,
    exitCode: 2,
    message: (o: { command: string; guess: string | undefined }) =>
      `unknown command "${o.command}"${o.guess ? ` (did you mean ${o.guess}?)` : ''}; run dormant help to see every command`,
  },
  badPort: {
    code: 'CLI_BAD_PORT',
    httpStatus: 400,
    exitCode: 2,
    message: (o: { source: string; value: string }) => `${o.source} must be a port number from 0 to 65535, got "${o.value}"`,
  },
  io: {
    code: 'CLI_IO',
    httpStatus: 500,
    exitCode: 1,
    message: (o: { operation: string; path: string; reason: string }) =>
      `cannot ${o.operation} ${o.path}: ${o.reason}; check that the state folder (--state-dir or DORMANT_HOME) is a writable folder with free space`,
  },
  notRunning: {
    code: 'CLI_NOT_RUNNING',
    httpStatus: 503,
    exitCode: 1,
    message: (o: { stateDir: string; purpose: string }) =>
      `cannot ${o.purpose}: no dormant up is running on ${o.stateDir}; start it with dormant up (npm start) in another terminal, with the same --state-dir`,
  },
  alreadyRunning: {
    code: 'CLI_ALREADY_RUNNING',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { pid: number; stateDir: string }) =>
      `dormant up is already running on ${o.stateDir} (pid ${o.pid}); stop it first, or pass --state-dir for a separate one`,
  },
  readInput: {
    code: 'CLI_READ_INPUT',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string; reason: string }) => `cannot read ${o.source}: ${o.reason}; check the path`,
  },
  badInput: {
    code: 'CLI_BAD_INPUT',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string; reason: string }) => `${o.source} ${o.reason}; fix the file and run the command again`,
  },
  portInUse: {
    code: 'CLI_PORT_IN_USE',
    httpStatus: 409,
    exitCode: 1,
    message: (o: { port: number; flag: string; purpose: string }) =>
      `port ${o.port} (${o.purpose}) is already in use; stop what uses it, or pick another with ${o.flag}${o.flag === '--metrics-port' ? ' (0 turns metrics off)' : ''}`,
  },
  policyUnknownKey: {
    code: 'CLI_POLICY_UNKNOWN_KEY',
    httpStatus: 400,
    exitCode: 2,
    message: (o: { key: string; guess: string | undefined; known: readonly string[] }) =>
      `"${o.key}" is not a policy setting${o.guess ? ` (did you mean ${o.guess}?)` : ''}; settings: ${o.known.join(', ')}`,
  },
  policyInvalid: {
    code: 'CLI_POLICY_INVALID',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { app: string; problems: readonly string[] }) =>
      `the policy of ${o.app} would be invalid, nothing was changed:\n${o.problems.map((p) => `  - ${p}`).join('\n')}`,
  },
  policyNotFound: {
    code: 'CLI_POLICY_NOT_FOUND',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { given: string; guess: string | undefined }) =>
      `no AutoscalePolicy or App is called "${o.given}"${o.guess ? ` (did you mean ${o.guess}?)` : ''}; --policy takes defaults, a policy or app name, a manifest file, or key=value,... (e.g. target=50,scaleToZeroGracePeriod=5m)`,
  },
  noSuchHost: {
    code: 'CLI_NO_SUCH_HOST',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { app: string; host: string }) => `${o.host} is not one of ${o.app}'s hosts; dormant domains ${o.app} lists them`,
  },
  confirmMismatch: {
    code: 'CLI_CONFIRM_MISMATCH',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { app: string; typed: string }) => `${o.app} was not deleted: the confirmation was ${o.typed}, not its name; type ${o.app}, or pass --confirm ${o.app}`,
  },
  runRefused: {
    code: 'CLI_RUN_FAILED',
    httpStatus: 502,
    exitCode: 1,
    message: (o: { app: string; answer: string }) => `cannot run the command in ${o.app}: ${o.answer}`,
  },
  configReserved: {
    code: 'CLI_CONFIG_RESERVED',
    httpStatus: 400,
    exitCode: 2,
    message: (o: { key: string }) => `${o.key} is set by Dormant in every replica (PORT, DORMANT_*), not by config; choose another name`,
  },
  configNotSet: {
    code: 'CLI_CONFIG_NOT_SET',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { app: string; key: string }) => `${o.app} has no config var ${o.key}; dormant config ${o.app} lists them`,
  },
  adminUnauthorized: {
    code: 'CLI_ADMIN_UNAUTHORIZED',
    httpStatus: 401,
    exitCode: 1,
    message: (o: { tokenFile: string }) =>
      `the admin endpoints of dormant up's metrics port (all but /metrics, /healthz and /readyz) need its admin token: send "Authorization: Bearer TOKEN" with the token in ${o.tokenFile}, which each start of dormant up writes anew, readable by its user only (dormant trace sends it; refused, it is from another start or state folder)`,
  },
  adminBadPath: {
    code: 'CLI_ADMIN_BAD_PATH',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { path: string }) => `the path ${o.path} is not valid percent-encoding; encode the app name with encodeURIComponent, as in /trace/APP`,
  },
  policyRefMissing: {
    code: 'CLI_POLICY_REF_MISSING',
    httpStatus: 404,
    exitCode: 1,
    message: (o: { policy: string }) =>
      `AutoscalePolicy "${o.policy}" does not exist; create it with dormant apply -f FILE, or choose an existing one`,
  },
  inputTooLarge: {
    code: 'CLI_INPUT_TOO_LARGE',
    httpStatus: 413,
    exitCode: 1,
    message: (o: { source: string; limit: string }) =>
      `${o.source} is over the ${o.limit} limit of one manifest file, nothing was applied; split it into several files, or raise the limit with --max-file-mb (or DORMANT_MAX_FILE_MB)`,
  },
  yamlAliases: {
    code: 'CLI_YAML_ALIASES',
    httpStatus: 400,
    exitCode: 1,
    message: (o: { source: string; document: number; limit: number }) =>
      `${o.source} document ${o.document} expands its YAML aliases (*name) more than ${o.limit} times, which is how an alias bomb eats memory, nothing was applied; write the values out, or raise the limit with --max-yaml-aliases (or DORMANT_MAX_YAML_ALIASES)`,
  },
  applyRevision: {
    code: 'CLI_APPLY_REVISION',
    httpStatus: 422,
    exitCode: 1,
    message: (o: { source: string; document: number; name: string }) =>
      `${o.source} document ${o.document} is a Revision (${o.name}): Revisions are made by git push, never applied, nothing was applied; push the commit to deploy it, and apply only App and AutoscalePolicy objects`,
  },
});
