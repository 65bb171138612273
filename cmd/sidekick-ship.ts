#!/usr/bin/env node
// Entry point of sidekick-ship.
// First, so that every module after it can come from Node's compile cache.
import '../src/common/compile-cache';
// Next, so that V8's young generation does not grow while modules load (the ship command sizes it).
import '../src/ship/hold-young-generation';
import { runProgram } from '../src/common/cli';
import { shipCommand } from '../src/ship/cli';

void runProgram(shipCommand());
