#!/usr/bin/env node
// Entry point of sidekick-heal.
// First, so that every module after it can come from Node's compile cache.
import '../src/common/compile-cache';
import { runProgram } from '../src/common/cli';
import { healCommand } from '../src/heal/cli';

void runProgram(healCommand());
