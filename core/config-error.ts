/** A setting that is missing or wrong, named in the message: the process does not start, and says
 * so in one line (no stack trace). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** What a process prints when its start fails: a configuration error as its message alone. */
export function startFailure(error: unknown): string | unknown {
  return error instanceof ConfigError ? `Configuration error: ${error.message}` : error;
}
