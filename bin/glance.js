#!/usr/bin/env node
// The `glance` command. The sources are TypeScript; tsx compiles them on the fly so the CLI needs no build step.
import { register } from 'tsx/esm/api';

register();
// Before anything else loads: from here on only Glance's own output reaches stdout (see stdout-guard.ts), even
// what a library prints while it is being imported.
const { guardStdout } = await import('../electron/cli/stdout-guard.ts');
guardStdout();
const { run } = await import('../electron/cli/main.ts');
process.exitCode = await run(process.argv.slice(2));
