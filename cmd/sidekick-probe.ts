#!/usr/bin/env node
// Entry point of sidekick-probe.
import { runProgram } from '../src/common/cli';
import { probeCommand } from '../src/probe/cli';

void runProgram(probeCommand());
