// Command-line interface of sidekick-haproxy (being built; see issue).
import type { Command } from 'commander';
import { newCommand } from '../common/cli';

export function haproxyCommand(name = 'sidekick-haproxy'): Command {
  return newCommand(name, 'sidekick-haproxy');
}
