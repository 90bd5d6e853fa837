/**
 * Error catalogues. Each folder declares its errors once, as a table, and gets back
 * factories that build DormantError instances with a stable code, a message that says
 * what to do, the HTTP status and CLI exit code the error maps to, and structured data.
 */

export interface ErrorEntry<Data> {
  /** Stable, prefixed, SCREAMING_SNAKE code, e.g. STORE_CONFLICT. Never reuse or rename one. */
  readonly code: string;
  readonly httpStatus: number;
  readonly exitCode: number;
  readonly message: (data: Data) => string;
}

export class DormantError<Data = unknown> extends Error {
  override readonly name = 'DormantError';
  readonly code: string;
  readonly httpStatus: number;
  readonly exitCode: number;
  readonly data: Data;

  constructor(entry: ErrorEntry<Data>, data: Data, options?: { cause?: unknown }) {
    super(entry.message(data), options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = entry.code;
    this.httpStatus = entry.httpStatus;
    this.exitCode = entry.exitCode;
    this.data = data;
  }
}

type DataOf<E> = E extends ErrorEntry<infer D> ? D : never;
export type ErrorFactories<T> = {
  readonly [K in keyof T]: (data: DataOf<T[K]>, options?: { cause?: unknown }) => DormantError<DataOf<T[K]>>;
};

const registeredCodes = new Map<string, ErrorEntry<never>>();

export function defineErrors<const T extends Record<string, ErrorEntry<never>>>(table: T): ErrorFactories<T> {
  const factories: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(table)) {
    if (!/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(entry.code)) {
      throw new Error(`error code ${entry.code} is not PREFIX_SCREAMING_SNAKE`);
    }
    if (registeredCodes.has(entry.code)) throw new Error(`error code ${entry.code} is defined twice`);
    registeredCodes.set(entry.code, entry);
    factories[key] = (data: never, options?: { cause?: unknown }) => new DormantError(entry, data, options);
  }
  return factories as ErrorFactories<T>;
}

/** Every code defined so far (by the folders imported in this process). */
export function registeredErrorCodes(): readonly ErrorEntry<never>[] {
  return [...registeredCodes.values()];
}

export function isDormantError(error: unknown, code?: string): error is DormantError {
  return error instanceof DormantError && (code === undefined || error.code === code);
}
