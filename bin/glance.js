#!/usr/bin/env node
// The `glance` command. The sources are TypeScript; tsx compiles them on the fly so the CLI needs no build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../electron/cli/main.ts');
process.exitCode = await run(process.argv.slice(2));
