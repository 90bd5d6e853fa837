export { DormantError, defineErrors, isDormantError, registeredErrorCodes } from './define-errors.js';
export type { ErrorEntry, ErrorFactories } from './define-errors.js';
