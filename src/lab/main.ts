#!/usr/bin/env node
// Standalone entry of the lab (`node dist/lab/main.js up ...`), also what `lab up` starts detached as
// the supervisor. `kube-router lab ...` is the same command mounted under the agent's CLI.
import { labCommand } from './command.js';

await labCommand().name('kube-router-lab').parseAsync(process.argv);
