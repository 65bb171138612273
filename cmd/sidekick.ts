#!/usr/bin/env node
// Entry point of sidekick: the programs as subcommands (sidekick ship|probe|haproxy|heal).
// First, so that every module after it can come from Node's compile cache.
import '../src/common/compile-cache';
// Next, so that V8's young generation does not grow while modules load (the ship command sizes it).
import '../src/ship/hold-young-generation';
import { runProgram, newCommand } from '../src/common/cli';
import { haproxyCommand } from '../src/haproxy/cli';
import { healCommand } from '../src/heal/cli';
import { probeCommand } from '../src/probe/cli';
import { shipCommand } from '../src/ship/cli';

const program = newCommand('sidekick', 'Sidekick programs for containerised microservices: logs, health, load-balancer state, acting on health.', [
  'sidekick ship --es http://127.0.0.1:9200 "/var/log/app/*.log"',
  'sidekick probe tcp db:5432',
  'sidekick haproxy show --socket /run/haproxy/admin.sock',
  'sidekick heal --dry-run',
])
  .addCommand(shipCommand('ship'))
  .addCommand(probeCommand('probe'))
  .addCommand(haproxyCommand('haproxy'))
  .addCommand(healCommand('heal'));

void runProgram(program);
