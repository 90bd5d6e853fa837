export { DormantError, defineErrors, isDormantError, registeredErrorCodes } from './define-errors.js';
export type { ErrorEntry, ErrorFactories } from './define-errors.js';
export { answerThrown, type ErrorLog, guardErrors, guardRequests } from './guard-requests.js';
