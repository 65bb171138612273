// Command-line interface of sidekick-ship (being built; see issue).
import type { Command } from 'commander';
import { newCommand } from '../common/cli';

export function shipCommand(name = 'sidekick-ship'): Command {
  return newCommand(name, 'sidekick-ship');
}
