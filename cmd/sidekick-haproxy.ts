#!/usr/bin/env node
// Entry point of sidekick-haproxy.
// First, so that every module after it can come from Node's compile cache.
import '../src/common/compile-cache';
import { runProgram } from '../src/common/cli';
import { haproxyCommand } from '../src/haproxy/cli';

void runProgram(haproxyCommand());
