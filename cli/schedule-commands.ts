/** `taskgrid schedules`: the cron schedules from a shell (list, or delete one), through the SDK. */

import type { Command } from 'commander';
import type { Schedule } from '../client/task-grid.js';
import { addConnectionFlags, type ClientFlags, grid } from './connection-flags.js';

const when = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());

function line(s: Schedule): string {
  const zone = s.timezone ? ` (${s.timezone})` : '';
  return `${s.scheduleId}  ${s.cron}${zone}  fn ${s.functionId.slice(0, 8)}  args ${s.payload}  next ${when(s.nextRunAt)}  last ${when(s.lastRunAt)}  task ${s.lastTaskId ?? '-'}`;
}

export function addScheduleCommands(program: Command): void {
  addConnectionFlags(
    program
      .command('schedules')
      .description('list the cron schedules, the next to fire first (or delete one)'),
  )
    .option('--delete <schedule_id>', 'delete this schedule instead of listing')
    .action(async (flags: ClientFlags & { delete?: string }) => {
      const client = await grid(flags);
      try {
        if (flags.delete !== undefined) {
          await client.unschedule(flags.delete);
          process.stdout.write(`deleted schedule ${flags.delete}\n`);
          return;
        }
        const all = await client.schedules();
        process.stdout.write(`${[`${all.length} schedule(s)`, ...all.map(line)].join('\n')}\n`);
      } finally {
        client.close();
      }
    });
}
