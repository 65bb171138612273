#!/usr/bin/env node
// Entry point of sidekick-haproxy.
import { runProgram } from '../src/common/cli';
import { haproxyCommand } from '../src/haproxy/cli';

void runProgram(haproxyCommand());
