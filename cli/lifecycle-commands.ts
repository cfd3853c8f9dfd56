/**
 * `taskgrid tasks`, `task`, `retry`, `functions` and `delete-function`: the
 * task lifecycle from a shell, through the SDK. `tasks --status FAILED` is
 * the dead-letter view; `retry` runs one of them again. Each prints a table
 * or a block of text, or with `--json` the SDK's records as JSON.
 */

import type { Command } from 'commander';
import { taskFilter } from '../client/task-filter.js';
import type { TaskDetails, TaskGrid, TaskInfo } from '../client/task-grid.js';
import { TASK_PAGE_LIMIT } from '../shared/task-info.js';
import { addConnectionFlags, type ClientFlags, grid as clientGrid } from './connection-flags.js';
import {
  addOptionFlags,
  type FlagValues,
  flagOptions,
  givenText,
  inFlagTerms,
  type OptionFlag,
} from './option-flags.js';
import { formatTable, formatTime, oneLine } from './table.js';

const LIST_FLAGS: readonly OptionFlag[] = [
  {
    flag: '--status <status>',
    option: 'status',
    help: 'only tasks with this status (QUEUED, WAITING, RUNNING, COMPLETED, FAILED, CANCELLED); FAILED is the dead-letter view',
    text: true,
  },
  { flag: '--function <id>', option: 'functionId', help: "only this function's tasks", text: true },
  {
    flag: '--limit <n>',
    option: 'limit',
    help: `tasks per page, 1…${TASK_PAGE_LIMIT.max} (default ${TASK_PAGE_LIMIT.default})`,
  },
  {
    flag: '--cursor <cursor>',
    option: 'cursor',
    help: 'the page after the one that printed this cursor',
    text: true,
  },
];

/** Error text cut for a table cell. */
const ERROR_WIDTH = 60;
/** Task records read at once to find the error of FAILED tasks the list gives none for. */
const DETAIL_READS = 16;

type OutputFlags = ClientFlags & FlagValues & { json?: boolean };

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** Adds --url, --token, --ca, --insecure and --json, which every command here takes. */
function withClientFlags(command: Command): Command {
  return addConnectionFlags(command).option('--json', 'print JSON instead of text');
}

/** Runs `use` with a client, closing it after. */
async function withGrid<T>(flags: ClientFlags, use: (grid: TaskGrid) => Promise<T>): Promise<T> {
  const grid = await clientGrid(flags);
  try {
    return await use(grid);
  } finally {
    grid.close();
  }
}

/**
 * The error to show for each task: its last failed run's. A FAILED task whose
 * list entry names none (its only run's error is in its result) is read whole.
 */
async function errorTexts(
  grid: TaskGrid,
  tasks: readonly TaskInfo[],
): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  const toRead: string[] = [];
  for (const task of tasks) {
    const last = task.errors.at(-1);
    if (last) texts.set(task.id, `${last.name}: ${last.message}`);
    else if (task.status === 'FAILED') toRead.push(task.id);
  }
  for (let i = 0; i < toRead.length; i += DETAIL_READS) {
    const chunk = toRead.slice(i, i + DETAIL_READS);
    const details = await Promise.all(chunk.map((id) => grid.task(id).info()));
    for (const task of details) {
      if (task.error) texts.set(task.id, `${task.error.name}: ${task.error.message}`);
    }
  }
  return texts;
}

function taskTable(tasks: readonly TaskInfo[], errors: ReadonlyMap<string, string>): string {
  return formatTable(
    ['TASK', 'FUNCTION', 'STATUS', 'PRIORITY', 'ATTEMPTS', 'CREATED (UTC)', 'ERROR'],
    tasks.map((task) => [
      task.id,
      task.functionId.slice(0, 8),
      task.status,
      String(task.priority),
      String(task.attempts),
      formatTime(task.createdAt),
      oneLine(errors.get(task.id) ?? '', ERROR_WIDTH),
    ]),
  );
}

/** `taskgrid task <id>`: one field a line. */
function taskBlock(task: TaskDetails): string {
  const rows: [string, string][] = [
    ['task', task.id],
    ['function', task.functionId],
    ['status', task.status],
    ['priority', String(task.priority)],
    ['attempts', String(task.attempts)],
    ['created', formatTime(task.createdAt)],
  ];
  if (task.runAt !== undefined) rows.push(['runs at', formatTime(task.runAt)]);
  if (task.deadlineAt !== undefined) rows.push(['deadline', formatTime(task.deadlineAt)]);
  if (task.startedAt !== undefined) rows.push(['started', formatTime(task.startedAt)]);
  if (task.finishedAt !== undefined) rows.push(['finished', formatTime(task.finishedAt)]);
  if (task.dependsOn?.length) rows.push(['depends on', task.dependsOn.join(', ')]);
  if (task.labels?.length) rows.push(['labels', task.labels.join(', ')]);
  if (task.waitingFor !== undefined) rows.push(['waiting for', task.waitingFor]);
  if (task.progress) {
    const { value, note } = task.progress;
    rows.push(['progress', `${Math.round(value * 100)}%${note ? ` ${note}` : ''}`]);
  }
  for (const e of task.errors) rows.push([`run ${e.attempt} error`, `${e.name}: ${e.message}`]);
  if ('result' in task) rows.push(['result', JSON.stringify(task.result)]);
  if (task.error) rows.push(['error', `${task.error.name}: ${task.error.message}`]);
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
  if (task.error?.stack) lines.push(task.error.stack);
  return lines.join('\n');
}

export function addLifecycleCommands(program: Command): void {
  const tasks = withClientFlags(
    program
      .command('tasks')
      .description('list tasks, newest first (--status FAILED: dead letters)'),
  ).option('--all', 'every page, not only the first');
  addOptionFlags(tasks, LIST_FLAGS, () => undefined);
  tasks.action(async (flags: OutputFlags & { all?: boolean }) => {
    const given = givenText(LIST_FLAGS, flags);
    const options = flagOptions(given);
    if (typeof options.status === 'string') options.status = options.status.toUpperCase();
    const filter = inFlagTerms(LIST_FLAGS, given, () => taskFilter(options));
    await withGrid(flags, async (grid) => {
      let list: TaskInfo[] = [];
      let nextCursor: string | undefined;
      if (flags.all) {
        const { cursor: _from, ...rest } = filter;
        for await (const task of grid.allTasks(rest)) list.push(task);
      } else {
        const page = await grid.tasks(filter);
        list = page.tasks;
        nextCursor = page.nextCursor;
      }
      if (flags.json) {
        printJson(nextCursor === undefined ? { tasks: list } : { tasks: list, nextCursor });
        return;
      }
      print(list.length === 0 ? 'no tasks' : taskTable(list, await errorTexts(grid, list)));
      if (nextCursor !== undefined) print(`more: taskgrid tasks --cursor ${nextCursor}`);
    });
  });

  withClientFlags(
    program.command('task').description("print one task's record").argument('<task-id>'),
  ).action(async (id: string, flags: OutputFlags) => {
    await withGrid(flags, async (grid) => {
      const task = await grid.task(id).info();
      if (flags.json) printJson(task);
      else print(taskBlock(task));
    });
  });

  withClientFlags(
    program
      .command('retry')
      .description('run a FAILED or CANCELLED task again, under the same id')
      .argument('<task-id>'),
  ).action(async (id: string, flags: OutputFlags) => {
    await withGrid(flags, async (grid) => {
      const status = await grid.retry(id);
      if (flags.json) printJson({ id, status });
      else print(`${id} ${status}`);
    });
  });

  withClientFlags(program.command('functions').description('list the registered functions')).action(
    async (flags: OutputFlags) => {
      await withGrid(flags, async (grid) => {
        const functions = await grid.functions();
        if (flags.json) {
          printJson(functions);
          return;
        }
        if (functions.length === 0) {
          print('no functions');
          return;
        }
        const rows = functions.map((fn) => [
          fn.id,
          fn.name,
          formatTime(fn.createdAt),
          fn.timeoutMs === undefined ? '-' : `${fn.timeoutMs} ms`,
          fn.retry === undefined
            ? '-'
            : `${fn.retry.maxAttempts}x ${fn.retry.backoff} ${fn.retry.delayMs} ms`,
        ]);
        print(formatTable(['FUNCTION', 'NAME', 'CREATED (UTC)', 'TIMEOUT', 'RETRY'], rows));
      });
    },
  );

  withClientFlags(
    program
      .command('delete-function')
      .description('delete a function; its QUEUED and WAITING tasks are cancelled')
      .argument('<function-id>'),
  ).action(async (id: string, flags: OutputFlags) => {
    await withGrid(flags, async (grid) => {
      const deleted = await grid.deleteFunction(id);
      if (flags.json) printJson(deleted);
      else print(`deleted ${deleted.id}; ${deleted.cancelled} task(s) cancelled`);
    });
  });
}
