// Commander conventions shared by every program: exit 2 on usage errors, --version, --log-level, examples in help.
import { Command, CommanderError, Option } from 'commander';
import { UsageError, errorMessage } from './errors';
import { VERSION } from './version';

// Kept here rather than imported from ./log so a one-shot command does not load pino just to print --help.
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** A command with the shared conventions; `examples` are appended to --help. */
export function newCommand(name: string, description: string, examples: string[] = []): Command {
  const cmd = new Command(name).description(description).exitOverride().showHelpAfterError('(add --help for usage)');
  cmd.configureHelp({ sortOptions: false });
  if (examples.length > 0) cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  return cmd;
}

/** Adds the options every long-running or logging command takes. */
export function withLogOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info').env('SIDEKICK_LOG_LEVEL'))
    .addOption(new Option('--log-format <format>', 'log format (auto: text on a terminal, JSON otherwise)').choices(['auto', 'json', 'text']).default('auto'));
}

/** Applies exitOverride to every subcommand so usage errors exit 2 everywhere. */
function overrideAll(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) overrideAll(sub);
}

/**
 * Runs a program: parses argv, awaits the action, maps errors to exit statuses
 * (0 help/version, 2 usage or configuration, 1 anything else). An action may return its exit status.
 */
export async function runProgram(cmd: Command, argv: string[] = process.argv): Promise<void> {
  overrideAll(cmd);
  // `sidekick ... | head` closes the pipe early: stop quietly, as a C program would on SIGPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit();
    throw err;
  });
  cmd.version(VERSION, '-V, --version', 'print the version');
  const name = cmd.name();
  try {
    await cmd.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${name}: error: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  }
}

/** Sets the exit status an action returned (actions that return nothing leave it alone). */
export function exitWith(code: number | void): void {
  if (typeof code === 'number') process.exitCode = code;
}

/** Commander argument parser that turns a parse failure into a usage error naming the flag. */
export function parseWith<T>(flag: string, parse: (text: string) => T | undefined, expected: string): (text: string) => T {
  return (text: string) => {
    const value = parse(text);
    if (value === undefined) throw new UsageError(`flag ${flag}: ${JSON.stringify(text)} is not valid; expected ${expected}`);
    return value;
  };
}
