#!/usr/bin/env node
// Entry point of sidekick-probe.
// First, so that every module after it can come from Node's compile cache.
import '../src/common/compile-cache';
import { runProgram } from '../src/common/cli';
import { probeCommand } from '../src/probe/cli';

void runProgram(probeCommand());
