#!/usr/bin/env node
/** The `taskgrid` command. */

import { Command, CommanderError } from 'commander';
import { TaskgridError } from '../shared/errors.js';
import { VERSION } from '../shared/version.js';
import { addClientCommands } from './client-commands.js';
import { addLifecycleCommands } from './lifecycle-commands.js';
import { addScheduleCommands } from './schedule-commands.js';
import { addServerCommand } from './server-command.js';
import { addWorkerCommand } from './worker-command.js';

const program = new Command('taskgrid')
  .description('A WebSocket-driven task grid: function-as-a-service for Node')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)');
addServerCommand(program);
addWorkerCommand(program);
addClientCommands(program);
addScheduleCommands(program);
addLifecycleCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const message =
    error instanceof TaskgridError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`taskgrid: error: ${message}\n`);
  process.exit(2);
});
