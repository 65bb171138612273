#!/usr/bin/env node
// Entry point of sidekick-heal.
import { runProgram } from '../src/common/cli';
import { healCommand } from '../src/heal/cli';

void runProgram(healCommand());
