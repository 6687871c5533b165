#!/usr/bin/env node
// `npx stripe-emulator [--port N …]`: runs the TypeScript sources as they are, compiled in memory by SWC, so the
// package needs no build step and the command always runs the code the tests ran.
const path = require('node:path');

process.env.SWC_NODE_PROJECT ??= path.join(__dirname, '..', 'tsconfig.json');
require('@swc-node/register');
require('../src/cli.ts').runCli();
