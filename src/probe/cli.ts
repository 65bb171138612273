// Command-line interface of sidekick-probe (being built; see issue).
import type { Command } from 'commander';
import { newCommand } from '../common/cli';

export function probeCommand(name = 'sidekick-probe'): Command {
  return newCommand(name, 'sidekick-probe');
}
