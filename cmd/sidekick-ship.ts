#!/usr/bin/env node
// Entry point of sidekick-ship.
// First, so that every module after it can come from Node's compile cache.
import '../src/common/compile-cache';
import { runProgram } from '../src/common/cli';
import { shipCommand } from '../src/ship/cli';

void runProgram(shipCommand());
