// A stand-in for Dormant: starts one bound child (argv: scope, then the command), prints its
// pid, and lives until killed.
import { spawn } from 'node:child_process';
import { bindToDormant, type LifetimeScope } from '../index.js';

const [scope = 'tree', ...command] = process.argv.slice(2);
const [program = '', ...args] = bindToDormant(command, scope as LifetimeScope);
const child = spawn(program, args, { detached: true, stdio: 'ignore' });
process.stdout.write(`${child.pid}\n`);
setInterval(() => {}, 60_000);
