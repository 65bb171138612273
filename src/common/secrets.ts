// Secrets come from a value (usually an environment variable) or from a file (`*_FILE`); never logged.
import { readFileSync } from 'node:fs';
import { UsageError } from './errors';

/** Returns the secret: the file's content (trailing newline removed) if a file is named, else the value. */
export function readSecret(what: string, value: string | undefined, file: string | undefined): string | undefined {
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new UsageError(`${what}: cannot read secret file ${file} (${code}); expected a readable file holding the secret`);
    }
  }
  return value;
}
