#!/usr/bin/env node
// Entry point of sidekick: the three programs as subcommands (sidekick ship|probe|haproxy).
import { runProgram, newCommand } from '../src/common/cli';
import { haproxyCommand } from '../src/haproxy/cli';
import { probeCommand } from '../src/probe/cli';
import { shipCommand } from '../src/ship/cli';

const program = newCommand('sidekick', 'Sidekick programs for containerised microservices: logs, health, load-balancer state.', [
  'sidekick ship --es http://127.0.0.1:9200 "/var/log/app/*.log"',
  'sidekick probe tcp db:5432',
  'sidekick haproxy show --socket /run/haproxy/admin.sock',
])
  .addCommand(shipCommand('ship'))
  .addCommand(probeCommand('probe'))
  .addCommand(haproxyCommand('haproxy'));

void runProgram(program);
