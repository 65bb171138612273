// Errors that map to exit statuses: usage and configuration mistakes exit 2, everything else 1.

/** Bad usage or configuration: the message names what is wrong and what was expected. Exit status 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A configuration value that fails validation; `where` names the file, variable or flag. */
export class ConfigError extends UsageError {
  constructor(
    readonly where: string,
    readonly issues: string[],
  ) {
    super(`${where}: ${issues.length === 1 ? issues[0] : '\n  ' + issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
