#!/usr/bin/env node
// Entry point of sidekick-ship.
import { runProgram } from '../src/common/cli';
import { shipCommand } from '../src/ship/cli';

void runProgram(shipCommand());
